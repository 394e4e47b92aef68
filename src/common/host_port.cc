#include "common/host_port.h"

#include "common/ascii.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <string>

namespace oidcgw {
namespace {

constexpr std::size_t kMaxDnsNameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;
// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", the longest text inet_pton accepts.
constexpr std::size_t kMaxIpv6Length = 45;

bool is_letter_or_digit(char c) {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_dns_label(std::string_view label) {
    if (label.empty() || label.size() > kMaxLabelLength) return false;
    if (!is_letter_or_digit(label.front()) || !is_letter_or_digit(label.back())) return false;
    return std::all_of(label.begin(), label.end(),
                       [](char c) { return is_letter_or_digit(c) || c == '-'; });
}

// 0-255 without a leading zero.
bool is_octet(std::string_view text) {
    if (text.empty() || text.size() > 3 || !std::all_of(text.begin(), text.end(), is_ascii_digit)) {
        return false;
    }
    if (text.size() > 1 && text.front() == '0') return false;
    return std::stoi(std::string(text)) <= 255;
}

// Calls `part` for each piece of `text` between dots; false as soon as one returns false.
template <typename Part>
bool all_dot_separated(std::string_view text, Part part) {
    while (true) {
        const std::size_t dot = text.find('.');
        if (!part(text.substr(0, dot))) return false;
        if (dot == std::string_view::npos) return true;
        text.remove_prefix(dot + 1);
    }
}

}  // namespace

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || text.front() == '0' ||
        !std::all_of(text.begin(), text.end(), is_ascii_digit)) {
        return std::nullopt;
    }
    const unsigned long value = std::stoul(std::string(text));
    if (value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

bool is_dns_name(std::string_view text) {
    return !text.empty() && text.size() <= kMaxDnsNameLength &&
           all_dot_separated(text, is_dns_label);
}

bool is_ipv4_dotted_quad(std::string_view text) {
    int octets = 0;
    return all_dot_separated(
               text,
               [&octets](std::string_view part) { return ++octets <= 4 && is_octet(part); }) &&
           octets == 4;
}

bool is_ipv6_address(std::string_view text) {
    // A NUL would end the text early for inet_pton and let trailing junk through.
    if (text.empty() || text.size() > kMaxIpv6Length || text.find('\0') != std::string_view::npos) {
        return false;
    }
    const std::string terminated(text);
    unsigned char address[16];
    return inet_pton(AF_INET6, terminated.c_str(), address) == 1;
}

bool looks_numeric(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(),
                                        [](char c) { return is_ascii_digit(c) || c == '.'; });
}

bool is_dns_name_or_ipv4(std::string_view text) {
    return looks_numeric(text) ? is_ipv4_dotted_quad(text) : is_dns_name(text);
}

bool HostPort::has_extra_colon() const {
    return !bracketed && port && port->find(':') != std::string_view::npos;
}

std::optional<HostPort> split_host_port(std::string_view text, HostPortError* error) {
    HostPort parts;
    std::string_view rest;
    if (text.starts_with("[")) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) {
            if (error != nullptr) *error = HostPortError::UnclosedBracket;
            return std::nullopt;
        }
        parts.bracketed = true;
        parts.host = text.substr(1, close - 1);
        rest = text.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') {
            if (error != nullptr) *error = HostPortError::TextAfterBracket;
            return std::nullopt;
        }
    } else {
        const std::size_t colon = text.find(':');
        parts.host = text.substr(0, colon);
        if (colon != std::string_view::npos) rest = text.substr(colon);
    }
    if (!rest.empty()) parts.port = rest.substr(1);
    return parts;
}

}  // namespace oidcgw
