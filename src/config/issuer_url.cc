#include "config/issuer_url.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cstdio>
#include <string>

namespace oidcgw {
namespace {

// Long enough for any sane deployment, short enough that a hostile document cannot make us
// carry megabytes around in error messages and routing tables.
constexpr std::size_t kMaxUrlLength = 2048;
constexpr std::size_t kMaxHostLength = 253;
constexpr std::uint16_t kHttpsPort = 443;
constexpr std::uint16_t kHttpPort = 80;

// Pieces of an absolute URL without query or fragment: scheme "://" authority path.
struct UrlParts {
    std::string_view scheme;
    std::string_view authority;
    std::string_view path;  // "" or starting with '/'
};

// The authority split into host and optional port.
struct Authority {
    std::string host;  // lowercased, without brackets
    bool ipv6 = false;
    std::optional<std::uint16_t> port;
};

std::string to_lower_ascii(std::string_view text) {
    std::string lowered(text);
    for (char& c : lowered) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return lowered;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && to_lower_ascii(a) == to_lower_ascii(b);
}

// Names one character for an error message without echoing control bytes into logs.
std::string describe_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f) return std::string("'") + c + "'";
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", byte);
    return hex;
}

re2::StringPiece piece(std::string_view text) {
    return re2::StringPiece(text.data(), text.size());
}

bool is_dns_name(std::string_view host) {
    // LDH labels of 1-63 characters that neither start nor end with '-'.
    static const RE2 dns_name(
        "(?i)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*");
    return host.size() <= kMaxHostLength && RE2::FullMatch(piece(host), dns_name);
}

bool is_ipv4_dotted_quad(std::string_view host) {
    // Decimal octets 0-255 without leading zeros (which some resolvers read as octal).
    static const RE2 dotted_quad(
        "(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
        "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");
    return RE2::FullMatch(piece(host), dotted_quad);
}

bool looks_numeric(std::string_view host) {
    static const RE2 digits_and_dots("[0-9.]+");
    return RE2::FullMatch(piece(host), digits_and_dots);
}

bool is_ipv6_address(std::string_view host) {
    if (host.empty() || host.size() > 45) return false;
    const std::string terminated(host);
    unsigned char address[16];
    return inet_pton(AF_INET6, terminated.c_str(), address) == 1;
}

// 1-65535 in canonical decimal (no sign, no leading zeros).
std::optional<std::uint16_t> parse_port(std::string_view text) {
    static const RE2 port_digits("[1-9][0-9]{0,4}");
    if (!RE2::FullMatch(piece(text), port_digits)) return std::nullopt;
    unsigned long value = std::stoul(std::string(text));
    if (value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

std::optional<UrlParts> split_url(std::string_view text, std::string* error) {
    if (text.size() > kMaxUrlLength) {
        *error = "URL is longer than " + std::to_string(kMaxUrlLength) + " characters";
        return std::nullopt;
    }
    if (text.find('?') != std::string_view::npos) {
        *error = "URL must not have a query ('?')";
        return std::nullopt;
    }
    if (text.find('#') != std::string_view::npos) {
        *error = "URL must not have a fragment ('#')";
        return std::nullopt;
    }
    const std::size_t scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) {
        *error = "URL must start with a scheme such as \"https://\"";
        return std::nullopt;
    }
    UrlParts parts;
    parts.scheme = text.substr(0, scheme_end);
    const std::string_view rest = text.substr(scheme_end + 3);
    const std::size_t path_start = rest.find('/');
    parts.authority = rest.substr(0, path_start);
    parts.path =
        path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    if (parts.authority.find('@') != std::string_view::npos) {
        *error = "URL must not contain userinfo ('user@')";
        return std::nullopt;
    }
    if (parts.authority.empty()) {
        *error = "URL has no host";
        return std::nullopt;
    }
    return parts;
}

std::optional<Authority> parse_authority(std::string_view authority, bool allow_ipv6,
                                         std::string* error) {
    Authority result;
    std::string_view host;
    std::string_view port_text;
    bool has_port = false;
    if (authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (!allow_ipv6) {
            *error = "host must be a DNS name or an IPv4 address, not an IPv6 literal";
            return std::nullopt;
        }
        if (close == std::string_view::npos) {
            *error = "IPv6 host is missing its closing ']'";
            return std::nullopt;
        }
        host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                *error = "unexpected characters after the IPv6 host";
                return std::nullopt;
            }
            has_port = true;
            port_text = after.substr(1);
        }
        if (!is_ipv6_address(host)) {
            *error = "host is not a valid IPv6 address";
            return std::nullopt;
        }
        result.ipv6 = true;
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        if (host.empty()) {
            *error = "URL has no host";
            return std::nullopt;
        }
        const bool valid_host = looks_numeric(host) ? is_ipv4_dotted_quad(host) : is_dns_name(host);
        if (!valid_host) {
            *error = allow_ipv6 ? "host must be a DNS name, an IPv4 address or a bracketed IPv6 "
                                  "address"
                                : "host must be a DNS name (letters, digits, '-' and '.') or an "
                                  "IPv4 address";
            return std::nullopt;
        }
    }
    if (has_port) {
        result.port = parse_port(port_text);
        if (!result.port) {
            *error = "port must be a number from 1 to 65535";
            return std::nullopt;
        }
    }
    result.host = to_lower_ascii(host);
    return result;
}

// "" or "/" or "/seg/seg" with at most one trailing slash; each segment uses only unreserved,
// sub-delim, ':' and '@' characters and is not "." or "..". The gateway serves such paths
// literally, so there must be exactly one spelling of each.
bool check_path(std::string_view path, std::string* error) {
    static const RE2 segment_chars("[A-Za-z0-9._~!$&'()*+,;=:@-]*");
    if (path.empty() || path == "/") return true;
    std::string_view rest = path.substr(1);
    while (true) {
        const std::size_t slash = rest.find('/');
        const std::string_view segment = rest.substr(0, slash);
        const bool last = slash == std::string_view::npos;
        const bool trailing_slash = !last && slash + 1 == rest.size();
        if (segment.empty()) {
            *error = "path has an empty segment (\"//\")";
            return false;
        }
        if (segment == "." || segment == "..") {
            *error = "path has a \"" + std::string(segment) + "\" segment";
            return false;
        }
        if (!RE2::FullMatch(piece(segment), segment_chars)) {
            for (char c : segment) {
                if (!RE2::FullMatch(re2::StringPiece(&c, 1), segment_chars)) {
                    *error = "path has a character that is not allowed: " + describe_char(c);
                    break;
                }
            }
            return false;
        }
        if (last || trailing_slash) return true;
        rest = rest.substr(slash + 1);
    }
}

std::string_view without_trailing_slash(std::string_view path) {
    if (!path.empty() && path.back() == '/') path.remove_suffix(1);
    return path;
}

}  // namespace

std::optional<IssuerUrl> parse_issuer_url(std::string_view text, std::string* error) {
    std::string scratch;
    std::string* reason = error != nullptr ? error : &scratch;
    const std::optional<UrlParts> parts = split_url(text, reason);
    if (!parts) return std::nullopt;
    if (parts->scheme != "https") {
        *reason = "issuer URL must start with \"https://\" (lowercase)";
        return std::nullopt;
    }
    const std::optional<Authority> authority =
        parse_authority(parts->authority, /*allow_ipv6=*/false, reason);
    if (!authority) return std::nullopt;
    if (!check_path(parts->path, reason)) return std::nullopt;

    IssuerUrl issuer;
    issuer.text = std::string(text);
    issuer.host = authority->host;
    issuer.port = authority->port.value_or(kHttpsPort);
    issuer.explicit_port = authority->port.has_value();
    issuer.path_prefix = std::string(without_trailing_slash(parts->path));
    return issuer;
}

bool host_matches_issuer(const IssuerUrl& issuer, std::string_view host_header) {
    std::string_view host = host_header;
    const std::size_t colon = host_header.rfind(':');
    if (colon != std::string_view::npos) {
        const std::optional<std::uint16_t> port = parse_port(host_header.substr(colon + 1));
        if (!port || *port != issuer.port) return false;
        host = host_header.substr(0, colon);
    } else if (issuer.port != kHttpsPort) {
        return false;
    }
    return equals_ignore_case(host, issuer.host);
}

std::string UpstreamUrl::url_for(std::string_view path) const {
    std::string url = https ? "https://" : "http://";
    if (host.find(':') != std::string::npos) {
        // Appended piecewise: `"[" + host + "]"` trips GCC 12's -Wrestrict false positive at -O3.
        url += '[';
        url += host;
        url += ']';
    } else {
        url += host;
    }
    if (port != (https ? kHttpsPort : kHttpPort)) {
        url += ':';  // piecewise for the same GCC 12 false positive
        url += std::to_string(port);
    }
    url += base_path;
    url += path;
    return url;
}

std::optional<UpstreamUrl> parse_upstream_url(std::string_view text, std::string* error) {
    std::string scratch;
    std::string* reason = error != nullptr ? error : &scratch;
    const std::optional<UrlParts> parts = split_url(text, reason);
    if (!parts) return std::nullopt;
    if (parts->scheme != "https" && parts->scheme != "http") {
        *reason = "upstream URL must start with \"https://\" or \"http://\" (lowercase)";
        return std::nullopt;
    }
    const std::optional<Authority> authority =
        parse_authority(parts->authority, /*allow_ipv6=*/true, reason);
    if (!authority) return std::nullopt;
    if (!check_path(parts->path, reason)) return std::nullopt;

    UpstreamUrl upstream;
    upstream.text = std::string(text);
    upstream.https = parts->scheme == "https";
    upstream.host = authority->host;
    upstream.port = authority->port.value_or(upstream.https ? kHttpsPort : kHttpPort);
    upstream.base_path = std::string(without_trailing_slash(parts->path));
    return upstream;
}

std::optional<std::string> jwks_path_for_issuer(const IssuerUrl& issuer, std::string_view jwks_uri,
                                                std::string* error) {
    std::string scratch;
    std::string* reason = error != nullptr ? error : &scratch;
    const std::optional<UrlParts> parts = split_url(jwks_uri, reason);
    if (!parts) return std::nullopt;
    if (parts->scheme != "https") {
        *reason = "jwks_uri must start with \"https://\"";
        return std::nullopt;
    }
    const std::optional<Authority> authority =
        parse_authority(parts->authority, /*allow_ipv6=*/false, reason);
    if (!authority) return std::nullopt;
    if (authority->host != issuer.host) {
        *reason = "jwks_uri host differs from the issuer host \"" + issuer.host + "\"";
        return std::nullopt;
    }
    if (authority->port.value_or(kHttpsPort) != issuer.port) {
        *reason = "jwks_uri port differs from the issuer port " + std::to_string(issuer.port);
        return std::nullopt;
    }
    if (!check_path(parts->path, reason)) return std::nullopt;
    const std::string required_prefix = issuer.path_prefix + "/";
    if (!parts->path.starts_with(required_prefix) || parts->path.size() == required_prefix.size()) {
        *reason = "jwks_uri path must lie under the issuer path \"" + required_prefix + "\"";
        return std::nullopt;
    }
    if (parts->path == issuer.discovery_path()) {
        *reason = "jwks_uri must not be the discovery document's own path";
        return std::nullopt;
    }
    return std::string(parts->path);
}

}  // namespace oidcgw
