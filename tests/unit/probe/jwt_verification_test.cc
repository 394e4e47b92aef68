// `probe`'s JWT decoding and signature verification (jwt_verification.cc), for every algorithm.
#include "probe/jwt_verification.h"
#include "common/base64url.h"
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
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

// ---- JWT decoding and verification ----

TEST(JwtVerification, DecodeRefusesMalformedTokens) {
    std::string error;
    EXPECT_FALSE(decode_jwt("a.b", &error));
    EXPECT_FALSE(decode_jwt("a.b.c.d", &error));
    const std::string payload = encode_base64url("{}");
    EXPECT_FALSE(decode_jwt(encode_base64url("[]") + "." + payload + ".", &error));
    EXPECT_TRUE(contains(error, "header"));
    EXPECT_FALSE(decode_jwt(encode_base64url(R"({"kid":"k"})") + "." + payload + ".", &error));
    EXPECT_TRUE(contains(error, "alg"));
    EXPECT_FALSE(decode_jwt(
        encode_base64url(R"({"alg":"RS256","alg":"none"})") + "." + payload + ".", &error));
    const auto decoded = decode_jwt(
        " " + encode_base64url(R"({"alg":"RS256","kid":"k"})") + "." + payload + ".\n", &error);
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
    tampered.signing_input =
        encode_base64url(R"({"alg":")" + std::string(c.alg) + R"(","kid":"k","typ":"JWT"})") + "." +
        encode_base64url(claims + " ");
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

}  // namespace
}  // namespace oidcgw
