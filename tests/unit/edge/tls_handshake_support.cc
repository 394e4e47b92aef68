#include "tls_handshake_support.h"

#include "tls_test_support.h"

#include <openssl/err.h>

namespace oidcgw::testing {
namespace {

std::string common_name_of(X509* certificate) {
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, name,
                              sizeof name);
    return name;
}

// Client side: every session the server hands out (TLS 1.3 tickets arrive after the handshake).
int remember_session(SSL* ssl, SSL_SESSION* session) {
    auto* result = static_cast<HandshakeResult*>(SSL_get_app_data(ssl));
    ++result->tickets_received;
    result->session.reset(session);
    return 1;  // we own it now
}

}  // namespace

HandshakeResult handshake(SSL_CTX* server_context, const ClientOptions& options) {
    HandshakeResult result;
    SslCtxPtr client_context = new_test_client_context(options.min_version, options.max_version,
                                                       options.no_tickets, remember_session);
    if (!options.tls12_ciphers.empty()) {
        EXPECT_EQ(SSL_CTX_set_cipher_list(client_context.get(), options.tls12_ciphers.c_str()), 1);
    }
    if (!options.signature_algorithms.empty()) {
        EXPECT_EQ(
            SSL_CTX_set1_sigalgs_list(client_context.get(), options.signature_algorithms.c_str()),
            1);
    }
    if (!options.verify_host.empty()) {
        EXPECT_EQ(
            SSL_CTX_load_verify_locations(client_context.get(), options.ca_file.c_str(), nullptr),
            1);
        SSL_CTX_set_verify(client_context.get(), SSL_VERIFY_PEER, nullptr);
    }
    if (!options.alpn.empty()) {
        EXPECT_EQ(
            SSL_CTX_set_alpn_protos(client_context.get(),
                                    reinterpret_cast<const unsigned char*>(options.alpn.data()),
                                    static_cast<unsigned>(options.alpn.size())),
            0);
    }

    SslPtr client(SSL_new(client_context.get()));
    SslPtr server(SSL_new(server_context));
    if (!client || !server) {
        result.failure = "SSL_new: " + take_openssl_errors();
        return result;
    }
    SSL_set_app_data(client.get(), &result);
    if (!options.sni.empty()) SSL_set_tlsext_host_name(client.get(), options.sni.c_str());
    if (!options.verify_host.empty()) SSL_set1_host(client.get(), options.verify_host.c_str());
    // A copy: OpenSSL clients use a TLS 1.3 session once, and tests resume one session twice.
    const SslSessionPtr resume(options.resume != nullptr ? SSL_SESSION_dup(options.resume)
                                                         : nullptr);
    if (resume) SSL_set_session(client.get(), resume.get());

    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    if (BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) {
        result.failure = "BIO_new_bio_pair: " + take_openssl_errors();
        return result;
    }
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());

    // Each round moves every pending flight across; a TLS handshake needs a handful.
    bool client_done = false;
    bool server_done = false;
    // One side's next step; false when that side failed (result.failure then says how).
    const auto step = [&result](SSL* ssl, const char* side, bool* done) {
        const int status = SSL_do_handshake(ssl);
        const int error = SSL_get_error(ssl, status);
        if (status == 1) {
            *done = true;
        } else if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
            if (SSL_is_server(ssl) == 1) {
                result.server_error_reason = ERR_GET_REASON(ERR_peek_error());
            }
            result.failure = std::string(side) + ": " + take_openssl_errors();
            return false;
        }
        return true;
    };
    for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
        if (!client_done && !step(client.get(), "client", &client_done)) return result;
        if (!server_done && !step(server.get(), "server", &server_done)) return result;
    }
    if (!client_done || !server_done) {
        result.failure = "the handshake did not finish";
        return result;
    }
    // Let the client read what followed the handshake (TLS 1.3 NewSessionTicket messages).
    char byte = 0;
    EXPECT_LE(SSL_read(client.get(), &byte, 1), 0);
    ERR_clear_error();

    result.completed = true;
    X509* peer = SSL_get0_peer_certificate(client.get());
    if (peer != nullptr) {
        result.peer_common_name = common_name_of(peer);
        result.peer_key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(peer));
    }
    result.version = SSL_version(client.get());
    result.reused = SSL_session_reused(client.get()) == 1;
    const unsigned char* selected = nullptr;
    unsigned int selected_length = 0;
    SSL_get0_alpn_selected(client.get(), &selected, &selected_length);
    result.alpn.assign(reinterpret_cast<const char*>(selected), selected_length);
    if (!result.session) result.session.reset(SSL_get1_session(client.get()));
    // Close cleanly: OpenSSL forgets the session of a connection freed without close_notify
    // (on both ends), as it would for an aborted one.
    SSL_shutdown(client.get());
    SSL_shutdown(server.get());
    ERR_clear_error();
    SSL_set_app_data(client.get(), nullptr);
    return result;
}

std::string ticket_of(const SSL_SESSION* session) {
    const unsigned char* ticket = nullptr;
    std::size_t length = 0;
    SSL_SESSION_get0_ticket(session, &ticket, &length);
    return std::string(reinterpret_cast<const char*>(ticket), length);
}

std::string version_label(int max_version) {
    return max_version == 0 ? "TLS 1.3" : "TLS 1.2";
}

ClientOptions client_options(const std::string& sni, int max_version) {
    ClientOptions options;
    options.sni = sni;
    options.max_version = max_version;
    return options;
}

}  // namespace oidcgw::testing
