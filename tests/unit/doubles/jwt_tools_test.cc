// Proves the JWT tools do what other tests rely on: JWKs in Nomad's member order, and RS256 tokens
// that verify until they are tampered with.
#include "jwt_tools.h"
#include "common/base64url.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace oidcgw::testing {
namespace {

TEST(JwtToolsTest, RsaJwkHasNomadMemberOrderAndKeyMaterial) {
    EvpPkeyPtr key = generate_rsa_key();
    std::string jwk = nomad_rsa_jwk(key.get(), "3c0f5e2a-7b41-9d86-1e5a-c2f48b7d0a13");
    const std::string prefix =
        R"({"use":"sig","kty":"RSA","kid":"3c0f5e2a-7b41-9d86-1e5a-c2f48b7d0a13","alg":"RS256","n":")";
    ASSERT_EQ(jwk.rfind(prefix, 0), 0u) << jwk;
    const std::string suffix = R"(","e":"AQAB"})";
    ASSERT_GT(jwk.size(), prefix.size() + suffix.size());
    ASSERT_EQ(jwk.substr(jwk.size() - suffix.size()), suffix) << jwk;
    std::string n = jwk.substr(prefix.size(), jwk.size() - prefix.size() - suffix.size());
    auto modulus = decode_base64url(n);
    ASSERT_TRUE(modulus.has_value());
    EXPECT_EQ(modulus->size(), 256u);  // 2048 bits, no leading zero byte
    EXPECT_NE(static_cast<unsigned char>((*modulus)[0]), 0);
}

TEST(JwtToolsTest, SignedTokenVerifiesAndTamperingIsDetected) {
    EvpPkeyPtr key = generate_rsa_key();
    std::string jwk = nomad_rsa_jwk(key.get(), "kid-1");
    std::size_t n_start = jwk.find(R"("n":")") + 5;
    std::string n = jwk.substr(n_start, jwk.find('"', n_start) - n_start);
    const std::string claims =
        R"({"iss":"https://oidc.example.com","aud":"demo","exp":4102444800})";
    std::string token = sign_rs256_jwt(key.get(), "kid-1", claims);

    auto header = decode_base64url(token.substr(0, token.find('.')));
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(*header, R"({"alg":"RS256","kid":"kid-1","typ":"JWT"})");
    EXPECT_EQ(verify_rs256_jwt(token, n, "AQAB"), claims);

    // A changed payload, a changed signature, another key, another algorithm: all refused.
    std::size_t first_dot = token.find('.');
    std::size_t second_dot = token.find('.', first_dot + 1);
    std::string forged_claims =
        R"({"iss":"https://oidc.example.com","aud":"prod","exp":4102444800})";
    std::string tampered_payload =
        token.substr(0, first_dot + 1) + encode_base64url(forged_claims) + token.substr(second_dot);
    EXPECT_EQ(verify_rs256_jwt(tampered_payload, n, "AQAB"), std::nullopt);

    std::string tampered_signature = token;
    char& signature_char = tampered_signature[second_dot + 10];
    signature_char = signature_char == 'A' ? 'B' : 'A';
    EXPECT_EQ(verify_rs256_jwt(tampered_signature, n, "AQAB"), std::nullopt);

    EvpPkeyPtr other_key = generate_rsa_key();
    std::string other_jwk = nomad_rsa_jwk(other_key.get(), "kid-2");
    std::size_t other_start = other_jwk.find(R"("n":")") + 5;
    std::string other_n =
        other_jwk.substr(other_start, other_jwk.find('"', other_start) - other_start);
    EXPECT_EQ(verify_rs256_jwt(token, other_n, "AQAB"), std::nullopt);

    std::string none_header = encode_base64url(R"({"alg":"none","kid":"kid-1","typ":"JWT"})");
    EXPECT_EQ(verify_rs256_jwt(none_header + token.substr(first_dot), n, "AQAB"), std::nullopt);
    EXPECT_EQ(verify_rs256_jwt(token + ".extra", n, "AQAB"), std::nullopt);
    EXPECT_EQ(verify_rs256_jwt(token.substr(0, second_dot), n, "AQAB"), std::nullopt);
}

}  // namespace
}  // namespace oidcgw::testing
