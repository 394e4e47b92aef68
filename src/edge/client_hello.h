// What the gateway reads of a ClientHello before it chooses a certificate: the server_name and
// ALPN extensions (pure readers of the client's bytes), and the name matching that picks a
// certificate group. The callbacks that use them are private to src/edge (tls_context_state.h).
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// RFC 6125 name matching as browsers do it: case-insensitive; a trailing dot on `host_name` is
// ignored; a wildcard is only a whole left-most label `*` (`*.example.com`) standing for exactly
// one non-empty label, and needs at least two labels after it. Partial-label wildcards
// (`f*.example.com`) and wildcards elsewhere never match.
bool dns_name_matches(std::string_view pattern, std::string_view host_name);

// The host_name in a ClientHello's server_name extension body (RFC 6066 section 3), as the
// client sent it; nullopt when there is none or the extension is malformed. Pure: its input is
// the client's bytes.
std::optional<std::string> host_name_from_server_name_extension(std::string_view extension);

// True once a handshake answered a TLS-ALPN-01 challenge: the connection must end without
// reading a byte of HTTP.
bool is_acme_challenge_handshake(SSL* ssl);

// How a ClientHello's ALPN extension body (RFC 7301 section 3.1) offers `acme-tls/1`. Pure: its
// input is the client's bytes.
enum class AcmeAlpnOffer { NotOffered, Only, AmongOthers, Malformed };
AcmeAlpnOffer acme_alpn_offer(std::string_view extension);

}  // namespace oidcgw
