// Loading and checking PEM certificate chains and private keys, shared by `check`, the public TLS
// context and the upstream client.
#pragma once

#include "common/raii.h"

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

// A certificate the gateway presents that expires sooner than this is worth a warning: at load
// (the public TLS context), in /status and the metrics, and in the probe's tls.validity row.
inline constexpr std::chrono::hours kCertificateExpiryWarning{14 * 24};

// Every certificate in a PEM file, in file order. Empty with *error set when the file cannot be
// read, holds no certificate, or holds anything that does not parse.
std::vector<X509Ptr> load_certificate_chain(const std::string& path, std::string* error);

// The certificates as PEM text, in order ("" when one cannot be written).
std::string certificates_pem(const std::vector<X509Ptr>& certificates);

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

// The DNS subjectAltNames alone, as written and in certificate order (no IP addresses).
std::vector<std::string> certificate_dns_names(X509* certificate);

// Which of the two files a CertificateLoadError is about.
enum class CertificateFile { Certificate, PrivateKey };

struct CertificateLoadError {
    CertificateFile file = CertificateFile::Certificate;
    std::string message;  // names the file by its path; never holds key bytes
};

// A certificate file and its private key, loaded and checked together: what the public TLS
// context serves, and what `check` and /status describe.
struct CertificateMaterial {
    std::string certificate_path;
    std::vector<X509Ptr> chain;  // leaf first, each certificate issued by the next
    EvpPkeyPtr private_key;      // belongs to the leaf
    std::string subject;         // the leaf's, as certificate_subject gives it
    std::time_t not_before = 0;  // the leaf's
    std::time_t not_after = 0;
    std::vector<std::string> dns_names;  // the leaf's, as certificate_dns_names gives them

    X509* leaf() const { return chain.front().get(); }
};

// The material, or the first error (std::expected is C++23).
struct CertificateLoad {
    std::optional<CertificateMaterial> material;
    CertificateLoadError error;  // when there is no material

    explicit operator bool() const { return material.has_value(); }
};

// The one loading sequence for a certificate and its key, each file read once: the chain loads,
// the key loads, the chain is in order (check_chain_order), the key belongs to the leaf
// (check_key_matches; its message then ends with ` in "<certificate_path>"`), and, when
// `refuse_expired_at` is given, the leaf has not expired by then (check_not_expired). Stops at
// the first failure.
CertificateLoad load_certificate_material(const std::string& certificate_path,
                                          const std::string& private_key_path,
                                          std::optional<std::time_t> refuse_expired_at);

// An error about the certificate file when the leaf's notAfter is at or before `now`:
// `certificate "<subject>" in "<path>" expired on <date> (notAfter)`.
std::optional<CertificateLoadError> check_not_expired(const CertificateMaterial& material,
                                                      std::time_t now);

}  // namespace oidcgw
