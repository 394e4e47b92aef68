#include "tls_server_context.h"

#include "certificate_chain.h"

#include <openssl/err.h>

#include <set>

namespace oidcgw {
namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

int select_http11(SSL*, const unsigned char** out, unsigned char* out_length,
                  const unsigned char* offered, unsigned int offered_length, void*) {
    static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, kHttp11, sizeof kHttp11, offered,
                              offered_length) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    // A client that offers only h2 still gets HTTP/1.1 without ALPN rather than a failed
    // handshake.
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

SharedSslCtx build_public_tls_context(const std::vector<CertificateFiles>& certificates,
                                      std::string* error) {
    SharedSslCtx context(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!context) {
        *error = "tls: cannot create a TLS context: " + openssl_error();
        return nullptr;
    }
    SSL_CTX* ctx = context.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_max_early_data(ctx, 0);
    if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
        SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
        *error = "tls: cannot set the cipher profile: " + openssl_error();
        return nullptr;
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
    static const unsigned char kSessionContext[] = "oidc-gateway";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);

    std::set<int> key_types_loaded;
    for (std::size_t i = 0; i < certificates.size(); ++i) {
        const std::string key = "tls.certificates[" + std::to_string(i) + "]";
        std::string problem;
        auto chain = load_certificate_chain(certificates[i].certificate, &problem);
        if (chain.empty()) {
            *error = key + ".certificate: " + problem;
            return nullptr;
        }
        auto private_key = load_private_key(certificates[i].private_key, &problem);
        if (!private_key) {
            *error = key + ".private_key: " + problem;
            return nullptr;
        }
        if (!check_chain_order(chain, &problem)) {
            *error = key + ".certificate: " + problem;
            return nullptr;
        }
        if (!check_key_matches(chain.front().get(), private_key.get(), &problem)) {
            *error = key + ".private_key: " + problem;
            return nullptr;
        }
        const int key_type = EVP_PKEY_get_base_id(private_key.get());
        if (!key_types_loaded.insert(key_type).second) {
            *error = key +
                     ": a second certificate with the same key type; combine at most one RSA "
                     "and one ECDSA certificate";
            return nullptr;
        }
        // SSL_CTX_use_certificate selects the slot for this key type; the chain certificates
        // added next belong to that slot, so RSA and ECDSA chains stay separate.
        if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1 ||
            SSL_CTX_use_PrivateKey(ctx, private_key.get()) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            *error = key + ": " + openssl_error();
            return nullptr;
        }
        SSL_CTX_clear_chain_certs(ctx);
        for (std::size_t c = 1; c < chain.size(); ++c) {
            if (SSL_CTX_add1_chain_cert(ctx, chain[c].get()) != 1) {
                *error = key + ".certificate: " + openssl_error();
                return nullptr;
            }
        }
    }
    return context;
}

}  // namespace oidcgw
