// When the ACME certificate is renewed and how failed orders back off
// (src/acme/acme_manager.cc): never a tight loop against the CA.
#include "acme/acme_manager.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::time_t kIssued = 1'800'000'000;
constexpr std::time_t kNinetyDays = 90L * 24 * 3600;

TEST(AcmeSchedule, RenewsAtAThirdOfTheLifetimeLeftByDefault) {
    bool too_soon = true;
    EXPECT_EQ(AcmeManager::renewal_time(kIssued, kIssued + kNinetyDays, std::nullopt, &too_soon),
              kIssued + kNinetyDays - kNinetyDays / 3);
    EXPECT_FALSE(too_soon);
}

TEST(AcmeSchedule, RenewBeforeCountsBackFromNotAfter) {
    bool too_soon = true;
    EXPECT_EQ(
        AcmeManager::renewal_time(kIssued, kIssued + kNinetyDays, seconds(720 * 3600), &too_soon),
        kIssued + kNinetyDays - 720 * 3600);
    EXPECT_FALSE(too_soon);
}

TEST(AcmeSchedule, ARenewBeforeLongerThanTheLifetimeWaitsHalfOfIt) {
    bool too_soon = false;
    // A 10-minute certificate with renew_before 1h: renewed after 5 minutes, not in a loop.
    EXPECT_EQ(AcmeManager::renewal_time(kIssued, kIssued + 600, seconds(3600), &too_soon),
              kIssued + 300);
    EXPECT_TRUE(too_soon);
}

TEST(AcmeSchedule, FailuresBackOffExponentiallyWithJitterAndHonourRetryAfter) {
    // The e2e tests shorten the first step through a hook; unit tests run without it.
    ASSERT_EQ(std::getenv("OIDCGW_TEST_ACME_FIRST_RETRY_MS"), nullptr);
    EXPECT_EQ(AcmeManager::retry_delay(1, 1.0, seconds(0)), milliseconds(60'000));
    EXPECT_EQ(AcmeManager::retry_delay(1, 0.0, seconds(0)), milliseconds(45'000));
    EXPECT_EQ(AcmeManager::retry_delay(2, 1.0, seconds(0)), milliseconds(120'000));
    EXPECT_EQ(AcmeManager::retry_delay(4, 1.0, seconds(0)), milliseconds(480'000));
    EXPECT_EQ(AcmeManager::retry_delay(40, 1.0, seconds(0)), milliseconds(6 * 3600'000));
    EXPECT_EQ(AcmeManager::retry_delay(1, 1.0, seconds(3600)), milliseconds(3600'000));
    for (int failures = 1; failures < 20; ++failures) {
        EXPECT_GE(AcmeManager::retry_delay(failures, 0.0, seconds(0)), milliseconds(45'000));
    }
}

}  // namespace
}  // namespace oidcgw
