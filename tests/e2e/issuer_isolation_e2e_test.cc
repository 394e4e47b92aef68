// End-to-end: one issuer's upstream cannot publish keys at another issuer's paths. Issuer A at
// the host's root and issuer B under /b share a listener; A's upstream (a compromised or
// misconfigured cluster that still passes mutual TLS) names B's JWKS URL as its jwks_uri. B's
// path must keep serving B's keys, whatever the configuration order, and A's pair is refused
// with a reason naming both issuers.
#include "gateway_fixture.h"

namespace oidcgw::testing {
namespace {

class IssuerIsolationE2E : public GatewayE2E, public ::testing::WithParamInterface<bool> {};

TEST_P(IssuerIsolationE2E, AnUpstreamCannotPublishAtAnotherIssuersJwksPath) {
    const bool hijacker_first = GetParam();
    const std::string victim = issuer_ + "/b";
    // A's upstream: its discovery document points at B's JWKS path, its JWKS holds its own key.
    nlohmann::json hijacking = nlohmann::json::parse(nomad_discovery_document(issuer_));
    hijacking["jwks_uri"] = victim + "/.well-known/jwks.json";
    nomad_->set_document("/.well-known/openid-configuration", hijacking.dump());
    nomad_->set_document("/b/.well-known/jwks.json", jwks_);
    // B's upstream, with a key of its own.
    EvpPkeyPtr victim_key = generate_rsa_key();
    const std::string victim_jwks = jwks_with({nomad_rsa_jwk(victim_key.get(), "victim-key")});
    FakeNomad* victim_nomad = start_nomad(nomad_server_);
    victim_nomad->set_document("/.well-known/openid-configuration",
                               nomad_discovery_document(victim));
    victim_nomad->set_document("/.well-known/jwks.json", victim_jwks);

    nlohmann::json config = base_config({nomad_->base_url()});
    const nlohmann::json hijacker_entry = config["issuers"][0];
    const nlohmann::json victim_entry = issuer_entry(victim, {victim_nomad->base_url()});
    config["issuers"] = hijacker_first ? nlohmann::json::array({hijacker_entry, victim_entry})
                                       : nlohmann::json::array({victim_entry, hijacker_entry});
    start_gateway_with(config);

    // B becomes ready with its own keys; A's pair is refused, naming both issuers.
    ASSERT_TRUE(wait_until([&] { return get("/b/.well-known/jwks.json").status == 200; }, 15s))
        << gateway_->log();
    ASSERT_TRUE(wait_until([&] { return log_count("jwks_path_conflict") > 0; }, 15s))
        << gateway_->log();
    for (int check = 0; check < 3; ++check) {
        const HttpResponse jwks = get("/b/.well-known/jwks.json");
        ASSERT_EQ(jwks.status, 200);
        EXPECT_EQ(jwks.body, victim_jwks) << "issuer B's path must carry B's keys";
        std::this_thread::sleep_for(300ms);  // a few of A's refresh rounds (refresh_interval 1s)
    }
    EXPECT_NE(get("/.well-known/openid-configuration").status, 200)
        << "A has no acceptable pair to publish";
    const nlohmann::json status = nlohmann::json::parse(health("/status").body);
    for (const nlohmann::json& entry : status["issuers"]) {
        if (entry["issuer"] != issuer_) continue;
        const std::string rejection = entry["last_rejection"]["detail"].get<std::string>();
        EXPECT_NE(rejection.find("jwks_path_conflict"), std::string::npos) << rejection;
        EXPECT_NE(rejection.find("\"" + victim + "\""), std::string::npos) << rejection;
        EXPECT_NE(rejection.find("\"" + issuer_ + "\""), std::string::npos) << rejection;
    }
    EXPECT_EQ(health("/readyz").status, 503);
}

INSTANTIATE_TEST_SUITE_P(BothOrders, IssuerIsolationE2E, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                             return param.param ? std::string("HijackerFirst")
                                                : std::string("VictimFirst");
                         });

}  // namespace
}  // namespace oidcgw::testing
