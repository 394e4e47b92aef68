// Beside Consul and Vault: their JWT auth methods fetch the same JWKS from inside the network,
// through issuers[].aliases on a private listener with a certificate of the private CA (picked
// by SNI). The documents are the issuer's bytes unchanged, so a token still names the public
// issuer; a Host that is neither the issuer nor an alias is still 404.
#include "gateway_fixture.h"

namespace oidcgw::testing {
namespace {

constexpr const char* kPrivateHost = "nomad-oidc.internal";

class PrivateConsumersE2E : public GatewayE2E {
  protected:
    void SetUp() override {
        GatewayE2E::SetUp();
        private_port_ = free_loopback_port();
        // The private name's certificate comes from the private CA (here Nomad's), which
        // Consul's JWKSCACert and Vault's jwks_ca_pem then name.
        private_certificate_ = nomad_pki_->issue(
            {.common_name = kPrivateHost, .dns_names = {kPrivateHost}, .ip_addresses = {}});
    }

    nlohmann::json alias_config() {
        nlohmann::json config = base_config({nomad_->base_url()});
        config["listen"].push_back("127.0.0.1:" + std::to_string(private_port_));
        config["tls"]["certificates"].push_back(
            {{"certificate", private_certificate_.certificate},
             {"private_key", private_certificate_.private_key}});
        config["issuers"][0]["aliases"] = {private_authority()};
        return config;
    }

    std::string private_authority() {
        return std::string(kPrivateHost) + ":" + std::to_string(private_port_);
    }

    // What Consul's JWKSURL / Vault's jwks_url fetch: the private name, verified against the
    // private CA only.
    HttpResponse get_private(const std::string& path, std::vector<std::string> headers = {}) {
        HttpRequestOptions options;
        options.ca_file = nomad_pki_->ca_file();
        options.resolve = private_authority() + ":127.0.0.1";
        options.headers = std::move(headers);
        options.capture_certificate = true;
        return http_request("https://" + private_authority() + path, options);
    }

    std::uint16_t private_port_ = 0;
    IssuedFiles private_certificate_;
};

TEST_F(PrivateConsumersE2E, ATokenVerifiesWithTheJwksFetchedThroughAnAlias) {
    start_gateway_with(alias_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string token = sign_rs256_jwt(signing_key_.get(), kKid,
                                             nlohmann::json({{"iss", issuer_},
                                                             {"aud", "consul.io"},
                                                             {"sub", "global:default:web:web:web"},
                                                             {"nomad_job_id", "web"}})
                                                 .dump());

    // Consul (JWKSURL) and Vault (jwks_url) fetch the key set under the private name; the
    // certificate is the private one (the fetch verified it against the private CA).
    const HttpResponse jwks = get_private("/.well-known/jwks.json");
    ASSERT_EQ(jwks.status, 200) << jwks.error << gateway_->log();
    EXPECT_EQ(jwks.body, jwks_);
    EXPECT_NE(jwks.peer_subject.find(kPrivateHost), std::string::npos) << jwks.peer_subject;
    const auto key_set = nlohmann::json::parse(jwks.body);
    const nlohmann::json* key = nullptr;
    for (const auto& candidate : key_set.at("keys")) {
        if (candidate.at("kid") == kKid) key = &candidate;
    }
    ASSERT_NE(key, nullptr);
    const auto payload = verify_rs256_jwt(token, key->at("n"), key->at("e"));
    ASSERT_TRUE(payload.has_value());
    // BoundIssuer / bound_issuer: the token and the discovery document still name the public
    // issuer, byte for byte.
    EXPECT_EQ(nlohmann::json::parse(*payload).at("iss"), issuer_);
    const HttpResponse discovery = get_private("/.well-known/openid-configuration");
    ASSERT_EQ(discovery.status, 200) << discovery.error;
    EXPECT_EQ(discovery.body, nomad_discovery_document(issuer_));

    // The public side is unchanged: its own certificate, its own name.
    const HttpResponse public_jwks = get("/.well-known/jwks.json");
    EXPECT_EQ(public_jwks.status, 200) << public_jwks.error;
    EXPECT_EQ(public_jwks.body, jwks_);
}

TEST_F(PrivateConsumersE2E, AHostThatIsNeitherTheIssuerNorAnAliasIsStill404) {
    start_gateway_with(alias_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(get_private("/.well-known/jwks.json",
                          {"Host: other.internal:" + std::to_string(private_port_)})
                  .status,
              404);
    // The alias names its port: the same name on another port is not it.
    EXPECT_EQ(get_private("/.well-known/jwks.json", {std::string("Host: ") + kPrivateHost}).status,
              404);
    EXPECT_EQ(get_private("/.well-known/jwks.json", {"Host: " + std::string(kPrivateHost) + ":" +
                                                     std::to_string(public_port_)})
                  .status,
              404);
    EXPECT_EQ(get_private("/.well-known/other.json").status, 404);
    // Without the alias the private name is unknown.
    nlohmann::json config = alias_config();
    config["issuers"][0].erase("aliases");
    write_config_json(config);
    ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until([&] { return log_count("\"event\":\"reloaded\"") >= 1; }, 10s))
        << gateway_->log();
    EXPECT_EQ(get_private("/.well-known/jwks.json").status, 404);
}

}  // namespace
}  // namespace oidcgw::testing
