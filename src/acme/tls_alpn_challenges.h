// The TLS-ALPN-01 answers (RFC 8737) pending now: the ACME client adds one per name while the CA
// validates it and removes it after; the public listeners' ClientHello callback looks a name up
// for a handshake that offers `acme-tls/1`. Shared between the ACME thread and every worker.
#pragma once

#include "common/raii.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace oidcgw {

// The self-signed certificate with the acmeIdentifier extension, and its key.
struct TlsAlpnAnswer {
    X509Ptr certificate;
    EvpPkeyPtr private_key;
};

class TlsAlpnChallenges {
  public:
    // Serves `answer` to acme-tls/1 handshakes for `dns_name` (matched without regard to case)
    // until removed; replaces an answer for the same name.
    void add(std::string_view dns_name, std::shared_ptr<const TlsAlpnAnswer> answer);
    void remove(std::string_view dns_name);
    void clear();

    // The answer for `server_name`, or null. The caller's reference keeps it alive while the
    // ACME thread removes it.
    std::shared_ptr<const TlsAlpnAnswer> find(std::string_view server_name) const;
    std::size_t size() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const TlsAlpnAnswer>, std::less<>> answers_;
};

}  // namespace oidcgw
