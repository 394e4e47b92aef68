// `probe`'s token rows (token_checks.cc): claims and signature judged per identity provider.
#include "probe/token_checks.h"
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
#include "probe/jwt_verification.h"
#include "probe/probe_checks.h"
#include "probe/probe_report.h"
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
using testing::jwks_of;
using testing::kAll;
using testing::mark_of;
using testing::row;

// ---- Token rows ----

class ProbeToken : public ::testing::Test {
  protected:
    void SetUp() override {
        rsa_ = testing::generate_rsa_key();
        ed25519_ = testing::generate_ed25519_key();
        keys_ = json::parse(jwks_of({testing::nomad_rsa_jwk(rsa_.get(), "rsa"),
                                     testing::nomad_ed25519_jwk(ed25519_.get(), "ed")}))["keys"];
    }

    std::vector<Check> judge(const std::string& token, const json* keys) {
        TokenContext context;
        context.issuer = kIssuer;
        context.keys = keys;
        context.now = std::time(nullptr);
        return check_token(token, context);
    }
    std::vector<Check> judge(const std::string& token) { return judge(token, &keys_); }

    static constexpr const char* kIssuer = "https://oidc.example.test";
    EvpPkeyPtr rsa_;
    EvpPkeyPtr ed25519_;
    json keys_;
};

TEST_F(ProbeToken, AGoodRs256TokenPassesEveryProvider) {
    const std::string token = testing::sign_rs256_jwt(
        rsa_.get(), "rsa", testing::identity_claims(kIssuer, kEntraAudience, -60, 3600));
    const std::vector<Check> checks = judge(token);
    EXPECT_EQ(checks.size(), 8u);
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
}

TEST_F(ProbeToken, AnOtherAudienceWarnsEntraOnly) {
    const std::string token = testing::sign_rs256_jwt(
        rsa_.get(), "rsa", testing::identity_claims(kIssuer, "sts.amazonaws.com", -60, 3600));
    const Check claims = row(judge(token), "token.claims");
    EXPECT_EQ(mark_of(claims, Idp::Aws), Mark::Pass);
    EXPECT_EQ(mark_of(claims, Idp::Entra), Mark::Warn);
}

TEST_F(ProbeToken, AnExpiredTokenFails) {
    const std::string token = testing::sign_rs256_jwt(
        rsa_.get(), "rsa", testing::identity_claims(kIssuer, "aud", -7200, 3600));
    const std::vector<Check> checks = judge(token);
    const Check& times = row(checks, "token.times");
    for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(times, idp), Mark::Fail);
    EXPECT_TRUE(contains(times.verdict(Idp::Aws).reason, "expired 1h ago"));
    EXPECT_EQ(row(checks, "token.signature").mark(kAll), Mark::Pass);
}

TEST_F(ProbeToken, NotYetValidAndFutureIatFail) {
    EXPECT_EQ(row(judge(testing::sign_rs256_jwt(rsa_.get(), "rsa",
                                                testing::identity_claims(kIssuer, "a", 600, 3600))),
                  "token.times")
                  .mark(kAll),
              Mark::Fail);
    json claims = json::parse(testing::identity_claims(kIssuer, "a", 0, 3600));
    claims.erase("nbf");
    claims["iat"] = claims["iat"].get<long>() + 1800;
    EXPECT_TRUE(contains(
        row(judge(testing::sign_rs256_jwt(rsa_.get(), "rsa", claims.dump())), "token.times")
            .verdict(Idp::Gcp)
            .reason,
        "future"));
}

TEST_F(ProbeToken, AnUnknownKidFailsAndSkipsTheSignature) {
    const EvpPkeyPtr other = testing::generate_rsa_key();
    const std::string token = testing::sign_rs256_jwt(
        other.get(), "not-published", testing::identity_claims(kIssuer, "aud", 0, 3600));
    const std::vector<Check> checks = judge(token);
    const Check& kid = row(checks, "token.kid");
    EXPECT_EQ(kid.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(kid.verdict(Idp::Aws).reason, "not-published"));
    EXPECT_EQ(row(checks, "token.signature").mark(kAll), Mark::Skipped);
}

TEST_F(ProbeToken, ASignatureFromAnotherKeyFails) {
    const EvpPkeyPtr other = testing::generate_rsa_key();
    const std::string token = testing::sign_rs256_jwt(
        other.get(), "rsa", testing::identity_claims(kIssuer, "aud", 0, 3600));
    EXPECT_EQ(row(judge(token), "token.signature").mark(kAll), Mark::Fail);
}

TEST_F(ProbeToken, AnEdDsaTokenVerifiesButAwsAndGcpRejectIt) {
    const std::string token = testing::sign_jwt(ed25519_.get(), "EdDSA", "ed",
                                                testing::identity_claims(kIssuer, "aud", 0, 3600));
    const std::vector<Check> checks = judge(token);
    EXPECT_EQ(row(checks, "token.signature").mark(kAll), Mark::Pass);
    const Check& algorithm = row(checks, "token.algorithm");
    for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(algorithm, idp), Mark::Fail);
    EXPECT_TRUE(contains(algorithm.verdict(Idp::Aws).reason, "signed with \"EdDSA\": AWS rejects"));
    EXPECT_TRUE(contains(algorithm.verdict(Idp::Aws).reason, "nomad operator root keyring rotate"));
    EXPECT_TRUE(contains(algorithm.verdict(Idp::Gcp).reason, "keyring rotate"));
}

TEST_F(ProbeToken, LifetimeOver24HoursFailsGcpOnly) {
    const std::string token = testing::sign_rs256_jwt(
        rsa_.get(), "rsa", testing::identity_claims(kIssuer, "aud", 0, 48 * 3600));
    const Check lifetime = row(judge(token), "token.lifetime");
    EXPECT_EQ(mark_of(lifetime, Idp::Gcp), Mark::Fail);
    EXPECT_EQ(mark_of(lifetime, Idp::Aws), Mark::Pass);
    EXPECT_EQ(lifetime.detail, "48h");
}

TEST_F(ProbeToken, IssuerTrailingSlashIsNamed) {
    const std::string token = testing::sign_rs256_jwt(
        rsa_.get(), "rsa", testing::identity_claims(std::string(kIssuer) + "/", "aud", 0, 3600));
    const Check issuer = row(judge(token), "token.issuer");
    EXPECT_EQ(issuer.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(issuer.verdict(Idp::Entra).reason, "trailing slash"));
}

TEST_F(ProbeToken, MissingAudienceAndSubjectFail) {
    json claims = json::parse(testing::identity_claims(kIssuer, "aud", 0, 3600));
    claims.erase("aud");
    EXPECT_EQ(row(judge(testing::sign_rs256_jwt(rsa_.get(), "rsa", claims.dump())), "token.claims")
                  .mark(kAll),
              Mark::Fail);
    claims = json::parse(testing::identity_claims(kIssuer, "aud", 0, 3600));
    claims.erase("sub");
    EXPECT_EQ(row(judge(testing::sign_rs256_jwt(rsa_.get(), "rsa", claims.dump())), "token.claims")
                  .mark(kAll),
              Mark::Fail);
}

TEST_F(ProbeToken, WithoutAJwksTheKeyRowsAreSkippedButClaimsAreJudged) {
    const std::string token = testing::sign_rs256_jwt(
        rsa_.get(), "rsa", testing::identity_claims(kIssuer, "aud", -7200, 3600));
    const std::vector<Check> checks = judge(token, nullptr);
    EXPECT_EQ(row(checks, "token.kid").mark(kAll), Mark::Skipped);
    EXPECT_EQ(row(checks, "token.times").mark(kAll), Mark::Fail);
}

TEST_F(ProbeToken, GarbageSkipsEveryOtherRow) {
    const std::vector<Check> checks = judge("not a token");
    EXPECT_EQ(row(checks, "token.decode").mark(kAll), Mark::Fail);
    EXPECT_EQ(row(checks, "token.claims").mark(kAll), Mark::Skipped);
}

}  // namespace
}  // namespace oidcgw
