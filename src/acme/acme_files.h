// What the ACME client keeps in cache_dir/acme (mode 0700; files 0600, each written whole by a
// rename, so a crash or a second gateway sharing the directory never leaves half a file):
//   account.key      the account's ECDSA P-256 key (PKCS#8 PEM)
//   account.json     {"directory_url": ..., "account_url": ...}
//   certificate.key  the certificate's key; written before the chain it belongs to
//   certificate.pem  the chain as the CA gave it
//   lock             held (flock) by the gateway that is ordering, so that gateways sharing the
//                    directory never order at once or overwrite each other's files mid-order
// Everything read back is checked again: a file tampered with or cut short is refused with the
// reason, never served.
#pragma once

#include "common/certificate_chain.h"
#include "common/raii.h"

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

class AcmeFiles {
  public:
    explicit AcmeFiles(const std::string& cache_dir);

    const std::string& directory() const { return directory_; }
    std::string certificate_path() const { return directory_ + "/certificate.pem"; }
    std::string certificate_key_path() const { return directory_ + "/certificate.key"; }
    std::string account_key_path() const { return directory_ + "/account.key"; }

    // Creates cache_dir/acme (0700) when missing.
    bool ensure_directory(std::string* error) const;

    // The account key; null with *missing when there is none yet, or with *error when the file is
    // not a P-256 private key.
    EvpPkeyPtr load_account_key(bool* missing, std::string* error) const;
    bool save_account_key(EVP_PKEY* key, std::string* error) const;
    // The account URL recorded for `directory_url`, or "" (none, or one for another CA).
    std::string load_account_url(const std::string& directory_url) const;
    bool save_account_url(const std::string& directory_url, const std::string& account_url,
                          std::string* error) const;

    // The certificate and its key, through the same checks as a configured certificate (chain
    // order, key match, not expired at `now`), and naming every one of `names`. nullopt with
    // *missing when there is no certificate, else with *error saying what is wrong.
    std::shared_ptr<const CertificateMaterial> load_certificate(
        const std::vector<std::string>& names, std::time_t now, bool* missing,
        std::string* error) const;
    // Key first, then chain: a crash between the two leaves a pair that load_certificate refuses
    // (the key does not match) rather than a certificate with the wrong key.
    bool save_certificate(const std::string& chain_pem, EVP_PKEY* key, std::string* error) const;

    // The ordering lock, not waited for: held while the returned descriptor is open; an invalid
    // one when another process holds it (*busy) or on error.
    UniqueFd try_lock(bool* busy, std::string* error) const;

  private:
    std::string directory_;
};

// Whether `material`'s leaf names every one of `names` (DNS subjectAltNames, no wildcards
// counted), and which one it lacks first.
bool certificate_covers(const CertificateMaterial& material, const std::vector<std::string>& names,
                        std::string* missing_name);

}  // namespace oidcgw
