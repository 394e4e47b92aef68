// Small pieces the TLS tests' own clients share (the unit tests' in-memory handshakes and the
// end-to-end tests' raw socket clients).
#pragma once

#include "common/raii.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

namespace oidcgw::testing {

// Every error queued for this thread, oldest first and separated by "; ", taking them off the
// queue ("" when there are none).
inline std::string take_openssl_errors() {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        text += std::string(text.empty() ? "" : "; ") + buffer;
    }
    return text;
}

// A client context that hands every session it gets to `on_new_session` (and keeps none in
// OpenSSL's internal cache), within [min_version, max_version] (0: OpenSSL's bound), without
// session tickets when `no_tickets`.
inline SslCtxPtr new_test_client_context(int min_version, int max_version, bool no_tickets,
                                         int (*on_new_session)(SSL*, SSL_SESSION*)) {
    SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_session_cache_mode(context.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context.get(), on_new_session);
    if (min_version != 0) SSL_CTX_set_min_proto_version(context.get(), min_version);
    if (max_version != 0) SSL_CTX_set_max_proto_version(context.get(), max_version);
    if (no_tickets) SSL_CTX_set_options(context.get(), SSL_OP_NO_TICKET);
    return context;
}

}  // namespace oidcgw::testing
