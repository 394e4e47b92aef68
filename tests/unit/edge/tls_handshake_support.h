// In-memory TLS handshakes against a public TLS context (a BIO pair per connection, both ends in
// this thread) and the fixture the context's tests share: tls_server_context_test.cc (profile,
// certificates, SNI) and tls_session_resumption_test.cc (tickets and the session cache).
#pragma once

#include "edge/session_tickets.h"
#include "edge/tls_server_context.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

namespace oidcgw::testing {

using SslSessionPtr = std::unique_ptr<SSL_SESSION, CDeleter<SSL_SESSION_free>>;

struct ClientOptions {
    std::string sni{};          // empty: no SNI
    std::string verify_host{};  // non-empty: verify the chain against ca_file and this name
    std::string ca_file{};      // with verify_host
    std::string signature_algorithms{};  // empty: OpenSSL's default list
    std::string tls12_ciphers{};         // empty: OpenSSL's default list
    int min_version = 0;
    int max_version = 0;
    bool no_tickets = false;  // TLS 1.2 session IDs only
    std::string alpn{};       // wire format, empty: no ALPN
    SSL_SESSION* resume = nullptr;
};

struct HandshakeResult {
    bool completed = false;
    std::string failure{};
    int server_error_reason = 0;  // ERR_GET_REASON of the server's first error, when it failed
    std::string peer_common_name{};
    int peer_key_type = 0;  // EVP_PKEY_EC, EVP_PKEY_RSA
    int version = 0;
    bool reused = false;
    std::string alpn{};
    int tickets_received = 0;
    SslSessionPtr session{};  // the newest session the client got
};

// One connection between a fresh client and `server_context`, both ends in this thread.
HandshakeResult handshake(SSL_CTX* server_context, const ClientOptions& options);

// The ticket bytes of a session the client got.
std::string ticket_of(const SSL_SESSION* session);

// The resumption tests run under both versions: 0 (the client's highest, TLS 1.3) and TLS 1.2.
inline constexpr int kTls13AndTls12[] = {0, TLS1_2_VERSION};

// "TLS 1.3" or "TLS 1.2", for one of kTls13AndTls12.
std::string version_label(int max_version);

// A client asking for `sni`, at most `max_version` (0: the highest).
ClientOptions client_options(const std::string& sni, int max_version = 0);

class TlsServerContextTest : public ::testing::Test {
  protected:
    IssuedFiles issue(const std::string& common_name, std::vector<std::string> dns_names,
                      KeyType key_type = KeyType::EcdsaP256, bool with_intermediate = false) {
        CertificateRequest request;
        request.common_name = common_name;
        request.dns_names = std::move(dns_names);
        request.key_type = key_type;
        request.include_intermediate = with_intermediate;
        return pki_.issue(request);
    }

    static CertificateFiles files(const IssuedFiles& issued) {
        return CertificateFiles{issued.certificate, issued.private_key};
    }

    SharedSslCtx build(const std::vector<CertificateFiles>& certificates,
                       PublicTlsProfile profile = TlsMinVersion::Tls12,
                       std::shared_ptr<SessionTicketKeys> keys = nullptr) {
        std::string error;
        warnings_.clear();
        SharedSslCtx context = build_public_tls_context(
            certificates, profile, keys ? keys : ticket_keys_, {}, &warnings_, &error);
        EXPECT_TRUE(context) << error;
        EXPECT_TRUE(error.empty()) << error;
        return context;
    }

    std::string build_error(const std::vector<CertificateFiles>& certificates) {
        std::string error;
        warnings_.clear();
        EXPECT_FALSE(build_public_tls_context(certificates, TlsMinVersion::Tls12, ticket_keys_, {},
                                              &warnings_, &error));
        EXPECT_FALSE(error.empty());
        return error;
    }

    // Connects with `sni` and returns the served certificate's common name ("" on failure).
    std::string served_for(SSL_CTX* context, const std::string& sni, bool verify = false) {
        ClientOptions options;
        options.sni = sni;
        if (verify) {
            options.verify_host = sni;
            options.ca_file = pki_.ca_file();
        }
        const HandshakeResult result = handshake(context, options);
        EXPECT_TRUE(result.completed) << sni << ": " << result.failure;
        return result.peer_common_name;
    }

    TempDir dir_;
    TestPki pki_{dir_.path(), "tls"};
    std::shared_ptr<SessionTicketKeys> ticket_keys_ = std::make_shared<SessionTicketKeys>();
    std::vector<std::string> warnings_;
};

}  // namespace oidcgw::testing
