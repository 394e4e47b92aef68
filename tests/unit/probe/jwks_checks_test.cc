// `probe`'s JWKS rows (jwks_checks.cc): key sets judged per identity provider.
#include "probe/jwks_checks.h"
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwt_verification.h"
#include "probe/probe_checks.h"
#include "probe/probe_report.h"
#include "probe/token_checks.h"
#include "probe_rows.h"
#include "unit_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <stdexcept>

namespace oidcgw {
namespace {

using nlohmann::json;
using testing::contains;
using testing::fixture;
using testing::jwks_of;
using testing::kAll;
using testing::mark_of;
using testing::row;

// ---- JWKS ----

std::vector<Check> jwks_checks(const std::string& body) {
    return check_jwks_document(body, nullptr);
}

TEST(ProbeJwks, NomadsRsaSetPassesEveryProvider) {
    JwksFindings findings;
    const std::vector<Check> checks = check_jwks_document(fixture("jwks.json"), &findings);
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
    ASSERT_TRUE(findings.keys);
    EXPECT_TRUE(findings.keys->is_array());
}

TEST(ProbeJwks, EdDsaOnlyFailsEveryProviderWithTheRotateHint) {
    const EvpPkeyPtr key = testing::generate_ed25519_key();
    const Check algorithms =
        row(jwks_checks(jwks_of({testing::nomad_ed25519_jwk(key.get(), "k1")})), "jwks.algorithms");
    for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(algorithms, idp), Mark::Fail);
    EXPECT_TRUE(contains(algorithms.verdict(Idp::Aws).reason, "EdDSA"));
    EXPECT_TRUE(
        contains(algorithms.verdict(Idp::Aws).reason, "nomad operator root keyring rotate"));
    EXPECT_TRUE(contains(algorithms.verdict(Idp::Gcp).reason, "EdDSA"));
    EXPECT_TRUE(contains(algorithms.verdict(Idp::Gcp).reason, "keyring rotate"));
    EXPECT_TRUE(contains(algorithms.verdict(Idp::Entra).reason, "RS256"));
}

TEST(ProbeJwks, LegacyEdDsaBesideRsaWarns) {
    const Check algorithms =
        row(jwks_checks(fixture("jwks-with-legacy-eddsa.json")), "jwks.algorithms");
    for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(algorithms, idp), Mark::Warn);
    EXPECT_TRUE(contains(algorithms.verdict(Idp::Aws).reason, "1 of 3 keys"));
    EXPECT_TRUE(contains(algorithms.verdict(Idp::Aws).reason, "0e7d2b95"));
}

TEST(ProbeJwks, EcKeysSuitAwsAndGcpButNotEntra) {
    const EvpPkeyPtr p256 = testing::generate_ec_key("P-256");
    const EvpPkeyPtr p384 = testing::generate_ec_key("P-384");
    const Check es256 =
        row(jwks_checks(jwks_of({testing::ec_jwk(p256.get(), "e", "ES256")})), "jwks.algorithms");
    EXPECT_EQ(mark_of(es256, Idp::Aws), Mark::Pass);
    EXPECT_EQ(mark_of(es256, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(mark_of(es256, Idp::Entra), Mark::Fail);
    const Check es384 =
        row(jwks_checks(jwks_of({testing::ec_jwk(p384.get(), "e", "ES384")})), "jwks.algorithms");
    EXPECT_EQ(mark_of(es384, Idp::Aws), Mark::Pass);
    EXPECT_EQ(mark_of(es384, Idp::Gcp), Mark::Fail);
    EXPECT_TRUE(contains(es384.verdict(Idp::Gcp).reason, "ES384"));
}

TEST(ProbeJwks, PssAndMissingUseAreJudgedPerProvider) {
    const EvpPkeyPtr key = testing::generate_rsa_key();
    const Check pss =
        row(jwks_checks(jwks_of({testing::rsa_jwk(key.get(), "p", "PS256")})), "jwks.algorithms");
    for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(pss, idp), Mark::Fail);

    json no_use = json::parse(testing::nomad_rsa_jwk(key.get(), "n"));
    no_use.erase("use");
    const Check missing_use = row(jwks_checks(jwks_of({no_use.dump()})), "jwks.algorithms");
    EXPECT_EQ(mark_of(missing_use, Idp::Aws), Mark::Pass);
    EXPECT_EQ(mark_of(missing_use, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(mark_of(missing_use, Idp::Entra), Mark::Fail);
    EXPECT_TRUE(contains(missing_use.verdict(Idp::Entra).reason, "\"use\":\"sig\""));

    json encryption = json::parse(testing::nomad_rsa_jwk(key.get(), "x"));
    encryption["use"] = "enc";
    EXPECT_EQ(row(jwks_checks(jwks_of({encryption.dump()})), "jwks.algorithms").mark(kAll),
              Mark::Fail);
}

TEST(ProbeJwks, CountsAgainstAwsAndEntraLimits) {
    const EvpPkeyPtr key = testing::generate_rsa_key();
    const json base = json::parse(testing::nomad_rsa_jwk(key.get(), "k"));
    std::vector<std::string> keys;
    for (int i = 0; i < 101; ++i) {
        json copy = base;
        copy["kid"] = "k" + std::to_string(i);
        keys.push_back(copy.dump());
    }
    const std::vector<Check> checks = jwks_checks(jwks_of(keys));
    const Check& counts = row(checks, "jwks.counts");
    EXPECT_EQ(counts.detail, "101 keys: 101 RSA");
    EXPECT_EQ(mark_of(counts, Idp::Aws), Mark::Fail);
    EXPECT_EQ(mark_of(counts, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(mark_of(counts, Idp::Entra), Mark::Warn);
    // The 101st key is beyond what Entra keeps.
    EXPECT_EQ(mark_of(row(checks, "jwks.algorithms"), Idp::Entra), Mark::Warn);
    keys.pop_back();
    EXPECT_EQ(row(jwks_checks(jwks_of(keys)), "jwks.counts").mark(kAll), Mark::Pass);
}

TEST(ProbeJwks, PrivateMaterialAndSymmetricKeysFail) {
    const EvpPkeyPtr key = testing::generate_rsa_key();
    json leaked = json::parse(testing::nomad_rsa_jwk(key.get(), "k"));
    leaked["d"] = "AQAB";
    const Check private_row = row(jwks_checks(jwks_of({leaked.dump()})), "jwks.private");
    EXPECT_EQ(private_row.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(private_row.verdict(Idp::Aws).reason, "keys[0].d"));
    EXPECT_FALSE(contains(private_row.verdict(Idp::Aws).reason, "AQAB"));

    const Check symmetric =
        row(jwks_checks(R"({"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]})"), "jwks.private");
    EXPECT_EQ(symmetric.mark(kAll), Mark::Fail);
}

TEST(ProbeJwks, DuplicateKidsFailMissingKidsWarn) {
    const EvpPkeyPtr key = testing::generate_rsa_key();
    const std::string jwk = testing::nomad_rsa_jwk(key.get(), "same");
    EXPECT_EQ(row(jwks_checks(jwks_of({jwk, jwk})), "jwks.kids").mark(kAll), Mark::Fail);
    json no_kid = json::parse(jwk);
    no_kid.erase("kid");
    EXPECT_EQ(row(jwks_checks(jwks_of({jwk, no_kid.dump()})), "jwks.kids").mark(kAll), Mark::Warn);
}

TEST(ProbeJwks, UnparsableSetSkipsTheRest) {
    for (const char* body : {"[]", "{\"keys\":[]}", "{\"keys\":[1]}", "not json"}) {
        const std::vector<Check> checks = jwks_checks(body);
        EXPECT_EQ(row(checks, "jwks.json").mark(kAll), Mark::Fail) << body;
        EXPECT_EQ(row(checks, "jwks.algorithms").mark(kAll), Mark::Skipped) << body;
    }
}

TEST(ProbeJwks, AlgorithmRefusalsPerProvider) {
    EXPECT_EQ(algorithm_refusal(Idp::Aws, "RS512"), "");
    EXPECT_EQ(algorithm_refusal(Idp::Aws, "ES384"), "");
    EXPECT_NE(algorithm_refusal(Idp::Aws, "PS256"), "");
    EXPECT_TRUE(contains(algorithm_refusal(Idp::Aws, "EdDSA"), kKeyringRotateHint));
    EXPECT_EQ(algorithm_refusal(Idp::Gcp, "ES256"), "");
    EXPECT_NE(algorithm_refusal(Idp::Gcp, "RS384"), "");
    EXPECT_EQ(algorithm_refusal(Idp::Entra, "RS256"), "");
    EXPECT_NE(algorithm_refusal(Idp::Entra, "ES256"), "");
}

}  // namespace
}  // namespace oidcgw
