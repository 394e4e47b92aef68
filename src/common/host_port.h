// The one grammar of hosts and ports in configuration, URLs and command lines (the hot-path HTTP
// request parser keeps its own): pure functions from bytes to an answer, no lookups.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace oidcgw {

// A port in canonical decimal: 1-65535, digits only, no sign, no leading zero ("0443" is refused,
// since some readers take it for octal and two spellings of one port make comparisons lie).
std::optional<std::uint16_t> parse_port(std::string_view text);

// An LDH host name: dot-separated labels of 1-63 letters, digits and '-', none starting or ending
// with '-', 253 characters at most, no trailing dot. Letters of either case; no '_'.
bool is_dns_name(std::string_view text);

// Four decimal octets 0-255 separated by dots, without leading zeros (which some resolvers read
// as octal).
bool is_ipv4_dotted_quad(std::string_view text);

// An IPv6 address as written between brackets, without them ("::1"); no zone ("%eth0").
bool is_ipv6_address(std::string_view text);

// Only digits and dots: such a host can only be meant as an IPv4 address, never as a name.
bool looks_numeric(std::string_view text);

// A host outside brackets: an IPv4 dotted quad when it looks numeric, otherwise a DNS name.
bool is_dns_name_or_ipv4(std::string_view text);

// HOST, HOST:PORT, [V6] or [V6]:PORT taken apart, neither part judged yet.
struct HostPort {
    std::string_view host;                 // without brackets; may be empty
    bool bracketed = false;                // written as [HOST]
    std::optional<std::string_view> port;  // the text after the ':' that ends the host

    // Unbracketed text with more than one ':' (the port then holds a ':'): an IPv6 address
    // written without brackets, or junk.
    bool has_extra_colon() const;
};

enum class HostPortError {
    UnclosedBracket,   // "[::1" or "[::1:443"
    TextAfterBracket,  // "[::1]443": after ']' comes neither the end nor ':'
};

// Splits at the first ':' after the host (after the ']' for a bracketed one). nullopt with
// *error set (when error is not null) only for a bracket that does not close or is followed by
// something other than ':'.
std::optional<HostPort> split_host_port(std::string_view text, HostPortError* error = nullptr);

}  // namespace oidcgw
