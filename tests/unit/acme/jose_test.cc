// jose.cc: the account JWK and its thumbprint, ES256 signatures checked by OpenSSL's verifier,
// flattened JWS requests, the external account binding's HMAC, and key authorizations.
#include "acme/jose.h"

#include "acme/certificate_request.h"
#include "common/base64url.h"
#include "common/raii.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include <array>

namespace oidcgw {
namespace {

using nlohmann::json;

EvpPkeyPtr p256_key() {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    EXPECT_TRUE(key);
    return key;
}

// The uncompressed public point 04 || X || Y, read through OpenSSL's encoded form rather than the
// coordinate parameters account_jwk uses.
std::string encoded_public_point(EVP_PKEY* key) {
    std::array<unsigned char, 65> point{};
    std::size_t length = 0;
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                              point.size(), &length),
              1);
    return std::string(reinterpret_cast<const char*>(point.data()), length);
}

// R||S back into DER, then OpenSSL's own verification of the signature.
bool openssl_verifies_es256(EVP_PKEY* key, const std::string& signing_input,
                            const std::string& raw_signature) {
    if (raw_signature.size() != 64) return false;
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw_signature.data());
    EcdsaSigPtr signature(ECDSA_SIG_new());
    BignumPtr r(BN_bin2bn(bytes, 32, nullptr));
    BignumPtr s(BN_bin2bn(bytes + 32, 32, nullptr));
    if (!signature || !r || !s || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
        return false;
    }
    r.release();  // the signature owns both numbers now
    s.release();
    const int length = i2d_ECDSA_SIG(signature.get(), nullptr);
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* cursor = reinterpret_cast<unsigned char*>(der.data());
    i2d_ECDSA_SIG(signature.get(), &cursor);
    EvpMdCtxPtr context(EVP_MD_CTX_new());
    return context &&
           EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
           EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(der.data()),
                            der.size(),
                            reinterpret_cast<const unsigned char*>(signing_input.data()),
                            signing_input.size()) == 1;
}

std::string decoded(const json& text) {
    const std::optional<std::string> bytes = decode_base64url(text.get<std::string>());
    EXPECT_TRUE(bytes) << text;
    return bytes.value_or("");
}

TEST(JoseAccountJwk, HasExactlyTheFourMembersWithFullCoordinates) {
    EvpPkeyPtr key = p256_key();
    const json jwk = account_jwk(key.get());
    ASSERT_TRUE(jwk.is_object());
    EXPECT_EQ(jwk.size(), 4u);
    EXPECT_EQ(jwk.at("crv"), "P-256");
    EXPECT_EQ(jwk.at("kty"), "EC");
    const std::string point = encoded_public_point(key.get());
    ASSERT_EQ(point.size(), 65u);
    EXPECT_EQ(decoded(jwk.at("x")), point.substr(1, 32));
    EXPECT_EQ(decoded(jwk.at("y")), point.substr(33, 32));
    EXPECT_EQ(jwk.at("x").get<std::string>().size(), 43u);  // 32 bytes, unpadded
    EXPECT_EQ(jwk.at("y").get<std::string>().size(), 43u);
}

TEST(JoseAccountJwk, KeepsALeadingZeroByteOfACoordinate) {
    // About one key in 128 has a coordinate below 2^248; 5000 tries miss with odds near e^-39.
    for (int attempt = 0; attempt < 5000; ++attempt) {
        EvpPkeyPtr key = p256_key();
        const std::string point = encoded_public_point(key.get());
        ASSERT_EQ(point.size(), 65u);
        if (point[1] != '\0' && point[33] != '\0') continue;
        const json jwk = account_jwk(key.get());
        ASSERT_TRUE(jwk.is_object());
        EXPECT_EQ(decoded(jwk.at("x")), point.substr(1, 32));
        EXPECT_EQ(decoded(jwk.at("y")), point.substr(33, 32));
        EXPECT_EQ(decoded(jwk.at("x")).size(), 32u);
        EXPECT_EQ(decoded(jwk.at("y")).size(), 32u);
        return;
    }
    FAIL() << "no key with a leading zero coordinate byte in 5000 tries";
}

TEST(JoseAccountJwk, IsNullForOtherKeys) {
    EvpPkeyPtr rsa = generate_private_key(CertificateKeyType::Rsa2048);
    ASSERT_TRUE(rsa);
    EXPECT_TRUE(account_jwk(rsa.get()).is_null());
    EvpPkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    ASSERT_TRUE(p384);
    EXPECT_TRUE(account_jwk(p384.get()).is_null());
    EXPECT_TRUE(account_jwk(nullptr).is_null());
}

TEST(JoseThumbprint, MatchesRfc7638Example) {
    // RFC 7638 §3.1, with optional members that must not change the digest.
    const json jwk = {
        {"kty", "RSA"},
        {"n",
         "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
         "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
         "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
         "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
        {"e", "AQAB"},
        {"alg", "RS256"},
        {"kid", "2011-04-29"}};
    EXPECT_EQ(jwk_thumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(JoseThumbprint, OfTheAccountKeyIsTheDigestOfItsCanonicalText) {
    EvpPkeyPtr key = p256_key();
    json jwk = account_jwk(key.get());
    ASSERT_TRUE(jwk.is_object());
    // RFC 7638 §3.1's method, spelled out by hand: the members in order, no whitespace.
    const std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" +
                                  jwk.at("x").get<std::string>() + R"(","y":")" +
                                  jwk.at("y").get<std::string>() + R"("})";
    std::array<unsigned char, 32> digest{};
    unsigned int length = 0;
    ASSERT_EQ(EVP_Digest(canonical.data(), canonical.size(), digest.data(), &length, EVP_sha256(),
                         nullptr),
              1);
    const std::string expected =
        encode_base64url(std::string(reinterpret_cast<const char*>(digest.data()), length));
    EXPECT_EQ(jwk_thumbprint(jwk), expected);
    jwk["kid"] = "not hashed";
    EXPECT_EQ(jwk_thumbprint(jwk), expected);
}

TEST(JoseThumbprint, IsEmptyWithoutTheRequiredMembers) {
    EXPECT_EQ(jwk_thumbprint(json::object()), "");
    EXPECT_EQ(jwk_thumbprint(json::array()), "");
    EXPECT_EQ(jwk_thumbprint({{"kty", "EC"}, {"crv", "P-256"}, {"x", "AA"}}), "");
    EXPECT_EQ(jwk_thumbprint({{"kty", "EC"}, {"crv", "P-256"}, {"x", "AA"}, {"y", 7}}), "");
    EXPECT_EQ(jwk_thumbprint({{"kty", "XYZ"}, {"k", "AA"}}), "");
    EXPECT_NE(jwk_thumbprint({{"kty", "oct"}, {"k", "AA"}}), "");
    EXPECT_NE(jwk_thumbprint({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AA"}}), "");
}

TEST(JoseSignEs256, GivesRawRAndSThatOpensslVerifies) {
    EvpPkeyPtr key = p256_key();
    for (int i = 0; i < 20; ++i) {
        const std::string input = "header" + std::to_string(i) + ".payload";
        const std::optional<std::string> signature = sign_es256(key.get(), input);
        ASSERT_TRUE(signature);
        ASSERT_EQ(signature->size(), 64u);
        EXPECT_TRUE(openssl_verifies_es256(key.get(), input, *signature)) << i;
        EXPECT_FALSE(openssl_verifies_es256(key.get(), input + "x", *signature)) << i;
    }
    EvpPkeyPtr other = p256_key();
    const std::optional<std::string> signature = sign_es256(key.get(), "a.b");
    ASSERT_TRUE(signature);
    EXPECT_FALSE(openssl_verifies_es256(other.get(), "a.b", *signature));
}

TEST(JoseSignEs256, RefusesKeysThatAreNotP256) {
    EvpPkeyPtr rsa = generate_private_key(CertificateKeyType::Rsa2048);
    ASSERT_TRUE(rsa);
    EXPECT_FALSE(sign_es256(rsa.get(), "a.b"));
    EXPECT_FALSE(sign_es256(nullptr, "a.b"));
}

TEST(JoseFlattenedJws, SignsProtectedDotPayload) {
    EvpPkeyPtr key = p256_key();
    const json header = {{"alg", "ES256"},
                         {"nonce", "n0nce"},
                         {"url", "https://ca.example/acme/new-order"},
                         {"kid", "https://ca.example/acme/acct/1"}};
    std::string error;
    const std::optional<std::string> text =
        flattened_jws(key.get(), header, R"({"identifiers":[]})", &error);
    ASSERT_TRUE(text) << error;
    EXPECT_EQ(text->rfind(R"({"protected":")", 0), 0u) << *text;
    const json body = json::parse(*text);
    EXPECT_EQ(body.size(), 3u);
    EXPECT_EQ(decoded(body.at("protected")), header.dump());
    EXPECT_EQ(decoded(body.at("payload")), R"({"identifiers":[]})");
    const std::string signing_input =
        body.at("protected").get<std::string>() + "." + body.at("payload").get<std::string>();
    EXPECT_TRUE(openssl_verifies_es256(key.get(), signing_input, decoded(body.at("signature"))));
}

TEST(JoseFlattenedJws, PostAsGetHasAnEmptyPayloadAndEmptyObjectIsE30) {
    EvpPkeyPtr key = p256_key();
    const json header = {{"alg", "ES256"}, {"nonce", "n"}, {"url", "u"}, {"kid", "k"}};
    std::string error;
    const std::optional<std::string> post_as_get = flattened_jws(key.get(), header, "", &error);
    ASSERT_TRUE(post_as_get) << error;
    const json get_body = json::parse(*post_as_get);
    EXPECT_EQ(get_body.at("payload"), "");
    EXPECT_TRUE(openssl_verifies_es256(key.get(), get_body.at("protected").get<std::string>() + ".",
                                       decoded(get_body.at("signature"))));
    const std::optional<std::string> empty_object = flattened_jws(key.get(), header, "{}", &error);
    ASSERT_TRUE(empty_object) << error;
    EXPECT_EQ(json::parse(*empty_object).at("payload"), "e30");
}

TEST(JoseFlattenedJws, RefusesAWrongHeaderOrKey) {
    EvpPkeyPtr key = p256_key();
    std::string error;
    EXPECT_FALSE(flattened_jws(key.get(), json::array(), "", &error));
    EXPECT_NE(error.find("ES256"), std::string::npos) << error;
    EXPECT_FALSE(flattened_jws(key.get(), {{"alg", "RS256"}}, "", &error));
    EXPECT_FALSE(flattened_jws(key.get(), {{"url", "u"}}, "", &error));
    error.clear();
    EXPECT_FALSE(flattened_jws(key.get(), {{"alg", "ES256"}, {"kid", "\xff"}}, "", &error));
    EXPECT_NE(error.find("UTF-8"), std::string::npos) << error;
    EvpPkeyPtr rsa = generate_private_key(CertificateKeyType::Rsa2048);
    ASSERT_TRUE(rsa);
    error.clear();
    EXPECT_FALSE(flattened_jws(rsa.get(), {{"alg", "ES256"}}, "", &error));
    EXPECT_NE(error.find("P-256"), std::string::npos) << error;
}

TEST(JoseExternalAccountBinding, IsAnHs256JwsOverTheAccountKey) {
    EvpPkeyPtr key = p256_key();
    const json jwk = account_jwk(key.get());
    const std::string mac_key("\x01\x02\xfe\xff\x00secret", 10);
    const json binding =
        external_account_binding("kid-1", mac_key, jwk, "https://ca.example/acme/new-account");
    ASSERT_TRUE(binding.is_object());
    EXPECT_EQ(binding.size(), 3u);
    const json header = json::parse(decoded(binding.at("protected")));
    EXPECT_EQ(
        header,
        json({{"alg", "HS256"}, {"kid", "kid-1"}, {"url", "https://ca.example/acme/new-account"}}));
    EXPECT_EQ(json::parse(decoded(binding.at("payload"))), jwk);
    const std::string signing_input =
        binding.at("protected").get<std::string>() + "." + binding.at("payload").get<std::string>();
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    ASSERT_NE(HMAC(EVP_sha256(), mac_key.data(), static_cast<int>(mac_key.size()),
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size(), mac.data(), &length),
              nullptr);
    EXPECT_EQ(decoded(binding.at("signature")),
              std::string(reinterpret_cast<const char*>(mac.data()), length));
    // Another MAC key gives another signature.
    const json other = external_account_binding("kid-1", "other", jwk, "u");
    EXPECT_NE(other.at("signature"), binding.at("signature"));
}

TEST(JoseExternalAccountBinding, IsNullWithoutAKeyOrAnAccountJwk) {
    EvpPkeyPtr key = p256_key();
    EXPECT_TRUE(external_account_binding("kid", "", account_jwk(key.get()), "u").is_null());
    EXPECT_TRUE(external_account_binding("kid", "k", json(), "u").is_null());
    EXPECT_TRUE(external_account_binding("\xff", "k", account_jwk(key.get()), "u").is_null());
}

TEST(JoseKeyAuthorization, IsTokenDotThumbprint) {
    EXPECT_EQ(
        key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
                          "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
        "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

}  // namespace
}  // namespace oidcgw
