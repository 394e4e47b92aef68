#include "edge/admission_control.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

using Verdict = AdmissionControl::Verdict;
using namespace std::chrono_literals;

IpAddress ip(std::string_view text) {
    return IpAddress::parse(text).value();
}

Verdict admit(AdmissionControl& control, std::string_view client,
              std::chrono::steady_clock::time_point now) {
    IpAddress counted_as;
    return control.admit(ip(client), now, &counted_as);
}

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
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::TooManyFromClient);
    EXPECT_EQ(admit(control, "192.0.2.2", now), Verdict::Admit);  // another client is not affected
    control.release(ip("192.0.2.1"));
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(control.open(), 3u);
}

TEST(AdmissionControl, CapsTheTotal) {
    AdmissionControl control(limits(2, 10, 100));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.2", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.3", now), Verdict::TooManyTotal);
    control.release(ip("192.0.2.2"));
    EXPECT_EQ(admit(control, "192.0.2.3", now), Verdict::Admit);
}

// When full, the loop evicts an idle connection on TooManyTotal; a client refused anyway for its
// own limits must not cause that, so those are judged first.
TEST(AdmissionControl, AClientOverItsOwnLimitsIsToldSoEvenWhenFull) {
    AdmissionControl control(limits(2, 1, 100));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.2", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::TooManyFromClient);
    EXPECT_EQ(admit(control, "192.0.2.3", now), Verdict::TooManyTotal);
    AdmissionControl slow(limits(1, 10, 1));
    EXPECT_EQ(admit(slow, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(admit(slow, "192.0.2.1", now), Verdict::TooFast);
}

TEST(AdmissionControl, LimitsTheRatePerClientWithATokenBucket) {
    AdmissionControl control(limits(1000, 1000, 5));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(admit(control, "198.51.100.7", start), Verdict::Admit);
    EXPECT_EQ(admit(control, "198.51.100.7", start), Verdict::TooFast);
    EXPECT_EQ(admit(control, "198.51.100.8", start), Verdict::Admit);            // its own bucket
    EXPECT_EQ(admit(control, "198.51.100.7", start + 100ms), Verdict::TooFast);  // half a token
    EXPECT_EQ(admit(control, "198.51.100.7", start + 200ms), Verdict::Admit);    // one token
    EXPECT_EQ(admit(control, "198.51.100.7", start + 2s), Verdict::Admit);
}

TEST(AdmissionControl, NewLimitsApplyToNewConnections) {
    AdmissionControl control(limits(100, 1, 100));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::TooManyFromClient);
    control.set_limits(limits(100, 3, 100));
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
}

TEST(AdmissionControl, ReleasingAnUnknownClientChangesNothing) {
    AdmissionControl control(limits(10, 10, 10));
    control.release(ip("203.0.113.9"));
    EXPECT_EQ(control.open(), 0u);
}

// One IPv6 host owns a whole /64: its addresses share one count and one bucket, so a client
// cannot escape the per-address limits by walking its own prefix. IPv4 is counted per address.
TEST(AdmissionControl, CountsIpv6ClientsPerPrefix) {
    AdmissionControl control(limits(100, 2, 100));
    const auto now = std::chrono::steady_clock::now();
    IpAddress first_key;
    EXPECT_EQ(control.admit(ip("2001:db8:1:2::1"), now, &first_key), Verdict::Admit);
    EXPECT_EQ(first_key, ip("2001:db8:1:2::"));
    EXPECT_EQ(admit(control, "2001:db8:1:2:ffff:ffff:ffff:ffff", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "2001:db8:1:2:abcd::9", now), Verdict::TooManyFromClient);
    EXPECT_EQ(admit(control, "2001:db8:1:3::1", now), Verdict::Admit);  // the next /64
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_EQ(admit(control, "192.0.2.2", now), Verdict::Admit);  // IPv4: per address
    control.release(first_key);
    EXPECT_EQ(admit(control, "2001:db8:1:2::77", now), Verdict::Admit);
    EXPECT_EQ(control.tracked_clients(), 4u);
}

TEST(AdmissionControl, TheIpv6PrefixLengthIsConfigurable) {
    ConnectionLimits per_48 = limits(100, 1, 100);
    per_48.ipv6_prefix_length = 48;
    AdmissionControl wide(per_48);
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(admit(wide, "2001:db8:1:2::1", now), Verdict::Admit);
    EXPECT_EQ(admit(wide, "2001:db8:1:9::1", now), Verdict::TooManyFromClient);  // same /48

    ConnectionLimits per_128 = limits(100, 1, 100);
    per_128.ipv6_prefix_length = 128;
    AdmissionControl exact(per_128);
    EXPECT_EQ(admit(exact, "2001:db8::1", now), Verdict::Admit);
    EXPECT_EQ(admit(exact, "2001:db8::2", now), Verdict::Admit);
    EXPECT_EQ(admit(exact, "2001:db8::1", now), Verdict::TooManyFromClient);
}

// Behind a balancer the client is named only by the PROXY header: until then the connection
// counts against the global cap, so a trusted source sending nothing cannot take every place.
TEST(AdmissionControl, UnnamedConnectionsCountAgainstTheTotalOnly) {
    AdmissionControl control(limits(3, 1, 1));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_TRUE(control.admit_unnamed());
    EXPECT_TRUE(control.admit_unnamed());  // no per-address cap or rate for them
    EXPECT_EQ(admit(control, "192.0.2.1", now), Verdict::Admit);
    EXPECT_FALSE(control.admit_unnamed());
    EXPECT_EQ(admit(control, "192.0.2.2", now), Verdict::TooManyTotal);
    control.release_unnamed();
    EXPECT_EQ(admit(control, "192.0.2.2", now), Verdict::Admit);
    EXPECT_EQ(control.open(), 3u);
}

// A connection is released under the key it was counted by, even after a reload changed the
// prefix length in between.
TEST(AdmissionControl, AReleaseUsesTheKeyOfTheAdmission) {
    AdmissionControl control(limits(100, 1, 100));
    const auto now = std::chrono::steady_clock::now();
    IpAddress key;
    ASSERT_EQ(control.admit(ip("2001:db8:1:2::1"), now, &key), Verdict::Admit);
    ConnectionLimits narrower = limits(100, 1, 100);
    narrower.ipv6_prefix_length = 128;
    control.set_limits(narrower);
    control.release(key);
    EXPECT_EQ(control.open(), 0u);
}

}  // namespace
}  // namespace oidcgw
