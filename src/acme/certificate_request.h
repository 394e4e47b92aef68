// The key and the certificate signing request an ACME order is finalized with (RFC 8555 §7.4),
// and the subjectAltName extension the request and the TLS-ALPN-01 challenge certificate share.
#pragma once

#include "common/raii.h"

#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

enum class CertificateKeyType { EcdsaP256, Rsa2048 };

// A fresh private key (P-256 also serves as the ACME account key); null when OpenSSL fails.
EvpPkeyPtr generate_private_key(CertificateKeyType type);

// The key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); "" when OpenSSL fails.
std::string private_key_pem(EVP_PKEY* key);

// A non-critical subjectAltName extension with each name as a dNSName, in order. Null with
// *error set when the list is empty or a name is empty or not printable ASCII (an
// internationalized name goes in its xn-- form).
X509ExtensionPtr dns_subject_alt_name(const std::vector<std::string>& dns_names,
                                      std::string* error);

// The DER bytes of a PKCS#10 request signed with `key` and SHA-256: subject CN = dns_names[0]
// (no subject when that name is longer than the 64 bytes a CN holds, the subjectAltName then
// critical, as RFC 5280 §4.2.1.6 asks) and every name as a dNSName in the subjectAltName, which
// is all that ACME CAs read.
std::optional<std::string> certificate_signing_request(const std::vector<std::string>& dns_names,
                                                       EVP_PKEY* key, std::string* error);

}  // namespace oidcgw
