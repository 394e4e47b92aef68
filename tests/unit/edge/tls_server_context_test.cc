// The public TLS context, driven through real handshakes in memory (a BIO pair per connection):
// SNI selection, RSA/ECDSA selection by the client's signature algorithms, load-time checks,
// protocol versions, ALPN, and session resumption with the gateway's ticket keys.
#include "edge/tls_server_context.h"

#include "edge/session_tickets.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <thread>

namespace oidcgw::testing {
namespace {

using SslSessionPtr = std::unique_ptr<SSL_SESSION, CDeleter<SSL_SESSION_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CDeleter<EVP_CIPHER_CTX_free>>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, CDeleter<EVP_MAC_free>>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, CDeleter<EVP_MAC_CTX_free>>;

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

std::string take_errors() {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        text += std::string(text.empty() ? "" : "; ") + buffer;
    }
    return text;
}

// One connection between a fresh client and `server_context`, both ends in this thread.
HandshakeResult handshake(SSL_CTX* server_context, const ClientOptions& options) {
    HandshakeResult result;
    SslCtxPtr client_context(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_session_cache_mode(client_context.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(client_context.get(), remember_session);
    if (options.min_version != 0) {
        SSL_CTX_set_min_proto_version(client_context.get(), options.min_version);
    }
    if (options.max_version != 0) {
        SSL_CTX_set_max_proto_version(client_context.get(), options.max_version);
    }
    if (options.no_tickets) SSL_CTX_set_options(client_context.get(), SSL_OP_NO_TICKET);
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
        result.failure = "SSL_new: " + take_errors();
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
        result.failure = "BIO_new_bio_pair: " + take_errors();
        return result;
    }
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());

    // Each round moves every pending flight across; a TLS handshake needs a handful.
    bool client_done = false;
    bool server_done = false;
    for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
        if (!client_done) {
            const int status = SSL_do_handshake(client.get());
            const int error = SSL_get_error(client.get(), status);
            if (status == 1) {
                client_done = true;
            } else if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
                result.failure = "client: " + take_errors();
                return result;
            }
        }
        if (!server_done) {
            const int status = SSL_do_handshake(server.get());
            const int error = SSL_get_error(server.get(), status);
            if (status == 1) {
                server_done = true;
            } else if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
                result.server_error_reason = ERR_GET_REASON(ERR_peek_error());
                result.failure = "server: " + take_errors();
                return result;
            }
        }
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
            certificates, profile, keys ? keys : ticket_keys_, &warnings_, &error);
        EXPECT_TRUE(context) << error;
        EXPECT_TRUE(error.empty()) << error;
        return context;
    }

    std::string build_error(const std::vector<CertificateFiles>& certificates) {
        std::string error;
        warnings_.clear();
        EXPECT_FALSE(build_public_tls_context(certificates, TlsMinVersion::Tls12, ticket_keys_,
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

TEST(DnsNameMatchesTest, FollowsRfc6125AsBrowsersDo) {
    EXPECT_TRUE(dns_name_matches("oidc.example.com", "oidc.example.com"));
    EXPECT_TRUE(dns_name_matches("oidc.example.com", "OIDC.Example.COM"));
    EXPECT_TRUE(dns_name_matches("oidc.example.com", "oidc.example.com."));
    EXPECT_FALSE(dns_name_matches("oidc.example.com", "oidc.example.co"));
    EXPECT_FALSE(dns_name_matches("oidc.example.com", "xoidc.example.com"));
    EXPECT_FALSE(dns_name_matches("oidc.example.com", ""));

    EXPECT_TRUE(dns_name_matches("*.example.com", "www.example.com"));
    EXPECT_TRUE(dns_name_matches("*.Example.com", "WWW.example.COM"));
    EXPECT_TRUE(dns_name_matches("*.example.com", "xn--bcher-kva.example.com"));
    EXPECT_FALSE(dns_name_matches("*.example.com", "example.com"));      // exactly one label
    EXPECT_FALSE(dns_name_matches("*.example.com", "a.b.example.com"));  // not two
    EXPECT_FALSE(dns_name_matches("*.example.com", ".example.com"));     // not an empty one
    EXPECT_FALSE(dns_name_matches("*.example.com", "wwwexample.com"));
    EXPECT_FALSE(dns_name_matches("*.com", "example.com"));  // a wildcard needs two labels after
    EXPECT_FALSE(dns_name_matches("f*.example.com", "foo.example.com"));  // no partial labels
    EXPECT_FALSE(dns_name_matches("*o.example.com", "foo.example.com"));
    EXPECT_FALSE(dns_name_matches("www.*.example.com", "www.a.example.com"));
    EXPECT_FALSE(dns_name_matches("*.*.example.com", "a.b.example.com"));
    EXPECT_FALSE(dns_name_matches("*", "localhost"));
}

TEST_F(TlsServerContextTest, SniPicksExactNamesThenWildcardsElseTheFirstCertificate) {
    const IssuedFiles fallback = issue("fallback", {"default.test"}, KeyType::EcdsaP256, true);
    // The wildcard comes before the exact name: an exact match still wins.
    const IssuedFiles wildcard = issue("wildcard", {"*.example.com"});
    const IssuedFiles exact = issue("exact", {"api.example.com", "api.example.net"});
    const IssuedFiles partial = issue("partial", {"f*.example.org"});
    SharedSslCtx context = build({files(fallback), files(wildcard), files(exact), files(partial)});
    ASSERT_TRUE(context);
    EXPECT_TRUE(warnings_.empty()) << warnings_.front();

    EXPECT_EQ(served_for(context.get(), "api.example.com", true), "exact");
    EXPECT_EQ(served_for(context.get(), "API.Example.NET", true), "exact");
    EXPECT_EQ(served_for(context.get(), "www.example.com", true), "wildcard");
    EXPECT_EQ(served_for(context.get(), "WWW.EXAMPLE.COM"), "wildcard");
    EXPECT_EQ(served_for(context.get(), "default.test", true), "fallback");
    // Nothing matches: the first certificate.
    EXPECT_EQ(served_for(context.get(), "a.b.example.com"), "fallback");
    EXPECT_EQ(served_for(context.get(), "example.com"), "fallback");
    EXPECT_EQ(served_for(context.get(), "foo.example.org"), "fallback");
    EXPECT_EQ(served_for(context.get(), "unknown.test"), "fallback");
    EXPECT_EQ(served_for(context.get(), ""), "fallback");  // no SNI at all
}

TEST_F(TlsServerContextTest, TheFirstCertificateIsTheFallbackWhateverItsNames) {
    const IssuedFiles exact = issue("exact", {"api.example.com"});
    const IssuedFiles other = issue("other", {"other.test"});
    SharedSslCtx context = build({files(exact), files(other)});
    ASSERT_TRUE(context);
    EXPECT_EQ(served_for(context.get(), "other.test", true), "other");
    EXPECT_EQ(served_for(context.get(), "unknown.test"), "exact");
    EXPECT_EQ(served_for(context.get(), ""), "exact");
}

TEST_F(TlsServerContextTest, ServesTheWholeConfiguredChainForEveryName) {
    const IssuedFiles first = issue("first", {"first.test"}, KeyType::EcdsaP256, true);
    const IssuedFiles second = issue("second", {"second.test"}, KeyType::Rsa2048, true);
    SharedSslCtx context = build({files(first), files(second)});
    ASSERT_TRUE(context);
    // The client only trusts the root: verification needs the intermediate from the server.
    EXPECT_EQ(served_for(context.get(), "first.test", true), "first");
    EXPECT_EQ(served_for(context.get(), "second.test", true), "second");
}

TEST_F(TlsServerContextTest, RsaOnlyClientsGetTheRsaCertificateAndOthersTheEcdsaOne) {
    // RSA listed first: the preference for ECDSA is ours, not the configuration's order.
    const IssuedFiles rsa = issue("dual-rsa", {"dual.test"}, KeyType::Rsa2048, true);
    const IssuedFiles ecdsa = issue("dual-ecdsa", {"dual.test"}, KeyType::EcdsaP256, true);
    const IssuedFiles other_ecdsa = issue("other-ecdsa", {"other.test"});
    const IssuedFiles other_rsa = issue("other-rsa", {"other.test"}, KeyType::Rsa2048);
    SharedSslCtx context = build({files(rsa), files(ecdsa), files(other_ecdsa), files(other_rsa)});
    ASSERT_TRUE(context);

    struct Case {
        const char* label;
        std::string sni;
        int max_version;
        std::string signature_algorithms;
        std::string tls12_ciphers;
        const char* expected_name;
        int expected_key_type;
    };
    const std::vector<Case> cases = {
        {"TLS 1.3 default", "dual.test", 0, "", "", "dual-ecdsa", EVP_PKEY_EC},
        {"TLS 1.2 default", "dual.test", TLS1_2_VERSION, "", "", "dual-ecdsa", EVP_PKEY_EC},
        {"TLS 1.3 RSA sigalgs", "dual.test", 0, "RSA+SHA256:RSA-PSS+SHA256", "", "dual-rsa",
         EVP_PKEY_RSA},
        {"TLS 1.2 RSA sigalgs", "dual.test", TLS1_2_VERSION, "RSA+SHA256:RSA-PSS+SHA256", "",
         "dual-rsa", EVP_PKEY_RSA},
        {"TLS 1.2 aRSA ciphers", "dual.test", TLS1_2_VERSION, "", "aRSA", "dual-rsa", EVP_PKEY_RSA},
        // A client that prefers RSA but accepts ECDSA: our preference decides.
        {"TLS 1.3 RSA preferred", "dual.test", 0, "RSA-PSS+SHA256:RSA+SHA256:ECDSA+SHA256", "",
         "dual-ecdsa", EVP_PKEY_EC},
        {"TLS 1.2 RSA preferred", "dual.test", TLS1_2_VERSION, "",
         "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256", "dual-ecdsa", EVP_PKEY_EC},
        {"no SNI, default", "", 0, "", "", "dual-ecdsa", EVP_PKEY_EC},
        {"no SNI, RSA sigalgs", "", 0, "RSA+SHA256:RSA-PSS+SHA256", "", "dual-rsa", EVP_PKEY_RSA},
        // The same choice after SNI switched to another group's context.
        {"other, TLS 1.3 default", "other.test", 0, "", "", "other-ecdsa", EVP_PKEY_EC},
        {"other, TLS 1.3 RSA sigalgs", "other.test", 0, "RSA+SHA256:RSA-PSS+SHA256", "",
         "other-rsa", EVP_PKEY_RSA},
        {"other, TLS 1.2 aRSA ciphers", "other.test", TLS1_2_VERSION, "", "aRSA", "other-rsa",
         EVP_PKEY_RSA},
        {"other, TLS 1.2 default", "other.test", TLS1_2_VERSION, "", "", "other-ecdsa",
         EVP_PKEY_EC},
    };
    for (const Case& c : cases) {
        ClientOptions options;
        options.sni = c.sni;
        options.max_version = c.max_version;
        options.signature_algorithms = c.signature_algorithms;
        options.tls12_ciphers = c.tls12_ciphers;
        if (!c.sni.empty()) {
            options.verify_host = c.sni;
            options.ca_file = pki_.ca_file();
        }
        const HandshakeResult result = handshake(context.get(), options);
        ASSERT_TRUE(result.completed) << c.label << ": " << result.failure;
        EXPECT_EQ(result.peer_common_name, c.expected_name) << c.label;
        EXPECT_EQ(result.peer_key_type, c.expected_key_type) << c.label;
        EXPECT_EQ(result.version, c.max_version != 0 ? c.max_version : TLS1_3_VERSION) << c.label;
    }
}

TEST_F(TlsServerContextTest, AnEcdsaOnlyClientIsRefusedWhenOnlyRsaIsConfigured) {
    const IssuedFiles rsa = issue("rsa-only", {"rsa.test"}, KeyType::Rsa2048);
    SharedSslCtx context = build({files(rsa)});
    ASSERT_TRUE(context);
    ClientOptions options;
    options.sni = "rsa.test";
    options.signature_algorithms = "ECDSA+SHA256";
    EXPECT_FALSE(handshake(context.get(), options).completed);
    options.signature_algorithms.clear();
    EXPECT_EQ(handshake(context.get(), options).peer_key_type, EVP_PKEY_RSA);
}

TEST_F(TlsServerContextTest, RefusesAnExpiredCertificateNamingItsKeyAndDate) {
    const IssuedFiles good = issue("good", {"good.test"});
    CertificateRequest request;
    request.common_name = "expired";
    request.dns_names = {"expired.test"};
    request.valid_from_offset_seconds = -30L * 24 * 3600;
    request.valid_for_seconds = -2L * 24 * 3600;
    const IssuedFiles expired = pki_.issue(request);
    const std::string error = build_error({files(good), files(expired)});
    EXPECT_EQ(error.rfind("tls.certificates[1].certificate: ", 0), 0u) << error;
    EXPECT_NE(error.find("expired on 20"), std::string::npos) << error;
    EXPECT_NE(error.find("UTC (notAfter)"), std::string::npos) << error;
    EXPECT_NE(error.find(expired.certificate), std::string::npos) << error;
}

TEST_F(TlsServerContextTest, WarnsAboutACertificateExpiringWithinFourteenDays) {
    CertificateRequest request;
    request.common_name = "soon";
    request.dns_names = {"soon.test"};
    request.valid_for_seconds = 5L * 24 * 3600 + 3600;
    const IssuedFiles soon = pki_.issue(request);
    request.common_name = "later";
    request.dns_names = {"later.test"};
    request.valid_for_seconds = 20L * 24 * 3600;
    const IssuedFiles later = pki_.issue(request);

    SharedSslCtx context = build({files(later), files(soon)});
    ASSERT_TRUE(context);
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_EQ(warnings_[0].rfind("tls.certificates[1].certificate: ", 0), 0u) << warnings_[0];
    EXPECT_NE(warnings_[0].find("expires on 20"), std::string::npos) << warnings_[0];
    EXPECT_NE(warnings_[0].find("(in 5 days)"), std::string::npos) << warnings_[0];
    // Still served: a warning, not a refusal.
    EXPECT_EQ(served_for(context.get(), "soon.test", true), "soon");

    build({files(later)});
    EXPECT_TRUE(warnings_.empty());
}

TEST_F(TlsServerContextTest, WarnsAboutACertificateNotValidYet) {
    CertificateRequest request;
    request.common_name = "future";
    request.dns_names = {"future.test"};
    request.valid_from_offset_seconds = 2L * 24 * 3600;
    const IssuedFiles future = pki_.issue(request);
    ASSERT_TRUE(build({files(future)}));
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_NE(warnings_[0].find("is not valid before"), std::string::npos) << warnings_[0];
}

TEST_F(TlsServerContextTest, RefusesAKeyThatDoesNotMatchItsCertificate) {
    const IssuedFiles first = issue("first", {"first.test"});
    const IssuedFiles second = issue("second", {"second.test"});
    const std::string error =
        build_error({files(first), CertificateFiles{second.certificate, first.private_key}});
    EXPECT_EQ(error.rfind("tls.certificates[1].private_key: ", 0), 0u) << error;
}

TEST_F(TlsServerContextTest, RefusesAChainOutOfOrder) {
    const IssuedFiles chained = issue("chained", {"chained.test"}, KeyType::EcdsaP256, true);
    const std::string text = read_file(chained.certificate);
    const std::string end = "-----END CERTIFICATE-----\n";
    const std::size_t leaf_end = text.find(end) + end.size();
    const std::string reversed = dir_.file("reversed.pem");
    write_file(reversed, text.substr(leaf_end) + text.substr(0, leaf_end));
    const std::string error = build_error({CertificateFiles{reversed, chained.private_key}});
    EXPECT_EQ(error.rfind("tls.certificates[0].", 0), 0u) << error;
}

TEST_F(TlsServerContextTest, RefusesTwoCertificatesOfOneKeyTypeForTheSameNames) {
    const IssuedFiles first = issue("first", {"same.test", "www.same.test"});
    const IssuedFiles second = issue("second", {"WWW.same.test", "same.test"});
    const std::string error = build_error({files(first), files(second)});
    EXPECT_EQ(error.rfind("tls.certificates[1]: ", 0), 0u) << error;
    EXPECT_NE(error.find("tls.certificates[0]"), std::string::npos) << error;

    // The same key type for different names is two groups, which is fine.
    const IssuedFiles third = issue("third", {"third.test"});
    EXPECT_TRUE(build({files(first), files(third)}));
}

TEST_F(TlsServerContextTest, RefusesNoCertificateAndMissingTicketKeys) {
    std::string error;
    std::vector<std::string> warnings;
    EXPECT_FALSE(build_public_tls_context(std::vector<CertificateFiles>{}, TlsMinVersion::Tls12,
                                          ticket_keys_, &warnings, &error));
    EXPECT_EQ(error.rfind("tls.certificates", 0), 0u) << error;
    const IssuedFiles one = issue("one", {"one.test"});
    error.clear();
    EXPECT_FALSE(
        build_public_tls_context({files(one)}, TlsMinVersion::Tls12, nullptr, &warnings, &error));
    EXPECT_FALSE(error.empty());
}

TEST_F(TlsServerContextTest, OffersTls12AndTls13ButNothingOlder) {
    const IssuedFiles certificate = issue("versions", {"versions.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options;
    options.sni = "versions.test";
    EXPECT_EQ(handshake(context.get(), options).version, TLS1_3_VERSION);
    options.max_version = TLS1_2_VERSION;
    EXPECT_EQ(handshake(context.get(), options).version, TLS1_2_VERSION);

    // A client that can only speak TLS 1.1 (its security level lowered so it does offer it):
    // the server refuses the version.
    options.min_version = TLS1_1_VERSION;
    options.max_version = TLS1_1_VERSION;
    options.tls12_ciphers = "DEFAULT:@SECLEVEL=0";
    const HandshakeResult old = handshake(context.get(), options);
    EXPECT_FALSE(old.completed);
    EXPECT_EQ(old.server_error_reason, SSL_R_UNSUPPORTED_PROTOCOL) << old.failure;
}

TEST_F(TlsServerContextTest, MinVersion13RefusesATls12OnlyClient) {
    const IssuedFiles certificate = issue("modern", {"modern.test"});
    const IssuedFiles rsa = issue("modern-rsa", {"modern.test"}, KeyType::Rsa2048);
    const IssuedFiles other = issue("modern-other", {"other.test"});
    SharedSslCtx context =
        build({files(certificate), files(rsa), files(other)}, TlsMinVersion::Tls13);
    ASSERT_TRUE(context);
    for (const std::string sni : {"modern.test", "other.test", ""}) {
        ClientOptions options;
        options.sni = sni;
        options.max_version = TLS1_2_VERSION;
        const HandshakeResult refused = handshake(context.get(), options);
        EXPECT_FALSE(refused.completed) << sni;
        EXPECT_EQ(refused.server_error_reason, SSL_R_UNSUPPORTED_PROTOCOL) << refused.failure;
        options.max_version = 0;
        const HandshakeResult accepted = handshake(context.get(), options);
        EXPECT_TRUE(accepted.completed) << sni << ": " << accepted.failure;
        EXPECT_EQ(accepted.version, TLS1_3_VERSION) << sni;
    }
}

TEST_F(TlsServerContextTest, NegotiatesHttp11AndToleratesAnH2OnlyClient) {
    const IssuedFiles certificate = issue("alpn", {"alpn.test"});
    const IssuedFiles other = issue("alpn-other", {"other.test"});
    SharedSslCtx context = build({files(certificate), files(other)});
    ASSERT_TRUE(context);
    for (const std::string sni : {"alpn.test", "other.test"}) {
        ClientOptions options;
        options.sni = sni;
        options.alpn = std::string("\x02h2\x08http/1.1", 12);
        EXPECT_EQ(handshake(context.get(), options).alpn, "http/1.1") << sni;
        options.alpn = std::string("\x02h2", 3);
        const HandshakeResult h2_only = handshake(context.get(), options);
        EXPECT_TRUE(h2_only.completed) << h2_only.failure;
        EXPECT_EQ(h2_only.alpn, "") << sni;
    }
}

TEST_F(TlsServerContextTest, SendsOneTicketPerTls13Handshake) {
    const IssuedFiles certificate = issue("tickets", {"tickets.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options;
    options.sni = "tickets.test";
    const HandshakeResult result = handshake(context.get(), options);
    ASSERT_TRUE(result.completed) << result.failure;
    EXPECT_EQ(result.tickets_received, 1);
    EXPECT_EQ(ticket_keys_->keys_made(), 1u);
}

TEST_F(TlsServerContextTest, ResumptionOffIssuesNoTicketAndResumesNothing) {
    const IssuedFiles certificate = issue("no-resume", {"no-resume.test"});
    SharedSslCtx with = build({files(certificate)});
    SharedSslCtx without =
        build({files(certificate)}, PublicTlsProfile(TlsMinVersion::Tls12, false));
    ASSERT_TRUE(with && without);
    for (const int max_version : {0, TLS1_2_VERSION}) {
        const std::string label = max_version == 0 ? "TLS 1.3" : "TLS 1.2";
        ClientOptions options;
        options.sni = "no-resume.test";
        options.max_version = max_version;
        const HandshakeResult first = handshake(without.get(), options);
        ASSERT_TRUE(first.completed) << label << ": " << first.failure;
        EXPECT_EQ(first.tickets_received, 0) << label;
        // A session the same keys would resume elsewhere is not resumed here.
        const HandshakeResult offered = handshake(with.get(), options);
        ASSERT_TRUE(offered.session) << label;
        options.resume = offered.session.get();
        const HandshakeResult again = handshake(without.get(), options);
        ASSERT_TRUE(again.completed) << label << ": " << again.failure;
        EXPECT_FALSE(again.reused) << label;
        EXPECT_TRUE(handshake(with.get(), options).reused) << label;
    }
    EXPECT_EQ(SSL_CTX_sess_number(without.get()), 0);
}

// TLS 1.3 tickets are single-use: each resumption must hand out the next ticket, so a client
// that reconnects again and again resumes every time.
TEST_F(TlsServerContextTest, EveryTls13ResumptionIssuesTheNextTicket) {
    const IssuedFiles certificate = issue("chain", {"chain.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options;
    options.sni = "chain.test";
    HandshakeResult previous = handshake(context.get(), options);
    ASSERT_TRUE(previous.completed) << previous.failure;
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(previous.session) << round;
        options.resume = previous.session.get();
        HandshakeResult next = handshake(context.get(), options);
        ASSERT_TRUE(next.completed) << round << ": " << next.failure;
        EXPECT_TRUE(next.reused) << round;
        EXPECT_EQ(next.tickets_received, 1) << round;
        previous = std::move(next);
    }
}

// As after a reload: the session from one context resumes on another built with the same keys,
// and not on one built with other keys.
TEST_F(TlsServerContextTest, TicketsResumeAcrossContextsSharingTheirKeys) {
    const IssuedFiles certificate = issue("resume", {"resume.test"});
    const IssuedFiles other = issue("resume-other", {"other.test"});
    const std::vector<CertificateFiles> certificates = {files(certificate), files(other)};
    SharedSslCtx before = build(certificates);
    SharedSslCtx after_reload = build(certificates);
    SharedSslCtx other_keys =
        build(certificates, TlsMinVersion::Tls12, std::make_shared<SessionTicketKeys>());
    ASSERT_TRUE(before && after_reload && other_keys);

    for (const int max_version : {0, TLS1_2_VERSION}) {
        for (const std::string sni : {"resume.test", "other.test"}) {
            const std::string label = sni + (max_version == 0 ? " TLS 1.3" : " TLS 1.2");
            ClientOptions options;
            options.sni = sni;
            options.max_version = max_version;
            const HandshakeResult first = handshake(before.get(), options);
            ASSERT_TRUE(first.completed) << label << ": " << first.failure;
            ASSERT_TRUE(first.session) << label;
            ASSERT_EQ(SSL_SESSION_is_resumable(first.session.get()), 1) << label;
            EXPECT_FALSE(first.reused) << label;

            options.resume = first.session.get();
            const HandshakeResult resumed = handshake(after_reload.get(), options);
            ASSERT_TRUE(resumed.completed) << label << ": " << resumed.failure;
            EXPECT_TRUE(resumed.reused) << label;

            const HandshakeResult foreign = handshake(other_keys.get(), options);
            ASSERT_TRUE(foreign.completed) << label << ": " << foreign.failure;
            EXPECT_FALSE(foreign.reused) << label;
        }
    }
}

// RFC 6066 section 3: a session made for one name must not resume under a name that selects
// another certificate, by TLS 1.3 ticket, TLS 1.2 ticket or TLS 1.2 session ID alike.
TEST_F(TlsServerContextTest, ASessionNeverResumesUnderANameOfAnotherCertificateGroup) {
    const IssuedFiles main_certificate = issue("main", {"localhost", "main.test"});
    const IssuedFiles other = issue("other", {"other.test"});
    SharedSslCtx context = build({files(main_certificate), files(other)});
    ASSERT_TRUE(context);
    struct Case {
        const char* label;
        int max_version;
        bool no_tickets;
    };
    for (const Case& shape :
         {Case{"TLS 1.3 ticket", 0, false}, Case{"TLS 1.2 ticket", TLS1_2_VERSION, false},
          Case{"TLS 1.2 session ID", TLS1_2_VERSION, true}}) {
        for (const auto& [made_for, tried_as] :
             {std::pair<std::string, std::string>{"other.test", "localhost"},
              {"localhost", "other.test"},
              {"", "other.test"}}) {
            const std::string label =
                std::string(shape.label) + " made for '" + made_for + "', tried as " + tried_as;
            ClientOptions options;
            options.sni = made_for;
            options.max_version = shape.max_version;
            options.no_tickets = shape.no_tickets;
            const HandshakeResult first = handshake(context.get(), options);
            ASSERT_TRUE(first.completed) << label << ": " << first.failure;
            ASSERT_TRUE(first.session) << label;

            options.resume = first.session.get();
            const HandshakeResult same_name = handshake(context.get(), options);
            ASSERT_TRUE(same_name.completed) << label << ": " << same_name.failure;
            EXPECT_TRUE(same_name.reused) << label << " (the same name resumes)";

            options.sni = tried_as;
            const HandshakeResult other_name = handshake(context.get(), options);
            ASSERT_TRUE(other_name.completed) << label << ": " << other_name.failure;
            EXPECT_FALSE(other_name.reused) << label;
            EXPECT_EQ(other_name.peer_common_name, tried_as == "other.test" ? "other" : "main")
                << label;
        }
    }
}

TEST(ServerNameExtension, ParsesTheHostNameAndRefusesMalformedLists) {
    const auto extension = [](const std::string& entries) {
        std::string out;
        out += static_cast<char>(entries.size() >> 8);
        out += static_cast<char>(entries.size() & 0xff);
        return out + entries;
    };
    const auto entry = [](char type, const std::string& name) {
        std::string out(1, type);
        out += static_cast<char>(name.size() >> 8);
        out += static_cast<char>(name.size() & 0xff);
        return out + name;
    };
    EXPECT_EQ(host_name_from_server_name_extension(extension(entry(0, "oidc.test"))),
              std::optional<std::string>("oidc.test"));
    // An unknown name type first is skipped.
    EXPECT_EQ(
        host_name_from_server_name_extension(extension(entry(7, "zz") + entry(0, "oidc.test"))),
        std::optional<std::string>("oidc.test"));
    EXPECT_FALSE(host_name_from_server_name_extension(""));
    EXPECT_FALSE(host_name_from_server_name_extension(std::string("\x00", 1)));
    EXPECT_FALSE(host_name_from_server_name_extension(extension("")));
    EXPECT_FALSE(host_name_from_server_name_extension(extension(entry(0, ""))));
    EXPECT_FALSE(host_name_from_server_name_extension(extension(entry(0, std::string("a\0b", 3)))));
    // The list length disagrees with the bytes; an entry runs past the end.
    EXPECT_FALSE(host_name_from_server_name_extension(extension(entry(0, "oidc.test")) + "x"));
    std::string truncated = extension(entry(0, "oidc.test"));
    truncated[4] = 50;
    EXPECT_FALSE(host_name_from_server_name_extension(truncated));
    EXPECT_FALSE(host_name_from_server_name_extension(extension(std::string(2, '\0'))));
}

TEST_F(TlsServerContextTest, Tls12ClientsWithoutTicketsResumeFromTheSessionCache) {
    const IssuedFiles certificate = issue("cache", {"cache.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options;
    options.sni = "cache.test";
    options.max_version = TLS1_2_VERSION;
    options.no_tickets = true;
    const HandshakeResult first = handshake(context.get(), options);
    ASSERT_TRUE(first.completed) << first.failure;
    ASSERT_TRUE(first.session);
    EXPECT_EQ(SSL_CTX_sess_number(context.get()), 1);
    EXPECT_EQ(SSL_CTX_sess_get_cache_size(context.get()), kTls12SessionCacheSize);
    EXPECT_EQ(ticket_keys_->keys_made(), 0u);  // no ticket was involved

    options.resume = first.session.get();
    const HandshakeResult resumed = handshake(context.get(), options);
    ASSERT_TRUE(resumed.completed) << resumed.failure;
    EXPECT_TRUE(resumed.reused);

    // The cache belongs to one context: a rebuilt one starts empty.
    SharedSslCtx rebuilt = build({files(certificate)});
    const HandshakeResult after_reload = handshake(rebuilt.get(), options);
    ASSERT_TRUE(after_reload.completed) << after_reload.failure;
    EXPECT_FALSE(after_reload.reused);
}

TEST_F(TlsServerContextTest, TicketKeysRotateAndThePreviousKeyStillResumes) {
    const auto start = std::chrono::steady_clock::now();
    std::atomic<long> elapsed_seconds{0};
    auto keys = std::make_shared<SessionTicketKeys>(
        std::chrono::hours(12), [&] { return start + std::chrono::seconds(elapsed_seconds); });
    const IssuedFiles certificate = issue("rotate", {"rotate.test"});
    SharedSslCtx context = build({files(certificate)}, TlsMinVersion::Tls12, keys);
    ASSERT_TRUE(context);

    for (const int max_version : {0, TLS1_2_VERSION}) {
        const std::string label = max_version == 0 ? "TLS 1.3" : "TLS 1.2";
        ClientOptions options;
        options.sni = "rotate.test";
        options.max_version = max_version;
        const HandshakeResult first = handshake(context.get(), options);
        ASSERT_TRUE(first.completed) << label << ": " << first.failure;
        const std::uint64_t made = keys->keys_made();

        elapsed_seconds += 12 * 3600 + 1;  // the ticket's key is now the previous one
        options.resume = first.session.get();
        const HandshakeResult second = handshake(context.get(), options);
        ASSERT_TRUE(second.completed) << label << ": " << second.failure;
        EXPECT_TRUE(second.reused) << label;
        EXPECT_EQ(keys->keys_made(), made + 1) << label;
        // Renewed under the current key.
        ASSERT_TRUE(second.session) << label;
        EXPECT_NE(ticket_of(second.session.get()), ticket_of(first.session.get())) << label;

        elapsed_seconds += 12 * 3600 + 1;  // and now retired
        const HandshakeResult third = handshake(context.get(), options);
        ASSERT_TRUE(third.completed) << label << ": " << third.failure;
        EXPECT_FALSE(third.reused) << label;

        // The ticket renewed at the second handshake is under the now previous key: resumes.
        options.resume = second.session.get();
        const HandshakeResult renewed = handshake(context.get(), options);
        ASSERT_TRUE(renewed.completed) << label << ": " << renewed.failure;
        EXPECT_TRUE(renewed.reused) << label;
    }
}

// A connection that started on a context keeps working after the gateway dropped its reference
// (a reload), including the SNI switch to another group's context and the ticket callback.
TEST_F(TlsServerContextTest, AConnectionOutlivesTheReleasedContext) {
    const IssuedFiles first = issue("first", {"first.test"});
    const IssuedFiles second = issue("second", {"second.test"});
    SharedSslCtx context = build({files(first), files(second)});
    ASSERT_TRUE(context);
    SSL_CTX* raw = context.get();
    SSL_CTX_up_ref(raw);  // what SSL_new does for a connection accepted before the reload
    SslCtxPtr connection_reference(raw);
    context.reset();
    ClientOptions options;
    options.sni = "second.test";
    const HandshakeResult result = handshake(connection_reference.get(), options);
    ASSERT_TRUE(result.completed) << result.failure;
    EXPECT_EQ(result.peer_common_name, "second");
    EXPECT_EQ(result.tickets_received, 1);
}

TEST(SessionTicketKeysTest, EncryptsUnderTheCurrentKeyAndFindsOnlyKnownNames) {
    const auto start = std::chrono::steady_clock::now();
    std::atomic<long> elapsed_seconds{0};
    SessionTicketKeys keys(std::chrono::seconds(100),
                           [&] { return start + std::chrono::seconds(elapsed_seconds); });
    EvpMacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    ASSERT_TRUE(hmac);
    const auto contexts = [&] {
        return std::pair(EvpCipherCtxPtr(EVP_CIPHER_CTX_new()),
                         EvpMacCtxPtr(EVP_MAC_CTX_new(hmac.get())));
    };
    unsigned char first_name[16] = {};
    unsigned char iv[EVP_MAX_IV_LENGTH] = {};
    {
        auto [cipher, mac] = contexts();
        EXPECT_EQ(keys.encrypt(first_name, iv, cipher.get(), mac.get()), 1);
        EXPECT_EQ(keys.decrypt(first_name, iv, cipher.get(), mac.get()), 1);
    }
    unsigned char unknown[16] = {};
    {
        auto [cipher, mac] = contexts();
        EXPECT_EQ(keys.decrypt(unknown, iv, cipher.get(), mac.get()), 0);
    }
    elapsed_seconds = 100;
    unsigned char second_name[16] = {};
    {
        auto [cipher, mac] = contexts();
        EXPECT_EQ(keys.encrypt(second_name, iv, cipher.get(), mac.get()), 1);
        EXPECT_NE(std::string(reinterpret_cast<char*>(first_name), 16),
                  std::string(reinterpret_cast<char*>(second_name), 16));
        EXPECT_EQ(keys.decrypt(first_name, iv, cipher.get(), mac.get()), 2);
        EXPECT_EQ(keys.decrypt(second_name, iv, cipher.get(), mac.get()), 1);
    }
    elapsed_seconds = 250;  // checked lazily: one rotation; each key judged by its own age
    {
        auto [cipher, mac] = contexts();
        EXPECT_EQ(keys.decrypt(first_name, iv, cipher.get(), mac.get()), 0);
        EXPECT_EQ(keys.decrypt(second_name, iv, cipher.get(), mac.get()), 2);
    }
    EXPECT_EQ(keys.keys_made(), 3u);
}

// Rotation runs only when a ticket is issued or presented; after a quiet spell the key that was
// current must not live on as the "previous" one beyond its two periods.
TEST(SessionTicketKeysTest, AfterAQuietSpellAKeyTwoPeriodsOldNoLongerDecrypts) {
    const auto start = std::chrono::steady_clock::now();
    std::atomic<long> elapsed_seconds{0};
    SessionTicketKeys keys(std::chrono::seconds(100),
                           [&] { return start + std::chrono::seconds(elapsed_seconds); });
    EvpMacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    ASSERT_TRUE(hmac);
    unsigned char name[16] = {};
    unsigned char iv[EVP_MAX_IV_LENGTH] = {};
    {
        EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
        EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
        ASSERT_EQ(keys.encrypt(name, iv, cipher.get(), mac.get()), 1);
    }
    elapsed_seconds = 150;  // one period and a half: still the previous key
    {
        EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
        EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
        EXPECT_EQ(keys.decrypt(name, iv, cipher.get(), mac.get()), 2);
    }
    elapsed_seconds = 200;  // two periods since it was made, though retired only at 150 s
    {
        EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
        EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
        EXPECT_EQ(keys.decrypt(name, iv, cipher.get(), mac.get()), 0);
    }

    SessionTicketKeys quiet(std::chrono::seconds(100),
                            [&] { return start + std::chrono::seconds(elapsed_seconds); });
    elapsed_seconds = 0;
    {
        EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
        EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
        ASSERT_EQ(quiet.encrypt(name, iv, cipher.get(), mac.get()), 1);
    }
    elapsed_seconds = 250;  // nothing in between: the first use after the spell finds it dead
    {
        EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
        EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
        EXPECT_EQ(quiet.decrypt(name, iv, cipher.get(), mac.get()), 0);
    }
}

TEST(SessionTicketKeysTest, ServesEveryWorkerAtOnce) {
    const auto start = std::chrono::steady_clock::now();
    std::atomic<long> elapsed_seconds{0};
    SessionTicketKeys keys(std::chrono::seconds(10),
                           [&] { return start + std::chrono::seconds(elapsed_seconds); });
    EvpMacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    ASSERT_TRUE(hmac);
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&, w] {
            for (int i = 0; i < 200; ++i) {
                EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
                EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
                unsigned char name[16];
                unsigned char iv[EVP_MAX_IV_LENGTH];
                if (keys.encrypt(name, iv, cipher.get(), mac.get()) != 1) ++failures;
                EvpCipherCtxPtr decrypt_cipher(EVP_CIPHER_CTX_new());
                EvpMacCtxPtr decrypt_mac(EVP_MAC_CTX_new(hmac.get()));
                if (keys.decrypt(name, iv, decrypt_cipher.get(), decrypt_mac.get()) < 0) {
                    ++failures;
                }
                // Worker 0 moves the clock after its own calls, up to 199 s: rotations happen
                // at 10, 20, ... 190 s while the others encrypt and decrypt.
                if (w == 0 && i < 199) ++elapsed_seconds;
            }
        });
    }
    for (std::thread& worker : workers) worker.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(keys.keys_made(), 20u);  // the first key, then one per 10 s
}

}  // namespace
}  // namespace oidcgw::testing
