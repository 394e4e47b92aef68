#include "edge/admission_control.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

using Verdict = AdmissionControl::Verdict;
using namespace std::chrono_literals;

ConnectionLimits limits(unsigned total, unsigned per_ip, unsigned rate) {
    ConnectionLimits result;
    result.max_connections = total;
    result.max_connections_per_ip = per_ip;
    result.new_connections_per_ip_per_second = rate;
    return result;
}

TEST(AdmissionControl, CapsConnectionsPerClientAndReleasesThem) {
    AdmissionControl control(limits(100, 2, 100));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::TooManyFromClient);
    EXPECT_EQ(control.admit("192.0.2.2", now), Verdict::Admit);  // another client is not affected
    control.release("192.0.2.1");
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(control.open(), 3u);
}

TEST(AdmissionControl, CapsTheTotal) {
    AdmissionControl control(limits(2, 10, 100));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(control.admit("192.0.2.2", now), Verdict::Admit);
    EXPECT_EQ(control.admit("192.0.2.3", now), Verdict::TooManyTotal);
    control.release("192.0.2.2");
    EXPECT_EQ(control.admit("192.0.2.3", now), Verdict::Admit);
}

// When full, the loop evicts an idle connection on TooManyTotal; a client refused anyway for its
// own limits must not cause that, so those are judged first.
TEST(AdmissionControl, AClientOverItsOwnLimitsIsToldSoEvenWhenFull) {
    AdmissionControl control(limits(2, 1, 100));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(control.admit("192.0.2.2", now), Verdict::Admit);
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::TooManyFromClient);
    EXPECT_EQ(control.admit("192.0.2.3", now), Verdict::TooManyTotal);
    AdmissionControl slow(limits(1, 10, 1));
    EXPECT_EQ(slow.admit("192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(slow.admit("192.0.2.1", now), Verdict::TooFast);
}

TEST(AdmissionControl, LimitsTheRatePerClientWithATokenBucket) {
    AdmissionControl control(limits(1000, 1000, 5));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(control.admit("198.51.100.7", start), Verdict::Admit);
    EXPECT_EQ(control.admit("198.51.100.7", start), Verdict::TooFast);
    EXPECT_EQ(control.admit("198.51.100.8", start), Verdict::Admit);            // its own bucket
    EXPECT_EQ(control.admit("198.51.100.7", start + 100ms), Verdict::TooFast);  // half a token
    EXPECT_EQ(control.admit("198.51.100.7", start + 200ms), Verdict::Admit);    // one token
    EXPECT_EQ(control.admit("198.51.100.7", start + 2s), Verdict::Admit);
}

TEST(AdmissionControl, NewLimitsApplyToNewConnections) {
    AdmissionControl control(limits(100, 1, 100));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::TooManyFromClient);
    control.set_limits(limits(100, 3, 100));
    EXPECT_EQ(control.admit("192.0.2.1", now), Verdict::Admit);
}

TEST(AdmissionControl, ReleasingAnUnknownClientChangesNothing) {
    AdmissionControl control(limits(10, 10, 10));
    control.release("203.0.113.9");
    EXPECT_EQ(control.open(), 0u);
}

}  // namespace
}  // namespace oidcgw
