// URLs the gateway deals in: the public issuer it serves and the private upstreams it fetches from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

// Another authority whose requests get an issuer's documents (issuers[].aliases): HOST[:PORT],
// HOST a DNS name or IPv4 address, typically a private name on a private listener for Consul
// and Vault. The documents are served unchanged: they still name the public issuer.
struct IssuerAlias {
    std::string text;  // as configured
    std::string host;  // lowercased
    std::uint16_t port = 443;
};

// Parses an alias; nullopt with *error saying why.
std::optional<IssuerAlias> parse_issuer_alias(std::string_view text, std::string* error);

// A public issuer URL: https://HOST[:PORT][/PREFIX], no userinfo, query or fragment.
struct IssuerUrl {
    std::string
        text;  // exactly as configured; the discovery `issuer` must equal this byte for byte
    std::string host;  // lowercased host name or IPv4 address
    std::uint16_t port = 443;
    bool explicit_port = false;  // true when the URL names a port (even :443)
    std::string path_prefix;     // "" or "/a/b": the URL path without its trailing slash
    // Other authorities answered like this one, at the same paths (set from issuers[].aliases;
    // parse_issuer_url leaves it empty).
    std::vector<IssuerAlias> aliases;

    // Paths the gateway serves for this issuer.
    std::string discovery_path() const { return path_prefix + "/.well-known/openid-configuration"; }
    std::string default_jwks_path() const { return path_prefix + "/.well-known/jwks.json"; }
};

// Parses and checks an issuer URL. Path segments may only use unreserved and sub-delim characters
// (no '%', no empty, "." or ".." segments) because the gateway serves such paths literally.
std::optional<IssuerUrl> parse_issuer_url(std::string_view text, std::string* error);

// True when an HTTP Host header value names this issuer's authority or one of its aliases:
// case-insensitive host; the port must match, and may be omitted when it is 443.
bool host_matches_issuer(const IssuerUrl& issuer, std::string_view host_header);

// A private upstream base URL: http(s)://HOST[:PORT][/BASE], no userinfo, query or fragment.
// HOST may be a name, an IPv4 address or a bracketed IPv6 address.
struct UpstreamUrl {
    std::string text;  // as configured
    bool https = true;
    std::string host;        // without brackets
    std::uint16_t port = 0;  // defaulted to 80/443 when absent
    std::string base_path;   // "" or "/base", without trailing slash

    // The full URL of `path` (which starts with '/') on this upstream.
    std::string url_for(std::string_view path) const;
};

std::optional<UpstreamUrl> parse_upstream_url(std::string_view text, std::string* error);

// Checks a discovery document's `jwks_uri` against the issuer: https, same host (case-insensitive)
// and port, no query or fragment, a path under the issuer's prefix that the gateway can serve
// literally. Returns the public path to serve the JWKS at, or nullopt with *error set.
std::optional<std::string> jwks_path_for_issuer(const IssuerUrl& issuer, std::string_view jwks_uri,
                                                std::string* error);

}  // namespace oidcgw
