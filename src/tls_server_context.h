// The public side's TLS: Mozilla "intermediate" (TLS 1.2 and 1.3, ECDHE with AEAD only), the
// configured chains served exactly as given, HTTP/1.1 ALPN.
#pragma once

#include "config.h"
#include "raii.h"

#include <memory>
#include <string>

namespace oidcgw {

// Shared between workers; each SSL holds its own reference, so a context can be replaced while
// connections made with the old one carry on.
using SharedSslCtx = std::shared_ptr<SSL_CTX>;

// Loads every certificate (one per key type: an RSA and an ECDSA certificate may be combined and
// the client's signature algorithms pick). Returns null with *error naming the config key.
SharedSslCtx build_public_tls_context(const std::vector<CertificateFiles>& certificates,
                                      std::string* error);

}  // namespace oidcgw
