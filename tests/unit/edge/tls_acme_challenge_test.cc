// TLS-ALPN-01 on the public listeners (src/edge/tls_server_context.cc): a validator's ClientHello
// gets the challenge certificate for a pending name and nothing else does; a normal client never
// sees one.
#include "acme/certificate_request.h"
#include "acme/challenge_certificate.h"
#include "acme/tls_alpn_challenges.h"
#include "tls_handshake_support.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

const std::string kAcmeAlpn = std::string("\x0a") + "acme-tls/1";
const std::string kHttp11Alpn = std::string("\x08") + "http/1.1";

std::string alpn_extension(const std::string& protocols) {
    const std::size_t length = protocols.size();
    return std::string{static_cast<char>(length >> 8), static_cast<char>(length & 0xff)} +
           protocols;
}

TEST(AcmeAlpnOffer, ReadsTheClientsList) {
    EXPECT_EQ(acme_alpn_offer(alpn_extension(kAcmeAlpn)), AcmeAlpnOffer::Only);
    EXPECT_EQ(acme_alpn_offer(alpn_extension(kHttp11Alpn)), AcmeAlpnOffer::NotOffered);
    EXPECT_EQ(acme_alpn_offer(alpn_extension(kHttp11Alpn + kAcmeAlpn)), AcmeAlpnOffer::AmongOthers);
    EXPECT_EQ(acme_alpn_offer(alpn_extension(kAcmeAlpn + kAcmeAlpn)), AcmeAlpnOffer::Only);
    // Near misses are other protocols, not acme-tls/1.
    EXPECT_EQ(acme_alpn_offer(alpn_extension(std::string("\x0b") + "acme-tls/10")),
              AcmeAlpnOffer::NotOffered);
    EXPECT_EQ(acme_alpn_offer(alpn_extension(std::string("\x0a") + "ACME-TLS/1")),
              AcmeAlpnOffer::NotOffered);
    EXPECT_EQ(acme_alpn_offer(""), AcmeAlpnOffer::Malformed);
    EXPECT_EQ(acme_alpn_offer(alpn_extension("")), AcmeAlpnOffer::Malformed);
    EXPECT_EQ(acme_alpn_offer(alpn_extension(std::string("\x00", 1))), AcmeAlpnOffer::Malformed);
    EXPECT_EQ(acme_alpn_offer(alpn_extension(std::string("\x0b") + "acme-tls/1")),
              AcmeAlpnOffer::Malformed);  // a name running past the end
    std::string wrong_total = alpn_extension(kAcmeAlpn);
    wrong_total[1] = static_cast<char>(wrong_total[1] + 1);
    EXPECT_EQ(acme_alpn_offer(wrong_total), AcmeAlpnOffer::Malformed);
}

class TlsAcmeChallengeTest : public TlsServerContextTest {
  protected:
    void SetUp() override {
        configured_ = issue("configured", {"gw.example", "other.example"});
        std::string error;
        challenge_key_ = generate_private_key(CertificateKeyType::EcdsaP256);
        ASSERT_TRUE(challenge_key_);
        auto answer = std::make_shared<TlsAlpnAnswer>();
        answer->certificate = tls_alpn_challenge_certificate("gw.example", "token.thumbprint",
                                                             challenge_key_.get(), &error);
        ASSERT_TRUE(answer->certificate) << error;
        EVP_PKEY_up_ref(challenge_key_.get());
        answer->private_key.reset(challenge_key_.get());
        challenges_->add("gw.example", answer);
    }

    SharedSslCtx build_with_challenges(bool with_configured = true) {
        std::string error;
        std::vector<std::shared_ptr<const CertificateMaterial>> material;
        if (with_configured) {
            CertificateLoad loaded =
                load_certificate_material(configured_.certificate, configured_.private_key, {});
            EXPECT_TRUE(loaded) << loaded.error.message;
            material.push_back(
                std::make_shared<const CertificateMaterial>(*std::move(loaded.material)));
        }
        SharedSslCtx context =
            build_public_tls_context(material, TlsMinVersion::Tls12, ticket_keys_,
                                     AcmeTlsInputs{nullptr, challenges_}, &warnings_, &error);
        EXPECT_TRUE(context) << error;
        return context;
    }

    static ClientOptions validator(const std::string& sni, int max_version = 0) {
        ClientOptions options = client_options(sni, max_version);
        options.alpn = kAcmeAlpn;
        return options;
    }

    IssuedFiles configured_;
    EvpPkeyPtr challenge_key_;
    std::shared_ptr<TlsAlpnChallenges> challenges_ = std::make_shared<TlsAlpnChallenges>();
};

TEST_F(TlsAcmeChallengeTest, AValidatorGetsTheChallengeCertificateWithAcmeTls1) {
    const SharedSslCtx context = build_with_challenges();
    for (const int version : kTls13AndTls12) {
        SCOPED_TRACE(version_label(version));
        const HandshakeResult result = handshake(context.get(), validator("GW.example", version));
        ASSERT_TRUE(result.completed) << result.failure;
        EXPECT_EQ(result.alpn, "acme-tls/1");
        EXPECT_NE(result.peer_common_name, "configured");
        // Nothing to resume a challenge with: no ticket, and a session ID no one can resume.
        if (result.session) {
            EXPECT_EQ(SSL_SESSION_has_ticket(result.session.get()), 0);
            ClientOptions again = validator("gw.example", version);
            again.resume = result.session.get();
            const HandshakeResult resumed = handshake(context.get(), again);
            EXPECT_TRUE(resumed.completed) << resumed.failure;
            EXPECT_FALSE(resumed.reused);
        }
    }
}

TEST_F(TlsAcmeChallengeTest, NoPendingChallengeOrAMixedOfferFailsTheHandshake) {
    const SharedSslCtx context = build_with_challenges();
    EXPECT_FALSE(handshake(context.get(), validator("other.example")).completed);
    EXPECT_FALSE(handshake(context.get(), validator("")).completed);  // no SNI
    ClientOptions mixed = validator("gw.example");
    mixed.alpn = kHttp11Alpn + kAcmeAlpn;
    EXPECT_FALSE(handshake(context.get(), mixed).completed);
    challenges_->remove("gw.example");
    EXPECT_FALSE(handshake(context.get(), validator("gw.example")).completed);
}

TEST_F(TlsAcmeChallengeTest, ANormalClientNeverSeesAChallengeCertificate) {
    const SharedSslCtx context = build_with_challenges();
    for (const std::string& alpn : {std::string(), kHttp11Alpn}) {
        ClientOptions options = client_options("gw.example");
        options.alpn = alpn;
        const HandshakeResult result = handshake(context.get(), options);
        ASSERT_TRUE(result.completed) << result.failure;
        EXPECT_EQ(result.peer_common_name, "configured");
        EXPECT_NE(result.alpn, "acme-tls/1");
    }
}

TEST_F(TlsAcmeChallengeTest, WithoutCertificatesOnlyChallengesComplete) {
    const SharedSslCtx context = build_with_challenges(/*with_configured=*/false);
    EXPECT_TRUE(handshake(context.get(), validator("gw.example")).completed);
    EXPECT_FALSE(handshake(context.get(), client_options("gw.example")).completed);
}

TEST_F(TlsAcmeChallengeTest, WithoutAcmeTheProtocolIsNeverSelected) {
    const SharedSslCtx context = build({files(configured_)});
    const HandshakeResult result = handshake(context.get(), validator("gw.example"));
    // A context without tls.acme treats acme-tls/1 as a protocol it does not speak.
    EXPECT_NE(result.alpn, "acme-tls/1");
    if (result.completed) {
        EXPECT_EQ(result.peer_common_name, "configured");
    }
}

}  // namespace
}  // namespace oidcgw::testing
