#include "edge/proxy_header.h"

#include "common/host_port.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace oidcgw {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::size_t kV2FixedBytes = 16;

ProxyHeaderResult invalid(std::string_view reason,
                          ProxyHeaderProblem problem = ProxyHeaderProblem::Malformed) {
    ProxyHeaderResult result;
    result.status = ProxyHeaderStatus::Invalid;
    result.error_reason = reason;
    result.problem = problem;
    return result;
}

ProxyHeaderResult complete(ProxyHeader header, std::size_t consumed) {
    ProxyHeaderResult result;
    result.status = ProxyHeaderStatus::Complete;
    result.header = std::move(header);
    result.consumed = consumed;
    return result;
}

std::uint16_t read_u16(const unsigned char* bytes) {
    return static_cast<std::uint16_t>(bytes[0] << 8 | bytes[1]);
}

bool is_printable_ascii(char c) {
    return c >= 0x20 && c <= 0x7e;
}

// "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", "PROXY TCP6 ...", "PROXY UNKNOWN...\r\n": a
// line of printable ASCII (a prefix of one waits; anything else is refused at once, so a header
// is never accepted whole that one of its prefixes refused).
ProxyHeaderResult parse_v1(std::string_view input) {
    const std::string_view window = input.substr(0, kMaxProxyV1Bytes);
    const std::size_t end = window.find("\r\n");
    // No line end within the limit: too long, whatever the bytes are.
    if (end == std::string_view::npos && input.size() >= kMaxProxyV1Bytes) {
        return invalid("PROXY v1 line longer than 107 bytes", ProxyHeaderProblem::TooLong);
    }
    const std::string_view text = window.substr(0, end);
    for (std::size_t at = 0; at < text.size(); ++at) {
        const bool final_cr =
            end == std::string_view::npos && at + 1 == input.size() && text[at] == '\r';
        if (!is_printable_ascii(text[at]) && !final_cr) {
            return invalid("PROXY v1 line holds a byte that is not printable ASCII");
        }
    }
    if (end == std::string_view::npos) return ProxyHeaderResult{};
    const std::string_view line = input.substr(kV1Prefix.size(), end - kV1Prefix.size());
    ProxyHeader header;
    header.version = 1;
    if (line == "UNKNOWN" || line.rfind("UNKNOWN ", 0) == 0) {
        header.local = true;
        return complete(std::move(header), end + 2);
    }
    std::array<std::string_view, 5> fields;
    std::size_t count = 0;
    for (std::size_t at = 0; at <= line.size();) {
        const std::size_t space = line.find(' ', at);
        const std::size_t stop = space == std::string_view::npos ? line.size() : space;
        if (count == fields.size()) return invalid("PROXY v1 line with too many fields");
        fields[count++] = line.substr(at, stop - at);
        if (space == std::string_view::npos) break;
        at = space + 1;
    }
    if (count != fields.size()) return invalid("PROXY v1 line with too few fields");
    const bool ipv6 = fields[0] == "TCP6";
    if (!ipv6 && fields[0] != "TCP4") return invalid("PROXY v1 protocol is not TCP4 or TCP6");
    const auto valid_address = [&](std::string_view field) {
        return ipv6 ? is_ipv6_address(field) : is_ipv4_dotted_quad(field);
    };
    if (!valid_address(fields[1]) || !valid_address(fields[2])) {
        return invalid("PROXY v1 address does not match its protocol");
    }
    const std::optional<std::uint16_t> source_port = parse_port(fields[3]);
    if (!source_port || !parse_port(fields[4])) return invalid("PROXY v1 port is not 1-65535");
    const std::optional<IpAddress> source = IpAddress::parse(fields[1]);
    if (!source) return invalid("PROXY v1 address does not parse");
    header.client = *source;
    header.client_port = *source_port;
    return complete(std::move(header), end + 2);
}

ProxyHeaderResult parse_v2(std::string_view input) {
    if (input.size() < kV2FixedBytes) return ProxyHeaderResult{};
    const auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
    if ((bytes[12] >> 4) != 2) return invalid("PROXY v2 header with another version");
    const unsigned command = bytes[12] & 0x0f;
    if (command > 1) return invalid("PROXY v2 command is neither LOCAL nor PROXY");
    const std::size_t total = kV2FixedBytes + read_u16(bytes + 14);
    if (total > kMaxProxyV2Bytes)
        return invalid("PROXY v2 header longer than 1040 bytes", ProxyHeaderProblem::TooLong);
    if (input.size() < total) return ProxyHeaderResult{};
    ProxyHeader header;
    header.version = 2;
    const unsigned char family = bytes[13];
    // LOCAL: the balancer speaking for itself (health checks). UNSPEC: it could not say who the
    // client is. Either way the connection's own address stands; TLVs and the rest are skipped.
    if (command == 0 || family == 0x00) {
        header.local = true;
        return complete(std::move(header), total);
    }
    const std::size_t address_bytes = total - kV2FixedBytes;
    if (family == 0x11) {  // TCP over IPv4: source, destination, source port, destination port
        if (address_bytes < 12) return invalid("PROXY v2 IPv4 address block too short");
        std::memcpy(header.client.bytes.data(), bytes + 16, 4);
        header.client_port = read_u16(bytes + 24);
    } else if (family == 0x21) {  // TCP over IPv6
        if (address_bytes < 36) return invalid("PROXY v2 IPv6 address block too short");
        sockaddr_in6 source{};
        source.sin6_family = AF_INET6;
        std::memcpy(&source.sin6_addr, bytes + 16, 16);
        header.client = *IpAddress::from_socket_address(reinterpret_cast<sockaddr*>(&source));
        header.client_port = read_u16(bytes + 48);
    } else {
        return invalid("PROXY v2 family is not TCP over IPv4 or IPv6");
    }
    return complete(std::move(header), total);
}

}  // namespace

ProxyHeaderResult parse_proxy_header(std::string_view input) {
    const std::size_t v2_seen = std::min(input.size(), kV2Signature.size());
    if (input.substr(0, v2_seen) == kV2Signature.substr(0, v2_seen)) {
        return v2_seen < kV2Signature.size() ? ProxyHeaderResult{} : parse_v2(input);
    }
    const std::size_t v1_seen = std::min(input.size(), kV1Prefix.size());
    if (input.substr(0, v1_seen) == kV1Prefix.substr(0, v1_seen)) {
        return v1_seen < kV1Prefix.size() ? ProxyHeaderResult{} : parse_v1(input);
    }
    return invalid("no PROXY protocol header", ProxyHeaderProblem::Missing);
}

}  // namespace oidcgw
