// The PROXY protocol header (src/edge/proxy_header.cc): what HAProxy, AWS NLB and GCP send is read
// exactly, with nothing past it consumed; everything else is refused, and a header still arriving
// waits.
#include "edge/proxy_header.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

using namespace std::string_literals;

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

std::string v2(unsigned char command, unsigned char family, const std::string& block) {
    return kSignature + static_cast<char>(0x20 | command) + static_cast<char>(family) +
           static_cast<char>(block.size() >> 8) + static_cast<char>(block.size() & 0xff) + block;
}

std::string ipv4_block() {
    // 203.0.113.7:51234 -> 10.0.0.5:443
    return "\xcb\x00\x71\x07"s + "\x0a\x00\x00\x05"s + "\xc8\x22"s + "\x01\xbb"s;
}

std::string ipv6_block(const std::string& source) {
    return source + std::string(16, '\x01') + "\x30\x39"s + "\x01\xbb"s;
}

TEST(ProxyHeader, ReadsVersion1) {
    const std::string tls = "\x16\x03\x01";
    const auto result = parse_proxy_header("PROXY TCP4 203.0.113.7 10.0.0.5 51234 443\r\n" + tls);
    ASSERT_EQ(result.status, ProxyHeaderStatus::Complete) << result.error_reason;
    EXPECT_EQ(result.header.version, 1);
    EXPECT_FALSE(result.header.local);
    EXPECT_EQ(result.header.client.text(), "203.0.113.7");
    EXPECT_EQ(result.header.client_port, 51234);
    EXPECT_EQ(result.consumed, 43u);  // the TLS bytes after it are not touched

    const auto v6 = parse_proxy_header("PROXY TCP6 2001:DB8::1 2001:db8::2 4000 443\r\n");
    ASSERT_EQ(v6.status, ProxyHeaderStatus::Complete) << v6.error_reason;
    EXPECT_TRUE(v6.header.client.ipv6);
    EXPECT_EQ(v6.header.client.text(), "2001:db8::1");  // one spelling per address

    const auto unknown = parse_proxy_header("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
    ASSERT_EQ(unknown.status, ProxyHeaderStatus::Complete);
    EXPECT_TRUE(unknown.header.local);
}

TEST(ProxyHeader, ReadsVersion2) {
    const auto proxy = parse_proxy_header(v2(1, 0x11, ipv4_block()) + "\x16\x03\x01"s);
    ASSERT_EQ(proxy.status, ProxyHeaderStatus::Complete) << proxy.error_reason;
    EXPECT_EQ(proxy.header.version, 2);
    EXPECT_EQ(proxy.header.client.text(), "203.0.113.7");
    EXPECT_EQ(proxy.header.client_port, 51234);
    EXPECT_EQ(proxy.consumed, 28u);

    std::string v6_source = "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x09"s;
    const auto v6 = parse_proxy_header(v2(1, 0x21, ipv6_block(v6_source)));
    ASSERT_EQ(v6.status, ProxyHeaderStatus::Complete) << v6.error_reason;
    EXPECT_EQ(v6.header.client.text(), "2001:db8::9");
    EXPECT_EQ(v6.header.client_port, 12345);

    // An IPv4 client carried over IPv6 is that IPv4 client.
    const std::string mapped = std::string(10, '\0') + "\xff\xff\xc6\x33\x64\x01"s;
    const auto mapped_result = parse_proxy_header(v2(1, 0x21, ipv6_block(mapped)));
    ASSERT_EQ(mapped_result.status, ProxyHeaderStatus::Complete);
    EXPECT_EQ(mapped_result.header.client.text(), "198.51.100.1");
    EXPECT_FALSE(mapped_result.header.client.ipv6);

    // TLVs after the addresses (AWS puts its VPC endpoint ID there) are skipped.
    const std::string tlv = "\xea\x00\x05vpce1"s;
    const auto with_tlv = parse_proxy_header(v2(1, 0x11, ipv4_block() + tlv) + "X");
    ASSERT_EQ(with_tlv.status, ProxyHeaderStatus::Complete);
    EXPECT_EQ(with_tlv.consumed, 28u + tlv.size());

    // LOCAL (a health check) and UNSPEC name no client.
    EXPECT_TRUE(parse_proxy_header(v2(0, 0x00, "")).header.local);
    EXPECT_TRUE(parse_proxy_header(v2(0, 0x11, ipv4_block())).header.local);
    EXPECT_TRUE(parse_proxy_header(v2(1, 0x00, "")).header.local);
}

TEST(ProxyHeader, EveryProperPrefixWaits) {
    for (const std::string& header :
         {"PROXY TCP4 203.0.113.7 10.0.0.5 51234 443\r\n"s, v2(1, 0x11, ipv4_block())}) {
        for (std::size_t size = 0; size < header.size(); ++size) {
            EXPECT_EQ(parse_proxy_header(header.substr(0, size)).status,
                      ProxyHeaderStatus::Incomplete)
                << size;
        }
        EXPECT_EQ(parse_proxy_header(header).status, ProxyHeaderStatus::Complete);
    }
}

TEST(ProxyHeader, RefusesEverythingElse) {
    const std::vector<std::string> refused = {
        "\x16\x03\x01\x02\x00"s,  // TLS without a header
        "GET / HTTP/1.1\r\n",
        "PROXY TCP4 203.0.113.7 10.0.0.5 51234\r\n",
        "PROXY TCP4 203.0.113.7 10.0.0.5 51234 443 x\r\n",
        "PROXY TCP4 203.0.113.7  10.0.0.5 51234 443\r\n",
        "PROXY TCP4 2001:db8::1 10.0.0.5 51234 443\r\n",
        "PROXY TCP6 203.0.113.7 2001:db8::2 51234 443\r\n",
        "PROXY TCP4 203.0.113.07 10.0.0.5 51234 443\r\n",
        "PROXY TCP4 203.0.113.7 10.0.0.5 051234 443\r\n",
        "PROXY TCP4 203.0.113.7 10.0.0.5 65536 443\r\n",
        "PROXY UDP4 203.0.113.7 10.0.0.5 51234 443\r\n",
        "proxy TCP4 203.0.113.7 10.0.0.5 51234 443\r\n",
        "PROXY TCP4 203.0.113.7\n10.0.0.5 51234 443\r\n",
        "PROXY TCP4 203.0.113.7\r10.0.0.5",
        "PROXY TCP4 "s + std::string(100, '1'),           // no CRLF within 107 bytes
        v2(2, 0x11, ipv4_block()),                        // command 2
        kSignature + "\x11\x11\x00\x0c"s + ipv4_block(),  // version 1 in a v2 header
        v2(1, 0x12, ipv4_block()),                        // UDP
        v2(1, 0x31, std::string(216, 'a')),               // UNIX sockets
        v2(1, 0x11, "\xcb\x00\x71\x07"s),                 // address block too short
        v2(1, 0x21, ipv4_block()),
        kSignature + "\x21\x11\x04\x01"s + std::string(1025, 'a'),  // longer than 1040 bytes
    };
    for (const std::string& input : refused) {
        const auto result = parse_proxy_header(input);
        EXPECT_EQ(result.status, ProxyHeaderStatus::Invalid) << input.substr(0, 60);
        EXPECT_FALSE(result.error_reason.empty());
        EXPECT_NE(result.problem, ProxyHeaderProblem::None);
    }
}

// The rejection counter's reason: a connection without a header, one with a broken header, and
// one whose header runs past the limits are told apart.
TEST(ProxyHeader, NamesTheKindOfRefusal) {
    EXPECT_EQ(parse_proxy_header("\x16\x03\x01\x02\x00"s).problem, ProxyHeaderProblem::Missing);
    EXPECT_EQ(parse_proxy_header("GET / HTTP/1.1\r\n").problem, ProxyHeaderProblem::Missing);
    EXPECT_EQ(parse_proxy_header("PROXY TCP5 1 2 3 4\r\n").problem, ProxyHeaderProblem::Malformed);
    EXPECT_EQ(parse_proxy_header("PROXY TCP4 "s + std::string(100, '1')).problem,
              ProxyHeaderProblem::TooLong);
    EXPECT_EQ(parse_proxy_header(kSignature + "\x21\x11\x04\x01"s).problem,
              ProxyHeaderProblem::TooLong);
    // 108 bytes whose CRLF ends one byte past the limit: too long, not a stray CR.
    const std::string v1_108 = "PROXY TCP4 " + std::string(95, '1') + "\r\n";
    ASSERT_EQ(v1_108.size(), 108u);
    EXPECT_EQ(parse_proxy_header(v1_108).problem, ProxyHeaderProblem::TooLong);
}

}  // namespace
}  // namespace oidcgw::testing
