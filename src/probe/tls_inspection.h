// Looking at a TLS server from the outside, as a relying party would: one handshake with a
// pinned protocol version, the certificate chain exactly as presented, and checks of that chain
// (order, duplicates, trust, names). Shared by `probe` and `thumbprint`.
#pragma once

#include "common/raii.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

// HOST:PORT, where HOST is a DNS name, an IPv4 address or a bracketed IPv6 address.
struct Endpoint {
    std::string host;  // without brackets
    std::uint16_t port = 443;

    std::string to_string() const;  // "host:port", "[::1]:port"
};

// Parses "HOST:PORT", "[IPV6]:PORT", or (when default_port is set) a HOST alone. nullopt with
// *error set otherwise.
std::optional<Endpoint> parse_endpoint(std::string_view text,
                                       std::optional<std::uint16_t> default_port,
                                       std::string* error);

enum class TlsVersion { Any, Tls12, Tls13 };  // Any: TLS 1.2 or newer, as negotiated

struct HandshakeResult {
    bool ok = false;
    std::string error;           // when !ok: connect or TLS failure, one line
    std::string version;         // "TLSv1.2"
    std::string cipher;          // "ECDHE-ECDSA-AES128-GCM-SHA256"
    std::vector<X509Ptr> chain;  // as presented, leaf first
};

// Connects to `dial`, sends `server_name` as SNI (unless it is an IP address) and completes a
// handshake limited to `version`, without verifying anything: the caller judges the chain.
// The whole exchange is bounded by `timeout`.
HandshakeResult tls_handshake(const std::string& server_name, const Endpoint& dial,
                              TlsVersion version, std::chrono::milliseconds timeout);

// Problems with the order and content of a presented chain.
struct ChainFindings {
    std::vector<std::string> errors;    // out of order, duplicated or unrelated certificates
    std::vector<std::string> warnings;  // e.g. a self-signed root sent along
};
ChainFindings inspect_chain(const std::vector<X509Ptr>& chain);

struct TrustResult {
    bool trusted = false;
    std::string error;  // why not, as OpenSSL's verifier puts it
};

// Verifies the presented chain (the leaf, the rest as untrusted intermediates) for TLS server
// use against the PEM bundle `ca_file`, or the system store when it is empty. Names are not
// checked here (see certificate_names_host).
TrustResult verify_chain_trust(const std::vector<X509Ptr>& chain, const std::string& ca_file);

// The leaf's subjectAltName covers `host` (a DNS name or an IP address). The subject's CN is
// ignored, as browsers and the identity providers' HTTP clients ignore it.
bool certificate_names_host(X509* leaf, const std::string& host);

// True for a certificate that issued itself (names match and its own key verifies it).
bool is_self_signed(X509* certificate);

}  // namespace oidcgw
