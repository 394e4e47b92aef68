// `probe`'s rules without a network: URL rules, TLS rows over chains from the test PKI,
// discovery and JWKS documents judged per identity provider, JWT decoding and verification for
// every algorithm, token claims, and the table and JSON renderings.
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
#include "probe/jwt_verification.h"
#include "probe/probe_checks.h"
#include "probe/probe_report.h"
#include "probe/token_checks.h"
#include "unit_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <stdexcept>

namespace oidcgw {
namespace {

using nlohmann::json;
using testing::fixture;

const Check& row(const std::vector<Check>& checks, const std::string& id) {
    for (const Check& check : checks) {
        if (check.id == id) return check;
    }
    throw std::runtime_error("no check " + id);
}

Mark mark_of(const Check& check, Idp idp) {
    return check.verdict(idp).mark;
}

const std::vector<Idp> kAll(kAllIdps.begin(), kAllIdps.end());

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// ---- URL rules ----

TEST(ProbeUrl, APlainHttpsIssuerPassesEveryRule) {
    const std::vector<Check> checks = check_issuer_url("https://oidc.example.com/nomad");
    ASSERT_EQ(checks.size(), 5u);
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
    EXPECT_EQ(row(checks, "url.port").detail, "none written (443)");
}

TEST(ProbeUrl, HttpFailsForEveryProvider) {
    const Check scheme = row(check_issuer_url("http://oidc.example.com"), "url.scheme");
    for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(scheme, idp), Mark::Fail);
    EXPECT_TRUE(contains(scheme.verdict(Idp::Aws).reason, "only over https"));
    EXPECT_TRUE(contains(
        row(check_issuer_url("HTTPS://oidc.example.com"), "url.scheme").verdict(Idp::Gcp).reason,
        "lowercase"));
}

TEST(ProbeUrl, AnyWrittenPortFailsAwsOnly) {
    const Check other = row(check_issuer_url("https://oidc.example.com:8443"), "url.port");
    EXPECT_EQ(mark_of(other, Idp::Aws), Mark::Fail);
    EXPECT_TRUE(contains(other.verdict(Idp::Aws).reason, "8443"));
    EXPECT_EQ(mark_of(other, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(mark_of(other, Idp::Entra), Mark::Pass);
    EXPECT_EQ(other.mark({Idp::Gcp, Idp::Entra}), Mark::Pass);

    const Check explicit_443 = row(check_issuer_url("https://oidc.example.com:443"), "url.port");
    EXPECT_EQ(mark_of(explicit_443, Idp::Aws), Mark::Fail);
    EXPECT_TRUE(contains(explicit_443.verdict(Idp::Aws).reason, ":443"));

    const Check bad = row(check_issuer_url("https://oidc.example.com:99999"), "url.port");
    EXPECT_EQ(bad.mark(kAll), Mark::Fail);
    EXPECT_EQ(mark_of(bad, Idp::Gcp), Mark::Fail);
}

TEST(ProbeUrl, QueryFragmentAndUserinfoFailEveryProvider) {
    for (const char* url : {"https://oidc.example.com/?a=b", "https://oidc.example.com/#top",
                            "https://user@oidc.example.com"}) {
        const Check query = row(check_issuer_url(url), "url.query");
        for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(query, idp), Mark::Fail) << url;
    }
}

TEST(ProbeUrl, LengthOver600FailsEntraOnly) {
    const std::string at_limit = "https://oidc.example.com/" + std::string(600 - 25, 'a');
    ASSERT_EQ(at_limit.size(), 600u);
    EXPECT_EQ(row(check_issuer_url(at_limit), "url.length").mark(kAll), Mark::Pass);
    const Check over = row(check_issuer_url(at_limit + "b"), "url.length");
    EXPECT_EQ(mark_of(over, Idp::Entra), Mark::Fail);
    EXPECT_EQ(mark_of(over, Idp::Aws), Mark::Pass);
    EXPECT_EQ(mark_of(over, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(over.detail, "601 characters");
}

TEST(ProbeUrl, UppercaseHostWarnsAndGarbageSkipsTheRest) {
    EXPECT_EQ(row(check_issuer_url("https://OIDC.example.com"), "url.host").mark(kAll), Mark::Warn);
    const std::vector<Check> checks = check_issuer_url("oidc.example.com");
    EXPECT_EQ(row(checks, "url.scheme").mark(kAll), Mark::Fail);
    EXPECT_EQ(row(checks, "url.port").mark(kAll), Mark::Skipped);
}

TEST(ProbeUrl, SplitsIpv6AndPorts) {
    const auto parts = split_probe_url("https://[::1]:8443/a?b#c");
    ASSERT_TRUE(parts);
    EXPECT_EQ(parts->host, "::1");
    EXPECT_EQ(parts->port, 8443);
    EXPECT_EQ(parts->path, "/a");
    EXPECT_TRUE(parts->has_query);
    EXPECT_TRUE(parts->has_fragment);
    EXPECT_EQ(split_probe_url("https://h")->port, 443);
    EXPECT_FALSE(split_probe_url("https://h:x")->port);
    EXPECT_FALSE(split_probe_url("no-scheme"));
}

// One port grammar everywhere (common/host_port.h): a leading zero is refused like a sign or a
// blank, as the gateway's own configuration refuses it.
TEST(ProbeUrl, PortWithLeadingZeroIsRefused) {
    const auto parts = split_probe_url("https://oidc.example.com:0443");
    ASSERT_TRUE(parts);
    EXPECT_TRUE(parts->has_port);
    EXPECT_EQ(parts->port_text, "0443");
    EXPECT_FALSE(parts->port);
    for (const char* url : {"https://h:0443", "https://h:+443", "https://h:0", "https://h:65536",
                            "https://h:", "https://h: 443"}) {
        EXPECT_FALSE(split_probe_url(url)->port) << url;
    }
    EXPECT_EQ(split_probe_url("https://h:65535")->port, 65535);
    const Check port = row(check_issuer_url("https://oidc.example.com:0443"), "url.port");
    EXPECT_EQ(port.mark(kAll), Mark::Fail);
    EXPECT_EQ(port.detail, "\"0443\"");
}

TEST(ProbeUrl, DiscoveryUrlDropsOneTrailingSlash) {
    EXPECT_EQ(discovery_url_for("https://a.example"),
              "https://a.example/.well-known/openid-configuration");
    EXPECT_EQ(discovery_url_for("https://a.example/"),
              "https://a.example/.well-known/openid-configuration");
    EXPECT_EQ(discovery_url_for("https://a.example/p/"),
              "https://a.example/p/.well-known/openid-configuration");
}

TEST(ProbeUrl, IssuerMismatchNamesTheTrailingSlash) {
    const std::string has =
        describe_issuer_mismatch("https://a.example/", "https://a.example", "x");
    EXPECT_TRUE(contains(has, "only by a trailing slash"));
    EXPECT_TRUE(contains(has, "it has one, the URL does not"));
    const std::string lacks =
        describe_issuer_mismatch("https://a.example", "https://a.example/", "x");
    EXPECT_TRUE(contains(lacks, "the URL has one, it does not"));
    EXPECT_TRUE(contains(describe_issuer_mismatch("https://A.example", "https://a.example", "x"),
                         "letter case"));
    EXPECT_FALSE(
        contains(describe_issuer_mismatch("https://b.example", "https://a.example", "x"), "slash"));
}

// ---- Discovery ----

TEST(ProbeDiscovery, NomadsDocumentPassesAndYieldsTheJwksUri) {
    DiscoveryFindings findings;
    const std::vector<Check> checks = check_discovery_document(
        fixture("openid-configuration.json"), "https://oidc.nomad.example.com", &findings);
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
    EXPECT_EQ(findings.jwks_uri, "https://oidc.nomad.example.com/.well-known/jwks.json");
}

TEST(ProbeDiscovery, TrailingSlashMismatchFailsEveryProviderByName) {
    const std::vector<Check> checks = check_discovery_document(
        fixture("openid-configuration.json"), "https://oidc.nomad.example.com/", nullptr);
    const Check& issuer = row(checks, "discovery.issuer");
    for (Idp idp : kAllIdps) {
        EXPECT_EQ(mark_of(issuer, idp), Mark::Fail);
        EXPECT_TRUE(contains(issuer.verdict(idp).reason, "trailing slash"));
    }
}

TEST(ProbeDiscovery, MissingMembersAndHttpJwksUriFail) {
    DiscoveryFindings findings;
    const std::vector<Check> checks = check_discovery_document(
        R"({"issuer":"https://a.example","jwks_uri":"http://a.example/keys",)"
        R"("response_types_supported":[]})",
        "https://a.example", &findings);
    const Check& members = row(checks, "discovery.members");
    EXPECT_EQ(members.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(members.verdict(Idp::Aws).reason, "subject_types_supported"));
    EXPECT_TRUE(contains(members.verdict(Idp::Aws).reason, "response_types_supported"));
    EXPECT_EQ(row(checks, "discovery.jwks_uri").mark(kAll), Mark::Fail);
    EXPECT_TRUE(findings.jwks_uri.empty());
}

TEST(ProbeDiscovery, AlgorithmListWithoutRs256Warns) {
    const std::vector<Check> checks = check_discovery_document(
        R"({"issuer":"https://a.example","jwks_uri":"https://a.example/k",)"
        R"("response_types_supported":["code"],"subject_types_supported":["public"],)"
        R"("id_token_signing_alg_values_supported":["EdDSA"]})",
        "https://a.example", nullptr);
    EXPECT_EQ(row(checks, "discovery.members").mark(kAll), Mark::Warn);
}

TEST(ProbeDiscovery, UnparsableDocumentSkipsTheRest) {
    const std::vector<Check> checks =
        check_discovery_document(R"({"issuer":"a","issuer":"b"})", "a", nullptr);
    EXPECT_EQ(row(checks, "discovery.json").mark(kAll), Mark::Fail);
    EXPECT_EQ(row(checks, "discovery.issuer").mark(kAll), Mark::Skipped);
    EXPECT_EQ(row(checks, "discovery.jwks_uri").mark(kAll), Mark::Skipped);
}

TEST(ProbeFetchRows, ReportReachVerificationStatusAndContentType) {
    ProbeFetch fetch;
    fetch.error = "Could not connect";
    EXPECT_EQ(check_fetch("d.fetch", "D", "t", fetch).mark(kAll), Mark::Fail);

    fetch = ProbeFetch{};
    fetch.reached = true;
    fetch.verified = true;
    fetch.status = 200;
    fetch.content_type = "application/json; charset=utf-8";
    EXPECT_EQ(check_fetch("d.fetch", "D", "t", fetch).mark(kAll), Mark::Pass);
    EXPECT_EQ(check_content_type("d.ct", "D", fetch).mark(kAll), Mark::Pass);

    fetch.content_type = "text/plain";
    EXPECT_EQ(check_content_type("d.ct", "D", fetch).mark(kAll), Mark::Fail);

    fetch.verified = false;
    fetch.tls_error = "unable to get local issuer certificate";
    const Check unverified = check_fetch("d.fetch", "D", "t", fetch);
    EXPECT_EQ(unverified.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(unverified.verdict(Idp::Gcp).reason, "local issuer"));

    fetch.verified = true;
    fetch.status = 301;
    fetch.location = "https://elsewhere.example/";
    EXPECT_TRUE(
        contains(check_fetch("d.fetch", "D", "t", fetch).verdict(Idp::Aws).reason, "redirect"));
}

TEST(ProbeTiming, AwsFailsAtFiveSecondsOthersWarn) {
    using std::chrono::milliseconds;
    EXPECT_EQ(check_response_time(milliseconds(30), milliseconds(40)).mark(kAll), Mark::Pass);
    EXPECT_EQ(check_response_time(milliseconds(30), milliseconds(2500)).mark(kAll), Mark::Warn);
    const Check slow = check_response_time(milliseconds(5200), std::nullopt);
    EXPECT_EQ(mark_of(slow, Idp::Aws), Mark::Fail);
    EXPECT_EQ(mark_of(slow, Idp::Gcp), Mark::Warn);
    EXPECT_EQ(slow.mark({Idp::Entra}), Mark::Warn);
}

// ---- JWKS ----

std::vector<Check> jwks_checks(const std::string& body) {
    return check_jwks_document(body, nullptr);
}

std::string jwks_of(const std::vector<std::string>& keys) {
    std::string body = "{\"keys\":[";
    for (std::size_t i = 0; i < keys.size(); ++i) body += (i ? "," : "") + keys[i];
    return body + "]}";
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

// ---- JWT decoding and verification ----

TEST(JwtVerification, Base64urlIsStrict) {
    EXPECT_EQ(decode_base64url("aGk"), "hi");
    EXPECT_EQ(decode_base64url(""), "");
    EXPECT_FALSE(decode_base64url("aGk="));
    EXPECT_FALSE(decode_base64url("a+k"));
    EXPECT_FALSE(decode_base64url("aGl"));  // non-zero trailing bits
    EXPECT_FALSE(decode_base64url("a"));
}

TEST(JwtVerification, DecodeRefusesMalformedTokens) {
    std::string error;
    EXPECT_FALSE(decode_jwt("a.b", &error));
    EXPECT_FALSE(decode_jwt("a.b.c.d", &error));
    const std::string payload = testing::base64url_encode("{}");
    EXPECT_FALSE(decode_jwt(testing::base64url_encode("[]") + "." + payload + ".", &error));
    EXPECT_TRUE(contains(error, "header"));
    EXPECT_FALSE(
        decode_jwt(testing::base64url_encode(R"({"kid":"k"})") + "." + payload + ".", &error));
    EXPECT_TRUE(contains(error, "alg"));
    EXPECT_FALSE(decode_jwt(
        testing::base64url_encode(R"({"alg":"RS256","alg":"none"})") + "." + payload + ".",
        &error));
    const auto decoded = decode_jwt(
        " " + testing::base64url_encode(R"({"alg":"RS256","kid":"k"})") + "." + payload + ".\n",
        &error);
    ASSERT_TRUE(decoded) << error;
    EXPECT_EQ(decoded->alg, "RS256");
    EXPECT_EQ(decoded->kid, "k");
    EXPECT_TRUE(decoded->signature.empty());
}

struct AlgorithmCase {
    const char* alg;
    const char* kind;  // "RSA", "P-256", "P-384", "P-521", "Ed25519"
};

class JwtAlgorithms : public ::testing::TestWithParam<AlgorithmCase> {};

TEST_P(JwtAlgorithms, VerifiesItsOwnSignatureAndRefusesATamperedOne) {
    const AlgorithmCase& c = GetParam();
    const std::string kind = c.kind;
    EvpPkeyPtr key = kind == "RSA"       ? testing::generate_rsa_key()
                     : kind == "Ed25519" ? testing::generate_ed25519_key()
                                         : testing::generate_ec_key(kind);
    const std::string jwk = kind == "RSA"       ? testing::rsa_jwk(key.get(), "k", c.alg)
                            : kind == "Ed25519" ? testing::nomad_ed25519_jwk(key.get(), "k")
                                                : testing::ec_jwk(key.get(), "k", c.alg);
    const std::string claims = testing::identity_claims("https://a.example", "aud", 0, 3600);
    const std::string token = testing::sign_jwt(key.get(), c.alg, "k", claims);
    std::string error;
    const auto decoded = decode_jwt(token, &error);
    ASSERT_TRUE(decoded) << error;
    EXPECT_TRUE(verify_jwt_signature(*decoded, json::parse(jwk), &error)) << c.alg << ": " << error;

    DecodedJwt tampered = *decoded;
    tampered.signing_input = testing::base64url_encode(R"({"alg":")" + std::string(c.alg) +
                                                       R"(","kid":"k","typ":"JWT"})") +
                             "." + testing::base64url_encode(claims + " ");
    EXPECT_FALSE(verify_jwt_signature(tampered, json::parse(jwk), &error)) << c.alg;
    EXPECT_TRUE(contains(error, "does not verify"));
}

INSTANTIATE_TEST_SUITE_P(
    EveryAlgorithm, JwtAlgorithms,
    ::testing::Values(AlgorithmCase{"RS256", "RSA"}, AlgorithmCase{"RS384", "RSA"},
                      AlgorithmCase{"RS512", "RSA"}, AlgorithmCase{"PS256", "RSA"},
                      AlgorithmCase{"PS384", "RSA"}, AlgorithmCase{"PS512", "RSA"},
                      AlgorithmCase{"ES256", "P-256"}, AlgorithmCase{"ES384", "P-384"},
                      AlgorithmCase{"ES512", "P-521"}, AlgorithmCase{"EdDSA", "Ed25519"}),
    [](const auto& test_case) { return std::string(test_case.param.alg); });

TEST(JwtVerification, RefusesAlgorithmsThatDoNotFitTheKey) {
    const EvpPkeyPtr rsa = testing::generate_rsa_key();
    const EvpPkeyPtr ec = testing::generate_ec_key("P-256");
    const std::string claims = testing::identity_claims("https://a.example", "aud", 0, 60);
    std::string error;

    // An RS256 token checked against an EC key, and against an RSA key published for RS512.
    const auto rs256 = decode_jwt(testing::sign_rs256_jwt(rsa.get(), "k", claims), &error);
    ASSERT_TRUE(rs256);
    EXPECT_FALSE(
        verify_jwt_signature(*rs256, json::parse(testing::ec_jwk(ec.get(), "k", "ES256")), &error));
    EXPECT_TRUE(contains(error, "kty"));
    EXPECT_FALSE(verify_jwt_signature(
        *rs256, json::parse(testing::rsa_jwk(rsa.get(), "k", "RS512")), &error));
    EXPECT_TRUE(contains(error, "RS512"));

    // "none" and HMAC never verify.
    DecodedJwt none = *rs256;
    none.alg = "none";
    EXPECT_FALSE(
        verify_jwt_signature(none, json::parse(testing::nomad_rsa_jwk(rsa.get(), "k")), &error));
    none.alg = "HS256";
    EXPECT_FALSE(
        verify_jwt_signature(none, json::parse(testing::nomad_rsa_jwk(rsa.get(), "k")), &error));

    // ES256 with a P-384 key.
    const EvpPkeyPtr p384 = testing::generate_ec_key("P-384");
    json wrong_curve = json::parse(testing::ec_jwk(p384.get(), "k", "ES384"));
    wrong_curve.erase("alg");
    const auto es256 = decode_jwt(testing::sign_jwt(ec.get(), "ES256", "k", claims), &error);
    ASSERT_TRUE(es256);
    EXPECT_FALSE(verify_jwt_signature(*es256, wrong_curve, &error));
    EXPECT_TRUE(contains(error, "P-256"));
}

TEST(JwtVerification, KeysFromMalformedJwksAreRefused) {
    std::string error;
    EXPECT_FALSE(public_key_from_jwk(json::parse(R"({"kty":"RSA","n":"AQAB"})"), &error));
    EXPECT_TRUE(contains(error, "\"e\""));
    EXPECT_FALSE(public_key_from_jwk(
        json::parse(R"({"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB"})"), &error));
    EXPECT_TRUE(contains(error, "32 bytes"));
    EXPECT_FALSE(
        public_key_from_jwk(json::parse(R"({"kty":"OKP","crv":"X25519","x":"AQAB"})"), &error));
    EXPECT_FALSE(public_key_from_jwk(json::parse(R"({"kty":"oct","k":"AQAB"})"), &error));
}

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

// ---- TLS rows over chains from the test PKI ----

class ProbeTls : public ::testing::Test {
  protected:
    void SetUp() override { pki_ = std::make_unique<testing::TestPki>(dir_.path(), "probe"); }

    std::vector<X509Ptr> chain(const testing::CertificateRequest& request) {
        const testing::IssuedFiles files = pki_->issue(request);
        std::string error;
        std::vector<X509Ptr> loaded = load_certificate_chain(files.certificate, &error);
        if (loaded.empty()) throw std::runtime_error(error);
        return loaded;
    }

    testing::CertificateRequest request(const std::string& name) {
        return {.common_name = name, .dns_names = {kHost}, .include_intermediate = true};
    }

    TlsObservation observe(std::vector<X509Ptr> presented, bool with_ca = true) {
        TlsObservation observation;
        observation.tls12.ok = true;
        observation.tls12.version = "TLSv1.2";
        observation.tls12.chain = std::move(presented);
        observation.tls13.ok = true;
        observation.tls13.version = "TLSv1.3";
        observation.host = kHost;
        observation.ca_file = with_ca ? pki_->ca_file() : "";
        observation.now = std::time(nullptr);
        return observation;
    }

    static constexpr const char* kHost = "oidc.example.test";
    testing::TempDir dir_;
    std::unique_ptr<testing::TestPki> pki_;
};

TEST_F(ProbeTls, AGoodChainPassesWithItsCa) {
    const std::vector<Check> checks = check_tls(observe(chain(request("good"))));
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
    EXPECT_TRUE(contains(row(checks, "tls.validity").detail, "days left"));
    EXPECT_TRUE(contains(row(checks, "tls.chain").detail, "probe Intermediate CA"));
}

TEST_F(ProbeTls, OnlyTheSystemStoreDoesNotTrustATestCa) {
    const Check trust = row(check_tls(observe(chain(request("store")), false)), "tls.trust");
    EXPECT_EQ(trust.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(trust.verdict(Idp::Aws).reason, "system trust store"));
}

TEST_F(ProbeTls, WrongNameAndNearExpiry) {
    testing::CertificateRequest other = request("other");
    other.dns_names = {"elsewhere.example.test"};
    other.valid_for_seconds = 3L * 24 * 3600;
    const std::vector<Check> checks = check_tls(observe(chain(other)));
    EXPECT_EQ(row(checks, "tls.names").mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(row(checks, "tls.names").detail, "elsewhere.example.test"));
    EXPECT_EQ(row(checks, "tls.validity").mark(kAll), Mark::Warn);
}

TEST_F(ProbeTls, AnExpiredCertificateFails) {
    testing::CertificateRequest expired = request("expired");
    expired.valid_from_offset_seconds = -10L * 24 * 3600;
    expired.valid_for_seconds = -3600;
    EXPECT_EQ(row(check_tls(observe(chain(expired))), "tls.validity").mark(kAll), Mark::Fail);
}

TEST_F(ProbeTls, MisorderedAndDuplicatedChainsFailAwsAndWarnOthers) {
    std::vector<X509Ptr> reversed = chain(request("reversed"));
    std::swap(reversed[0], reversed[1]);
    const Check order = row(check_tls(observe(std::move(reversed))), "tls.chain");
    EXPECT_EQ(mark_of(order, Idp::Aws), Mark::Fail);
    EXPECT_EQ(mark_of(order, Idp::Gcp), Mark::Warn);
    EXPECT_EQ(mark_of(order, Idp::Entra), Mark::Warn);

    std::vector<X509Ptr> duplicated = chain(request("duplicated"));
    X509_up_ref(duplicated[1].get());
    duplicated.emplace_back(duplicated[1].get());
    const ChainFindings findings = inspect_chain(duplicated);
    ASSERT_EQ(findings.errors.size(), 1u);
    EXPECT_TRUE(contains(findings.errors[0], "duplicates certificate 2"));
}

TEST_F(ProbeTls, TwoIntermediatesInOrderPass) {
    testing::CertificateRequest two = request("two");
    two.include_two_intermediates = true;
    const std::vector<X509Ptr> presented = chain(two);
    ASSERT_EQ(presented.size(), 3u);
    EXPECT_TRUE(inspect_chain(presented).errors.empty());
    EXPECT_TRUE(verify_chain_trust(presented, pki_->ca_file()).trusted);
}

TEST_F(ProbeTls, MissingTls12FailsAwsOnly) {
    TlsObservation observation = observe(chain(request("tls13only")));
    observation.tls13.chain = std::move(observation.tls12.chain);
    observation.tls12 = HandshakeResult{};
    observation.tls12.error = "TLS handshake failed: tlsv1 alert protocol version";
    const std::vector<Check> checks = check_tls(observation);
    const Check& version = row(checks, "tls.version_1_2");
    EXPECT_EQ(mark_of(version, Idp::Aws), Mark::Fail);
    EXPECT_EQ(mark_of(version, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(row(checks, "tls.trust").mark(kAll), Mark::Pass);  // judged on the 1.3 chain
}

TEST_F(ProbeTls, NoHandshakeSkipsTheChainRows) {
    TlsObservation observation;
    observation.tls12.error = "cannot connect";
    observation.tls13.error = "cannot connect";
    observation.host = kHost;
    const std::vector<Check> checks = check_tls(observation);
    EXPECT_EQ(row(checks, "tls.version_1_3").mark(kAll), Mark::Fail);
    EXPECT_EQ(row(checks, "tls.trust").mark(kAll), Mark::Skipped);
}

TEST_F(ProbeTls, EndpointsParse) {
    std::string error;
    EXPECT_EQ(parse_endpoint("127.0.0.1:8443", std::nullopt, &error)->port, 8443);
    EXPECT_EQ(parse_endpoint("[::1]:9", std::nullopt, &error)->host, "::1");
    EXPECT_EQ(parse_endpoint("example.com", 443, &error)->port, 443);
    EXPECT_FALSE(parse_endpoint("example.com", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("::1:9", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("a:0", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("a b:1", std::nullopt, &error));
    EXPECT_EQ((Endpoint{"::1", 9}).to_string(), "[::1]:9");
}

// The probe's endpoints follow the gateway's host grammar: LDH labels, dotted quads without
// leading zeros, canonical ports.
TEST_F(ProbeTls, EndpointsFollowTheOneHostGrammar) {
    std::string error;
    EXPECT_FALSE(parse_endpoint("example.com:0443", std::nullopt, &error));
    EXPECT_EQ(error, "\"example.com:0443\": PORT must be a number from 1 to 65535");
    EXPECT_FALSE(parse_endpoint("a..b:1", std::nullopt, &error));
    EXPECT_EQ(error, "\"a..b:1\": HOST must be a DNS name or an IP address");
    EXPECT_FALSE(parse_endpoint("999.1.1.1:1", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint(std::string(64, 'a') + ".example:1", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("[1.2.3.4]:1", std::nullopt, &error));
    EXPECT_EQ(error, "\"1.2.3.4\" is not an IPv6 address");
    EXPECT_FALSE(parse_endpoint("[::1", std::nullopt, &error));
    EXPECT_EQ(error, "\"[::1\": the IPv6 address lacks its closing ']'");
    EXPECT_FALSE(parse_endpoint("[::1]9", std::nullopt, &error));
    EXPECT_EQ(error, "\"[::1]9\": expected ':PORT' after ']'");
    EXPECT_EQ(parse_endpoint("GW.Example.com:65535", std::nullopt, &error)->port, 65535);
    EXPECT_EQ(parse_endpoint("[::1]", 443, &error)->port, 443);
}

// ---- Report ----

ProbeReport sample_report() {
    ProbeReport report;
    report.issuer = "https://oidc.example.test";
    report.checks.push_back(make_check("a.pass", "One", "Passing row", "fine"));
    Check aws_only = make_check("a.aws", "One", "AWS-only row", "port 8443");
    aws_only.raise(Idp::Aws, Mark::Fail, "AWS wants 443");
    report.checks.push_back(aws_only);
    Check warning = make_check("b.warn", "Two", "Warning row");
    warning.all(Mark::Warn, "renew soon");
    report.checks.push_back(warning);
    return report;
}

TEST(ProbeReportTest, ExitStatusDependsOnTheProvidersAsked) {
    ProbeReport report = sample_report();
    EXPECT_FALSE(report.passed());
    EXPECT_EQ(probe_exit_status(report), 1);
    report.asked = {Idp::Gcp, Idp::Entra};
    EXPECT_TRUE(report.passed());  // warnings alone do not fail
    EXPECT_EQ(probe_exit_status(report), 0);
    EXPECT_EQ(report.summary(Idp::Gcp).mark, Mark::Warn);
    EXPECT_EQ(report.summary(Idp::Aws).reasons,
              std::vector<std::string>({"AWS-only row: AWS wants 443", "Warning row: renew soon"}));
}

TEST(ProbeReportTest, TableShowsMarksAndReasons) {
    const std::string table = render_probe_table(sample_report());
    EXPECT_TRUE(contains(table, "Probe of https://oidc.example.test for AWS, GCP, Entra"));
    EXPECT_TRUE(contains(table, "One\n"));
    EXPECT_TRUE(contains(table, "\u2713 Passing row"));
    EXPECT_TRUE(contains(table, "\u2717 AWS-only row"));
    EXPECT_TRUE(contains(table, "AWS \u2717 AWS wants 443"));
    EXPECT_TRUE(contains(table, "! Warning row"));
    EXPECT_TRUE(contains(table, "      ! renew soon"));
    EXPECT_TRUE(contains(table, "AWS   \u2717 would fail"));
    EXPECT_TRUE(contains(table, "GCP   ! would work, with warnings"));
    EXPECT_TRUE(contains(table, "Result: FAILED"));
}

TEST(ProbeReportTest, JsonCarriesEveryVerdict) {
    ProbeReport report = sample_report();
    report.asked = {Idp::Aws, Idp::Entra};
    const json document = json::parse(render_probe_json(report));
    EXPECT_EQ(document["passed"], false);
    EXPECT_EQ(document["idps"], json({"aws", "entra"}));
    EXPECT_EQ(document["checks"].size(), 3u);
    EXPECT_EQ(document["checks"][1]["result"], "fail");
    EXPECT_EQ(document["checks"][1]["idps"]["aws"]["reason"], "AWS wants 443");
    EXPECT_FALSE(document["checks"][1]["idps"].contains("gcp"));
    EXPECT_EQ(document["verdicts"]["entra"]["result"], "warn");
}

TEST(ProbeReportTest, IdpListsParse) {
    std::string error;
    EXPECT_EQ(parse_idp_list("entra,AWS,aws", &error), std::vector<Idp>({Idp::Aws, Idp::Entra}));
    EXPECT_FALSE(parse_idp_list("aws,,gcp", &error));
    EXPECT_FALSE(parse_idp_list("azure", &error));
    EXPECT_TRUE(contains(error, "azure"));
}

}  // namespace
}  // namespace oidcgw
