// The one host and port grammar: its boundaries, as every caller (config, issuer URLs, probe)
// now sees them.
#include "common/host_port.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {
namespace {

using namespace std::string_literals;

// Each of `texts` is accepted (or refused, as `expected` says) by `predicate`.
template <typename Predicate>
void expect_all(Predicate predicate, const std::vector<std::string>& texts, bool expected) {
    for (const std::string& text : texts) EXPECT_EQ(predicate(text), expected) << text;
}

TEST(HostPortParsePort, Boundaries) {
    EXPECT_EQ(parse_port("1"), 1);
    EXPECT_EQ(parse_port("443"), 443);
    EXPECT_EQ(parse_port("65535"), 65535);
    const auto refused = [](const std::string& text) { return !parse_port(text); };
    expect_all(refused, {"0", "65536", "99999", "100000", "18446744073709551617"}, true);
}

TEST(HostPortParsePort, OnlyCanonicalDigits) {
    const auto refused = [](const std::string& text) { return !parse_port(text); };
    // "\xd9\xa4" is ARABIC-INDIC DIGIT FOUR, not a digit here.
    expect_all(refused,
               {"", "0443", "00", "+443", "-1", " 443", "443 ", "44 3", "0x1bb", "https", "443\0"s,
                "\xd9\xa4"},
               true);
}

TEST(HostPortDnsName, Labels) {
    expect_all(is_dns_name,
               {"localhost", "oidc.example.com", "GW.Example.COM", "a", "1", "x-1.y--2.z"}, true);
    // No trailing dot, no '_', no empty label, no '-' at either end of a label.
    expect_all(is_dns_name,
               {"", "-a.example", "a-.example", "a..example", ".example", "example.com.",
                "under_score.example", "exa mple", "caf\xc3\xa9.example", "a\0b"s, "a:443"},
               false);
}

TEST(HostPortDnsName, LengthLimits) {
    const std::string label63(63, 'a');
    const std::string label64(64, 'a');
    // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters.
    const std::string name253 =
        label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    ASSERT_EQ(name253.size(), 253u);
    expect_all(is_dns_name, {label63, label63 + ".example", name253}, true);
    expect_all(is_dns_name, {label64, label64 + ".example", name253 + "b"}, false);
}

TEST(HostPortIpv4, DottedQuad) {
    expect_all(is_ipv4_dotted_quad, {"0.0.0.0", "127.0.0.1", "255.255.255.255"}, true);
    expect_all(is_ipv4_dotted_quad,
               {"256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.4.", "1..3.4", "1.2.3.-4",
                "0x7f.0.0.1", "1000.1.1.1", ""},
               false);
}

TEST(HostPortIpv6, Literal) {
    expect_all(is_ipv6_address,
               {"::", "::1", "0::0", "2001:DB8::1", "::ffff:192.0.2.1",
                "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"},
               true);
    expect_all(is_ipv6_address,
               {"", "1.2.3.4", "[::1]", "fe80::1%eth0", "::1\0junk"s, "1:2:3:4:5:6:7:8:9"}, false);
}

TEST(HostPortHost, NumericTextMustBeAnAddress) {
    expect_all(looks_numeric, {"1.2.3.4", "8080"}, true);
    expect_all(looks_numeric, {"", "1.2.3.a"}, false);
    expect_all(is_dns_name_or_ipv4, {"10.0.0.1", "example.com", "1.2.3.com"}, true);
    // "256.1.1.1" is a valid LDH name, but numeric text must be an address.
    expect_all(is_dns_name_or_ipv4, {"256.1.1.1", "1.2.3", "::1", ""}, false);
}

// split_host_port(text) gives `host`, `bracketed` and `port` (nullopt: no ':' after the host).
void expect_split(std::string_view text, std::string_view host, bool bracketed,
                  std::optional<std::string_view> port) {
    const std::optional<HostPort> parts = split_host_port(text);
    ASSERT_TRUE(parts) << text;
    EXPECT_EQ(parts->host, host) << text;
    EXPECT_EQ(parts->bracketed, bracketed) << text;
    EXPECT_EQ(parts->port, port) << text;
}

TEST(HostPortSplit, HostAndPort) {
    expect_split("example.com:443", "example.com", false, "443");
    expect_split("example.com", "example.com", false, std::nullopt);
    expect_split("example.com:", "example.com", false, "");
    expect_split(":443", "", false, "443");
    expect_split("", "", false, std::nullopt);
    EXPECT_FALSE(split_host_port("example.com:443")->has_extra_colon());
}

TEST(HostPortSplit, UnbracketedIpv6IsAnExtraColon) {
    expect_split("::1:443", "", false, ":1:443");
    EXPECT_TRUE(split_host_port("::1:443")->has_extra_colon());
    EXPECT_TRUE(split_host_port("a:b:c")->has_extra_colon());
    EXPECT_FALSE(split_host_port("[::1]:443")->has_extra_colon());
}

TEST(HostPortSplit, Brackets) {
    expect_split("[::1]:8443", "::1", true, "8443");
    expect_split("[::]", "::", true, std::nullopt);
    expect_split("[]:1", "", true, "1");

    HostPortError error{};
    EXPECT_FALSE(split_host_port("[::1", &error));
    EXPECT_EQ(error, HostPortError::UnclosedBracket);
    EXPECT_FALSE(split_host_port("[::1:443", &error));
    EXPECT_EQ(error, HostPortError::UnclosedBracket);
    EXPECT_FALSE(split_host_port("[::1]443", &error));
    EXPECT_EQ(error, HostPortError::TextAfterBracket);
    EXPECT_FALSE(split_host_port("[::1]x:443"));  // no error out-parameter is fine
}

}  // namespace
}  // namespace oidcgw
