// Loading and checking PEM certificate chains and private keys, shared by `check`, the public TLS
// context and the upstream client.
#pragma once

#include "common/raii.h"

#include <ctime>
#include <string>
#include <vector>

namespace oidcgw {

// Every certificate in a PEM file, in file order. Empty with *error set when the file cannot be
// read, holds no certificate, or holds anything that does not parse.
std::vector<X509Ptr> load_certificate_chain(const std::string& path, std::string* error);

// The private key in a PEM file (PKCS#8, traditional RSA/EC). Never puts key bytes in *error.
EvpPkeyPtr load_private_key(const std::string& path, std::string* error);

// Leaf first, then each certificate issued by the next one (X509_check_issued). A self-signed
// root at the end is allowed.
bool check_chain_order(const std::vector<X509Ptr>& chain, std::string* error);

// The private key belongs to the certificate.
bool check_key_matches(X509* certificate, EVP_PKEY* key, std::string* error);

// Subject (one line, RFC 2253), DNS/IP SANs, notAfter as time_t.
std::string certificate_subject(X509* certificate);
std::vector<std::string> certificate_sans(X509* certificate);
std::time_t certificate_not_after(X509* certificate);
std::time_t certificate_not_before(X509* certificate);

}  // namespace oidcgw
