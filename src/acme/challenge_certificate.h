// The self-signed certificate that answers an ACME TLS-ALPN-01 challenge (RFC 8737 §3): served
// only in a handshake that negotiated "acme-tls/1" for the name being validated.
#pragma once

#include "common/raii.h"

#include <string>
#include <string_view>

namespace oidcgw {

// RFC 8737 §3's id-pe-acmeIdentifier.
inline constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

// A v3 certificate signed by `key` (an EC P-256 key) with SHA-256: a random positive serial,
// valid from an hour ago for 7 days, a subjectAltName holding exactly one dNSName (dns_name),
// and the critical acmeIdentifier extension whose value is the DER OCTET STRING of
// SHA-256(key_authorization) (04 20 <32 bytes>). Null with *error set when OpenSSL refuses.
X509Ptr tls_alpn_challenge_certificate(std::string_view dns_name,
                                       std::string_view key_authorization, EVP_PKEY* key,
                                       std::string* error);

}  // namespace oidcgw
