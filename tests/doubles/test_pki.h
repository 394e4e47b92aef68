// Throwaway certificate authorities and certificates for tests, made with OpenSSL in memory and
// written as PEM files into a directory the test owns.
#pragma once

#include "acme/certificate_request.h"
#include "common/raii.h"

#include <string>
#include <vector>

namespace oidcgw::testing {

// The gateway's own key types (EcdsaP256, Rsa2048), made by the same generator.
using KeyType = CertificateKeyType;

struct IssuedFiles {
    std::string certificate{};  // PEM file path: leaf, then (if any) the intermediate
    std::string private_key{};  // PEM file path (PKCS#8)
};

struct CertificateRequest {
    std::string common_name{};
    std::vector<std::string> dns_names{};     // subjectAltName DNS entries
    std::vector<std::string> ip_addresses{};  // subjectAltName IP entries, e.g. "127.0.0.1"
    bool client = false;                      // extendedKeyUsage clientAuth instead of serverAuth
    KeyType key_type = KeyType::EcdsaP256;
    long valid_from_offset_seconds = -3600;    // notBefore relative to now
    long valid_for_seconds = 30L * 24 * 3600;  // notAfter = now + this
    bool include_intermediate = false;         // issue from an intermediate CA; the file holds both
    // Issue from a second-level intermediate ("Issuing CA" under "Policy CA" under the root);
    // the file holds leaf, Issuing CA, Policy CA. Takes precedence over include_intermediate.
    bool include_two_intermediates = false;
};

// A root CA (self-signed, EC P-256) plus an intermediate under it, kept in memory, writing
// everything under `directory` with file names derived from `name`.
class TestPki {
  public:
    TestPki(std::string directory, std::string name);

    const std::string& ca_file() const { return ca_file_; }  // the root, PEM

    // Issues a certificate and writes its files; file names derive from request.common_name
    // (call with distinct names).
    IssuedFiles issue(const CertificateRequest& request);

  private:
    std::string directory_;
    std::string name_;
    std::string ca_file_;
    EvpPkeyPtr ca_key_;
    X509Ptr ca_certificate_;
    EvpPkeyPtr intermediate_key_;
    X509Ptr intermediate_certificate_;
    EvpPkeyPtr policy_key_;  // the two-intermediate chain, made on first use
    X509Ptr policy_certificate_;
    EvpPkeyPtr issuing_key_;
    X509Ptr issuing_certificate_;
    long next_serial_ = 2;
};

// PEM text of a certificate, and of a private key (PKCS#8).
std::string certificate_pem(X509* certificate);
std::string private_key_pem(EVP_PKEY* key);

// A fresh temporary directory removed (recursively) by the destructor.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

// Whether `part` occurs in `text` (for messages a test looks into).
inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Reads/writes a whole file; throw std::runtime_error on failure.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

// The OpenSSL CLI's SHA-1 fingerprint of the first certificate in `pem_file`, lowercase hex
// without colons: an independent computation of what `thumbprint` prints. Throws
// std::runtime_error with the CLI's output when it gives none.
std::string openssl_cli_sha1(const std::string& pem_file);

}  // namespace oidcgw::testing
