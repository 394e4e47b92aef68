#include "common/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

IpAddress ip(std::string_view text) {
    const std::optional<IpAddress> address = IpAddress::parse(text);
    EXPECT_TRUE(address.has_value()) << text;
    return address.value_or(IpAddress{});
}

TEST(IpAddress, ParsesBothFamiliesAndRefusesEverythingElse) {
    EXPECT_FALSE(ip("192.0.2.1").ipv6);
    EXPECT_EQ(ip("192.0.2.1").text(), "192.0.2.1");
    EXPECT_TRUE(ip("2001:db8::1").ipv6);
    EXPECT_EQ(ip("2001:DB8:0:0::1").text(), "2001:db8::1");
    for (const char* bad : {"", "192.0.2", "192.0.2.01", "192.0.2.256", "[::1]", "::1%eth0",
                            "example.com", "1.2.3.4 ", "2001:db8::1/64"}) {
        EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
    }
    EXPECT_FALSE(IpAddress::parse(std::string_view("1.2.3.4\0", 8)).has_value());
}

TEST(IpAddress, AnIpv4MappedAddressIsTheIpv4Client) {
    EXPECT_EQ(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
    sockaddr_in6 mapped{};
    mapped.sin6_family = AF_INET6;
    ASSERT_EQ(inet_pton(AF_INET6, "::ffff:198.51.100.7", &mapped.sin6_addr), 1);
    const auto from_socket =
        IpAddress::from_socket_address(reinterpret_cast<const sockaddr*>(&mapped));
    ASSERT_TRUE(from_socket.has_value());
    EXPECT_EQ(*from_socket, ip("198.51.100.7"));
    sockaddr_in plain{};
    plain.sin_family = AF_INET;
    ASSERT_EQ(inet_pton(AF_INET, "203.0.113.9", &plain.sin_addr), 1);
    EXPECT_EQ(IpAddress::from_socket_address(reinterpret_cast<const sockaddr*>(&plain)),
              ip("203.0.113.9"));
    EXPECT_FALSE(IpAddress::from_socket_address(nullptr).has_value());
}

TEST(IpAddress, MaskingKeepsThePrefixAndHashesAgree) {
    EXPECT_EQ(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd").masked(64), ip("2001:db8:1:2::"));
    EXPECT_EQ(ip("2001:db8:1:2:ffff::").masked(48), ip("2001:db8:1::"));
    EXPECT_EQ(ip("2001:db8::1").masked(128), ip("2001:db8::1"));
    EXPECT_EQ(ip("192.0.2.255").masked(25), ip("192.0.2.128"));
    EXPECT_EQ(IpAddressHash{}(ip("2001:db8:1:2::5").masked(64)),
              IpAddressHash{}(ip("2001:db8:1:2::9").masked(64)));
    EXPECT_NE(ip("0.0.0.1"), ip("::1"));  // the family is part of the identity
}

TEST(IpPrefix, ContainsOnlyItsOwnFamilyAndBits) {
    std::string error;
    const auto ten = parse_ip_prefix("10.0.0.0/8", &error);
    ASSERT_TRUE(ten.has_value()) << error;
    EXPECT_TRUE(ten->contains(ip("10.255.0.1")));
    EXPECT_FALSE(ten->contains(ip("11.0.0.1")));
    EXPECT_FALSE(ten->contains(ip("::a00:1")));
    EXPECT_TRUE(ten->contains(ip("::ffff:10.1.2.3")));
    const auto lone = parse_ip_prefix("127.0.0.2", &error);
    ASSERT_TRUE(lone.has_value()) << error;
    EXPECT_EQ(lone->length, 32u);
    EXPECT_FALSE(lone->contains(ip("127.0.0.3")));
    const auto all = parse_ip_prefix("::/0", &error);
    ASSERT_TRUE(all.has_value()) << error;
    EXPECT_TRUE(all->contains(ip("2001:db8::1")));
    EXPECT_FALSE(all->contains(ip("192.0.2.1")));
    EXPECT_EQ(parse_ip_prefix("2001:db8::/32", &error)->text(), "2001:db8::/32");
}

TEST(IpPrefix, RefusesWhatIsNotAPrefixWithTheReason) {
    std::string error;
    EXPECT_FALSE(parse_ip_prefix("10.1.2.3/8", &error).has_value());
    EXPECT_NE(error.find("did you mean 10.0.0.0/8"), std::string::npos) << error;
    for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "::/129",
                            "10.0.0.0/8/8", "example.com/8", "/8", "10.0.0.0/1x"}) {
        error.clear();
        EXPECT_FALSE(parse_ip_prefix(bad, &error).has_value()) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}

}  // namespace
}  // namespace oidcgw
