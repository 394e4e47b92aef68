// The public TLS context, driven through real handshakes in memory (a BIO pair per connection):
// SNI selection, RSA/ECDSA selection by the client's signature algorithms, load-time checks,
// protocol versions, ALPN, and a connection outliving its context. Session resumption is in
// tls_session_resumption_test.cc, the ticket keys alone in session_tickets_test.cc.
#include "edge/tls_server_context.h"

#include "tls_handshake_support.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <vector>

namespace oidcgw::testing {
namespace {

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
        ClientOptions options = client_options(c.sni);
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
    ClientOptions options = client_options("rsa.test");
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

// The context built from material already loaded (what load_config_file checked) serves it
// exactly as one built from the files, and judges expiry again at the time of the build.
TEST_F(TlsServerContextTest, BuildsFromLoadedMaterialAndJudgesItsExpiryAtBuildTime) {
    const IssuedFiles good = issue("good", {"good.test"});
    CertificateLoad loaded = load_certificate_material(good.certificate, good.private_key, {});
    ASSERT_TRUE(loaded) << loaded.error.message;
    const std::vector<std::shared_ptr<const CertificateMaterial>> material{
        std::make_shared<const CertificateMaterial>(std::move(*loaded.material))};
    std::string error;
    std::vector<std::string> warnings;
    SharedSslCtx context = build_public_tls_context(material, TlsMinVersion::Tls12, ticket_keys_,
                                                    {}, &warnings, &error);
    ASSERT_TRUE(context) << error;
    EXPECT_EQ(served_for(context.get(), "good.test", /*verify=*/true), "good");

    CertificateRequest request;
    request.common_name = "expired";
    request.dns_names = {"expired.test"};
    request.valid_from_offset_seconds = -30L * 24 * 3600;
    request.valid_for_seconds = -2L * 24 * 3600;
    const IssuedFiles expired = pki_.issue(request);
    CertificateLoad stale = load_certificate_material(expired.certificate, expired.private_key, {});
    ASSERT_TRUE(stale) << stale.error.message;  // loaded without an expiry check
    const std::vector<std::shared_ptr<const CertificateMaterial>> stale_material{
        std::make_shared<const CertificateMaterial>(std::move(*stale.material))};
    EXPECT_FALSE(build_public_tls_context(stale_material, TlsMinVersion::Tls12, ticket_keys_, {},
                                          &warnings, &error));
    EXPECT_EQ(error.rfind("tls.certificates[0].certificate: ", 0), 0u) << error;
    EXPECT_NE(error.find("UTC (notAfter)"), std::string::npos) << error;
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
                                          ticket_keys_, {}, &warnings, &error));
    EXPECT_EQ(error.rfind("tls.certificates", 0), 0u) << error;
    const IssuedFiles one = issue("one", {"one.test"});
    error.clear();
    EXPECT_FALSE(build_public_tls_context({files(one)}, TlsMinVersion::Tls12, nullptr, {},
                                          &warnings, &error));
    EXPECT_FALSE(error.empty());
}

TEST_F(TlsServerContextTest, OffersTls12AndTls13ButNothingOlder) {
    const IssuedFiles certificate = issue("versions", {"versions.test"});
    SharedSslCtx context = build({files(certificate)});
    ASSERT_TRUE(context);
    ClientOptions options = client_options("versions.test");
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
        ClientOptions options = client_options(sni);
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
        ClientOptions options = client_options(sni);
        options.alpn = std::string("\x02h2\x08http/1.1", 12);
        EXPECT_EQ(handshake(context.get(), options).alpn, "http/1.1") << sni;
        options.alpn = std::string("\x02h2", 3);
        const HandshakeResult h2_only = handshake(context.get(), options);
        EXPECT_TRUE(h2_only.completed) << h2_only.failure;
        EXPECT_EQ(h2_only.alpn, "") << sni;
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
    ClientOptions options = client_options("second.test");
    const HandshakeResult result = handshake(connection_reference.get(), options);
    ASSERT_TRUE(result.completed) << result.failure;
    EXPECT_EQ(result.peer_common_name, "second");
    EXPECT_EQ(result.tickets_received, 1);
}

}  // namespace
}  // namespace oidcgw::testing
