// End-to-end: `oidc-gateway probe` and `oidc-gateway thumbprint` against the real gateway,
// reached on loopback through --connect-to while the issuer URL keeps its public form
// (https://oidc.example.test, port 443, as AWS requires).
#include "gateway_fixture.h"
#include "jwt_signing.h"

#include <gtest/gtest.h>
#include <re2/re2.h>
#include <nlohmann/json.hpp>

#include <cstdio>

namespace oidcgw::testing {
namespace {

using nlohmann::json;
constexpr const char* kProbeHost = "oidc.example.test";

class ProbeE2E : public GatewayE2E {
  protected:
    void SetUp() override {
        GatewayE2E::SetUp();
        // The public side as operators set it up: a name without a port, a chain of leaf and
        // two intermediates, so that "the last certificate" is not simply "the second".
        issuer_ = std::string("https://") + kProbeHost;
        public_certificate_ = public_pki_->issue({.common_name = kProbeHost,
                                                  .dns_names = {kProbeHost},
                                                  .include_two_intermediates = true});
        nomad_->set_document("/.well-known/openid-configuration",
                             nomad_discovery_document(issuer_));
    }

    void start_and_wait() {
        start_gateway({nomad_->base_url()});
        ASSERT_TRUE(wait_ready()) << gateway_->log();
    }

    std::string connect_to() const { return "127.0.0.1:" + std::to_string(public_port_); }

    CommandOutput probe(const std::string& url, std::vector<std::string> extra = {}) {
        std::vector<std::string> arguments = {
            "probe",        url,          "--ca",      public_pki_->ca_file(),
            "--connect-to", connect_to(), "--timeout", "5s"};
        arguments.insert(arguments.end(), extra.begin(), extra.end());
        return run_gateway_command(arguments, 30s);
    }

    json probe_json(const std::string& url, std::vector<std::string> extra = {},
                    int* exit_status = nullptr) {
        extra.push_back("--json");
        const CommandOutput output = probe(url, extra);
        if (exit_status != nullptr) *exit_status = output.exit_status;
        const json document = json::parse(output.output, nullptr, false);
        EXPECT_FALSE(document.is_discarded()) << output.output;
        return document;
    }

    std::string token_file(const std::string& name, const std::string& token) {
        const std::string path = dir_.file(name);
        write_file(path, token + "\n");
        return path;
    }

    // The OpenSSL CLI's SHA-1 fingerprint of the certificate at `index` in the served chain file,
    // lowercased without colons.
    std::string openssl_fingerprint(std::size_t index) {
        const std::string chain = read_file(public_certificate_.certificate);
        const std::string end = "-----END CERTIFICATE-----\n";
        std::size_t start = 0;
        for (std::size_t skipped = 0; skipped < index; ++skipped) {
            start = chain.find(end, start) + end.size();
        }
        const std::string block = chain.substr(start, chain.find(end, start) + end.size() - start);
        const std::string path = dir_.file("block" + std::to_string(index) + ".pem");
        write_file(path, block);
        return openssl_cli_sha1(path);
    }
};

const json& check_row(const json& report, const std::string& id) {
    for (const json& row : report["checks"]) {
        if (row["id"] == id) return row;
    }
    static const json missing = json::object();
    ADD_FAILURE() << "no check " << id;
    return missing;
}

TEST_F(ProbeE2E, ARunningGatewayPassesEveryCheck) {
    start_and_wait();
    int status = -1;
    const json report = probe_json(issuer_, {}, &status);
    EXPECT_EQ(status, 0) << report.dump(2);
    EXPECT_EQ(report["passed"], true);
    ASSERT_GE(report["checks"].size(), 20u);
    for (const json& row : report["checks"]) {
        EXPECT_EQ(row["result"], "pass") << row.dump();
    }
    for (const char* idp : {"aws", "gcp", "entra"}) {
        EXPECT_EQ(report["verdicts"][idp]["result"], "pass") << idp;
    }
    EXPECT_NE(check_row(report, "tls.version_1_2")["detail"].get<std::string>().find("TLSv1.2"),
              std::string::npos);
    EXPECT_NE(check_row(report, "tls.version_1_3")["detail"].get<std::string>().find("TLSv1.3"),
              std::string::npos);
    EXPECT_NE(
        check_row(report, "tls.chain")["detail"].get<std::string>().find(openssl_fingerprint(2)),
        std::string::npos);

    // The readable table says the same.
    const CommandOutput table = probe(issuer_);
    EXPECT_EQ(table.exit_status, 0) << table.output;
    EXPECT_NE(table.output.find("\u2713 TLS 1.2 handshake"), std::string::npos) << table.output;
    EXPECT_NE(table.output.find("AWS   \u2713 would work"), std::string::npos) << table.output;
    EXPECT_EQ(table.output.find("\u2717"), std::string::npos) << table.output;
}

TEST_F(ProbeE2E, AnEdDsaOnlyUpstreamFailsAwsAndGcpWithTheReason) {
    const EvpPkeyPtr ed25519 = generate_ed25519_key();
    nomad_->set_document("/.well-known/jwks.json",
                         jwks_with({nomad_ed25519_jwk(ed25519.get(), "0e7d2b95-legacy")}));
    start_and_wait();
    int status = -1;
    const json report = probe_json(issuer_, {}, &status);
    EXPECT_EQ(status, 1) << report.dump(2);
    const json& algorithms = check_row(report, "jwks.algorithms");
    for (const char* idp : {"aws", "gcp"}) {
        EXPECT_EQ(algorithms["idps"][idp]["result"], "fail");
        const std::string reason = algorithms["idps"][idp]["reason"];
        EXPECT_NE(reason.find("EdDSA"), std::string::npos) << reason;
        EXPECT_NE(reason.find("nomad operator root keyring rotate"), std::string::npos) << reason;
        EXPECT_EQ(report["verdicts"][idp]["result"], "fail");
    }
    // Everything before the keys was fine.
    EXPECT_EQ(check_row(report, "tls.trust")["result"], "pass");
    EXPECT_EQ(check_row(report, "discovery.issuer")["result"], "pass");

    // Asking for Entra alone does not hide that it wants RS256 keys either.
    const json entra = probe_json(issuer_, {"--idp", "entra"}, &status);
    EXPECT_EQ(status, 1);
    EXPECT_EQ(entra["idps"], json({"entra"}));
}

TEST_F(ProbeE2E, ATrailingSlashMismatchIsNamed) {
    start_and_wait();
    const CommandOutput table = probe(issuer_ + "/");
    EXPECT_EQ(table.exit_status, 1) << table.output;
    EXPECT_NE(table.output.find("only by a trailing slash"), std::string::npos) << table.output;

    const json report = probe_json(issuer_ + "/");
    const json& issuer = check_row(report, "discovery.issuer");
    EXPECT_EQ(issuer["result"], "fail");
    const std::string reason = issuer["idps"]["aws"]["reason"];
    EXPECT_NE(reason.find("trailing slash (the URL has one, it does not)"), std::string::npos)
        << reason;
}

TEST_F(ProbeE2E, TokensAreVerifiedAgainstThePublishedKeys) {
    start_and_wait();
    const std::string good = sign_rs256_jwt(
        signing_key_.get(), kKid, identity_claims(issuer_, "sts.amazonaws.com", -30, 3600));
    CommandOutput output = probe(issuer_, {"--token", token_file("good.jwt", good)});
    EXPECT_EQ(output.exit_status, 0) << output.output;
    EXPECT_NE(output.output.find("\u2713 Signature verifies"), std::string::npos) << output.output;
    EXPECT_NE(output.output.find("would accept the token"), std::string::npos);

    const std::string expired = sign_rs256_jwt(
        signing_key_.get(), kKid, identity_claims(issuer_, "sts.amazonaws.com", -7200, 3600));
    int status = -1;
    json report = probe_json(issuer_, {"--token", token_file("expired.jwt", expired)}, &status);
    EXPECT_EQ(status, 1);
    EXPECT_EQ(check_row(report, "token.signature")["result"], "pass");
    const json& times = check_row(report, "token.times");
    EXPECT_EQ(times["result"], "fail");
    EXPECT_NE(times["idps"]["gcp"]["reason"].get<std::string>().find("expired"), std::string::npos);

    const EvpPkeyPtr stranger = generate_rsa_key();
    const std::string unknown =
        sign_rs256_jwt(stranger.get(), "kid-from-another-cluster",
                       identity_claims(issuer_, "sts.amazonaws.com", -30, 3600));
    report = probe_json(issuer_, {"--token", token_file("unknown.jwt", unknown)}, &status);
    EXPECT_EQ(status, 1);
    const json& kid = check_row(report, "token.kid");
    EXPECT_EQ(kid["result"], "fail");
    EXPECT_NE(kid["idps"]["aws"]["reason"].get<std::string>().find("kid-from-another-cluster"),
              std::string::npos);
    EXPECT_EQ(check_row(report, "token.signature")["result"], "skipped");
}

TEST_F(ProbeE2E, UsageErrorsExitTwo) {
    EXPECT_EQ(run_gateway_command({"probe"}).exit_status, 2);
    EXPECT_EQ(run_gateway_command({"probe", issuer_, "--idp", "azure"}).exit_status, 2);
    const CommandOutput missing_token =
        run_gateway_command({"probe", issuer_, "--token", dir_.file("absent.jwt")});
    EXPECT_EQ(missing_token.exit_status, 2);
    EXPECT_NE(missing_token.output.find("absent.jwt"), std::string::npos);
}

TEST_F(ProbeE2E, ThumbprintIsTheTopIntermediatesSha1AsOpensslPrintsIt) {
    start_and_wait();
    const std::string top = openssl_fingerprint(2);
    ASSERT_TRUE(RE2::FullMatch(top, "[0-9a-f]{40}")) << top;

    CommandOutput output = run_gateway_command(
        {"thumbprint", kProbeHost, "--ca", public_pki_->ca_file(), "--connect-to", connect_to()});
    EXPECT_EQ(output.exit_status, 0) << output.output;
    EXPECT_EQ(output.output, top + "  CN=public Policy CA\n");

    output = run_gateway_command({"thumbprint", kProbeHost, "--all", "--ca", public_pki_->ca_file(),
                                  "--connect-to", connect_to()});
    EXPECT_EQ(output.exit_status, 0) << output.output;
    EXPECT_EQ(output.output, openssl_fingerprint(0) + "  CN=" + kProbeHost + "\n" +
                                 openssl_fingerprint(1) + "  CN=public Issuing CA\n" + top +
                                 "  CN=public Policy CA\n");

    // The configured chain gives the same answer without a connection.
    const std::string config = write_config_json(base_config({nomad_->base_url()}));
    output = run_gateway_command({"thumbprint", "--config", config});
    EXPECT_EQ(output.exit_status, 0) << output.output;
    EXPECT_EQ(output.output, top + "  CN=public Policy CA\n");
}

TEST_F(ProbeE2E, ThumbprintRefusesAChainItCannotVerify) {
    start_and_wait();
    // Without --ca the test CA is unknown to the system store.
    CommandOutput output =
        run_gateway_command({"thumbprint", kProbeHost, "--connect-to", connect_to()});
    EXPECT_EQ(output.exit_status, 1) << output.output;
    EXPECT_NE(output.output.find("not trusted"), std::string::npos) << output.output;
    // A name the certificate does not carry.
    output = run_gateway_command({"thumbprint", "other.example.test", "--ca",
                                  public_pki_->ca_file(), "--connect-to", connect_to()});
    EXPECT_EQ(output.exit_status, 1) << output.output;
    EXPECT_NE(output.output.find("does not name other.example.test"), std::string::npos);
}

}  // namespace
}  // namespace oidcgw::testing
