#include "config/issuer_url.h"

#include "common/ascii.h"
#include "common/host_port.h"
#include "common/text_escape.h"

#include <re2/re2.h>

#include <cstdio>
#include <string>

namespace oidcgw {
namespace {

// Long enough for any sane deployment, short enough that a hostile document cannot make us
// carry megabytes around in error messages and routing tables.
constexpr std::size_t kMaxUrlLength = 2048;
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
    if (authority.starts_with("[") && !allow_ipv6) {
        *error = "host must be a DNS name or an IPv4 address, not an IPv6 literal";
        return std::nullopt;
    }
    HostPortError shape{};
    const std::optional<HostPort> parts = split_host_port(authority, &shape);
    if (!parts) {
        *error = shape == HostPortError::UnclosedBracket
                     ? "IPv6 host is missing its closing ']'"
                     : "unexpected characters after the IPv6 host";
        return std::nullopt;
    }
    Authority result;
    if (parts->bracketed) {
        if (!is_ipv6_address(parts->host)) {
            *error = "host is not a valid IPv6 address";
            return std::nullopt;
        }
        result.ipv6 = true;
    } else {
        if (parts->host.empty()) {
            *error = "URL has no host";
            return std::nullopt;
        }
        if (!is_dns_name_or_ipv4(parts->host)) {
            *error = allow_ipv6 ? "host must be a DNS name, an IPv4 address or a bracketed IPv6 "
                                  "address"
                                : "host must be a DNS name (letters, digits, '-' and '.') or an "
                                  "IPv4 address";
            return std::nullopt;
        }
    }
    if (parts->port) {
        // An unbracketed second ':' ends up in the port text, which then is no number.
        result.port = parse_port(*parts->port);
        if (!result.port) {
            *error = "port must be a number from 1 to 65535";
            return std::nullopt;
        }
    }
    result.host = to_lower_ascii(parts->host);
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
    // Issuer hosts are names or IPv4 addresses: a bracketed Host never names one.
    const std::optional<HostPort> parts = split_host_port(host_header);
    if (!parts || parts->bracketed) return false;
    std::uint16_t port = kHttpsPort;
    if (parts->port) {
        const std::optional<std::uint16_t> parsed = parse_port(*parts->port);
        if (!parsed) return false;
        port = *parsed;
    }
    if (port == issuer.port && equals_ignoring_ascii_case(parts->host, issuer.host)) return true;
    for (const IssuerAlias& alias : issuer.aliases) {
        if (port == alias.port && equals_ignoring_ascii_case(parts->host, alias.host)) return true;
    }
    return false;
}

std::optional<IssuerAlias> parse_issuer_alias(std::string_view text, std::string* error) {
    std::string scratch;
    std::string* reason = error != nullptr ? error : &scratch;
    // The authority of an issuer URL, and nothing else: no scheme, path or userinfo.
    if (text.find_first_of("/?#@") != std::string_view::npos) {
        *reason = "must be HOST or HOST:PORT (no scheme or path), found " + quote_untrusted(text);
        return std::nullopt;
    }
    const std::optional<Authority> authority = parse_authority(text, /*allow_ipv6=*/false, reason);
    if (!authority) return std::nullopt;
    IssuerAlias alias;
    alias.text = std::string(text);
    alias.host = authority->host;
    alias.port = authority->port.value_or(kHttpsPort);
    return alias;
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
