// A client's IP address in binary, and the address prefixes (CIDR) that name groups of them:
// who may send a PROXY header (proxy_protocol_from), and the /64 an IPv6 client is counted by.
// An IPv4-mapped IPv6 address (::ffff:192.0.2.1, what a dual-stack listener reports for an IPv4
// client) is always taken as the IPv4 address it maps, so one client has one identity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;

namespace oidcgw {

struct IpAddress {
    bool ipv6 = false;
    std::array<std::uint8_t, 16> bytes{};  // an IPv4 address in the first four

    // "192.0.2.1" or "2001:db8::1" (no brackets, no zone); nullopt for anything else.
    static std::optional<IpAddress> parse(std::string_view text);
    // An AF_INET or AF_INET6 socket address; nullopt for other families or null.
    static std::optional<IpAddress> from_socket_address(const sockaddr* address);

    unsigned bit_count() const { return ipv6 ? 128 : 32; }
    std::string text() const;  // inet_ntop's spelling
    // The address with every bit past the first `length` cleared (length capped at bit_count).
    IpAddress masked(unsigned length) const;

    bool operator==(const IpAddress&) const = default;
};

struct IpAddressHash {
    std::size_t operator()(const IpAddress& address) const;
};

// "10.0.0.0/8", "2001:db8::/32", or a lone address (every bit significant).
struct IpPrefix {
    IpAddress network;  // host bits cleared
    unsigned length = 0;

    bool contains(const IpAddress& address) const;
    std::string text() const;  // "10.0.0.0/8"
};

// nullopt with *error saying why (bits set past the prefix length are refused: "10.1.2.3/8"
// is more likely a typo than meant as 10.0.0.0/8).
std::optional<IpPrefix> parse_ip_prefix(std::string_view text, std::string* error);

}  // namespace oidcgw
