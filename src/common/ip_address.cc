#include "common/ip_address.h"

#include "common/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace oidcgw {
namespace {

constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

IpAddress from_ipv6_bytes(const std::uint8_t* bytes) {
    IpAddress address;
    if (std::memcmp(bytes, kMappedPrefix, sizeof kMappedPrefix) == 0) {
        std::memcpy(address.bytes.data(), bytes + 12, 4);
        return address;
    }
    address.ipv6 = true;
    std::memcpy(address.bytes.data(), bytes, 16);
    return address;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    const std::string terminated(text);
    std::uint8_t bytes[16] = {};
    if (is_ipv4_dotted_quad(text) && ::inet_pton(AF_INET, terminated.c_str(), bytes) == 1) {
        IpAddress address;
        std::memcpy(address.bytes.data(), bytes, 4);
        return address;
    }
    if (is_ipv6_address(text) && ::inet_pton(AF_INET6, terminated.c_str(), bytes) == 1) {
        return from_ipv6_bytes(bytes);
    }
    return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_socket_address(const sockaddr* address) {
    if (address == nullptr) return std::nullopt;
    if (address->sa_family == AF_INET) {
        IpAddress result;
        std::memcpy(result.bytes.data(), &reinterpret_cast<const sockaddr_in*>(address)->sin_addr,
                    4);
        return result;
    }
    if (address->sa_family == AF_INET6) {
        return from_ipv6_bytes(reinterpret_cast<const std::uint8_t*>(
            &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr));
    }
    return std::nullopt;
}

std::string IpAddress::text() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
    return buffer;
}

IpAddress IpAddress::masked(unsigned length) const {
    IpAddress result = *this;
    const unsigned bits = bit_count();
    for (unsigned bit = length; bit < bits; ++bit) {
        result.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    }
    return result;
}

std::size_t IpAddressHash::operator()(const IpAddress& address) const {
    // FNV-1a over the significant bytes and the family.
    std::size_t hash = address.ipv6 ? 1469598103934665603ull : 1099511628211ull;
    const std::size_t count = address.ipv6 ? 16 : 4;
    for (std::size_t i = 0; i < count; ++i) {
        hash ^= address.bytes[i];
        hash *= 1099511628211ull;
    }
    return hash;
}

bool IpPrefix::contains(const IpAddress& address) const {
    return address.ipv6 == network.ipv6 && address.masked(length) == network;
}

std::string IpPrefix::text() const {
    return network.text() + "/" + std::to_string(length);
}

std::optional<IpPrefix> parse_ip_prefix(std::string_view text, std::string* error) {
    const std::size_t slash = text.find('/');
    const std::optional<IpAddress> address = IpAddress::parse(text.substr(0, slash));
    if (!address) {
        *error = "is not an IPv4 or IPv6 address (or prefix like \"10.0.0.0/8\")";
        return std::nullopt;
    }
    IpPrefix prefix;
    prefix.network = *address;
    prefix.length = address->bit_count();
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        unsigned length = 0;
        const bool canonical =
            !digits.empty() && digits.size() <= 3 && (digits.size() == 1 || digits[0] != '0');
        for (const char c : digits) {
            if (c < '0' || c > '9') {
                length = 1000;
                break;
            }
            length = length * 10 + static_cast<unsigned>(c - '0');
        }
        if (!canonical || length > address->bit_count()) {
            *error = "has a prefix length that is not 0-" + std::to_string(address->bit_count());
            return std::nullopt;
        }
        prefix.length = length;
    }
    if (address->masked(prefix.length) != *address) {
        *error = "has bits set past its prefix length (did you mean " +
                 IpPrefix{address->masked(prefix.length), prefix.length}.text() + "?)";
        return std::nullopt;
    }
    return prefix;
}

}  // namespace oidcgw
