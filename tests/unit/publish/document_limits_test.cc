// What a document may cost before it is built (document_limits.h), its first bytes, and how the
// JWKS validator groups per-key warnings.
#include "publish/document_limits.h"
#include "publish/document_validation.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace oidcgw::testing {
namespace {

constexpr const char* kIssuer = "https://oidc.example.com";
// A 2048-bit modulus as base64url: 342 characters, the first with its top bit set.
const std::string kModulus = "x" + std::string(341, 'A');

std::string key(const std::string& kid, bool with_use = true) {
    nlohmann::ordered_json jwk = {
        {"kty", "RSA"}, {"kid", kid}, {"alg", "RS256"}, {"n", kModulus}, {"e", "AQAB"}};
    if (with_use) jwk["use"] = "sig";
    return jwk.dump();
}

std::string key_set(std::size_t count, bool with_use = true) {
    std::string text = "{\"keys\":[";
    for (std::size_t i = 0; i < count; ++i) {
        text += (i ? "," : "") + key("k" + std::to_string(i), with_use);
    }
    return text + "]}";
}

std::string discovery() {
    return R"({"issuer":"https://oidc.example.com","jwks_uri":"https://oidc.example.com/.well-known/jwks.json",)"
           R"("response_types_supported":["code"],"subject_types_supported":["public"],)"
           R"("id_token_signing_alg_values_supported":["RS256"]})";
}

std::string nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

TEST(DocumentStart, ByteOrderMarkIsRefusedInBothDocuments) {
    Rejection rejection;
    EXPECT_FALSE(validate_jwks("\xEF\xBB\xBF" + key_set(1), &rejection));
    EXPECT_EQ(rejection.code, "byte_order_mark");
    EXPECT_NE(rejection.detail.find("JWKS starts with a UTF-8 byte order mark"), std::string::npos)
        << rejection.detail;

    std::string error;
    const IssuerUrl issuer = *parse_issuer_url(kIssuer, &error);
    EXPECT_FALSE(validate_discovery("\xEF\xBB\xBF" + discovery(), issuer, &rejection));
    EXPECT_EQ(rejection.code, "byte_order_mark");
    EXPECT_TRUE(validate_discovery(discovery(), issuer, &rejection)) << rejection.detail;
}

TEST(DocumentStart, JsonWhitespaceBeforeTheObjectIsAcceptedAnythingElseIsNot) {
    Rejection rejection;
    EXPECT_TRUE(validate_jwks(" \t\r\n" + key_set(1) + "\n", &rejection)) << rejection.detail;
    // A mark after whitespace, a UTF-16 mark, a NUL, a no-break space: syntax errors.
    for (const std::string& lead :
         {std::string(" \xEF\xBB\xBF"), std::string("\xFE\xFF"), std::string(1, '\0'),
          std::string("\xC2\xA0"), std::string("x")}) {
        EXPECT_FALSE(validate_jwks(lead + key_set(1), &rejection));
        EXPECT_EQ(rejection.code, "invalid_json") << rejection.detail;
    }
}

TEST(DocumentLimits, ValuesDepthAndKeysAreCountedUpToTheirLimits) {
    const DocumentLimits limits{3, 10, 2};
    EXPECT_FALSE(check_document_limits(R"({"keys":[1,2],"x":[[3]]})", limits, "JWKS"));
    // Ten values exactly, then eleven.
    EXPECT_FALSE(check_document_limits("[1,2,3,4,5,6,7,8,9]", limits, "JWKS"));
    auto refused = check_document_limits("[1,2,3,4,5,6,7,8,9,10]", limits, "JWKS");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->code, "too_many_values");
    EXPECT_NE(refused->detail.find("more than 10 values"), std::string::npos);

    refused = check_document_limits(nested(4), limits, "JWKS");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->code, "too_deep");
    EXPECT_EQ(refused->detail, "JWKS nests deeper than 3 levels");

    refused = check_document_limits(R"({"keys":[{},[],3]})", limits, "JWKS");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->code, "too_many_keys");
    EXPECT_NE(refused->detail.find("at least 3 keys; at most 2"), std::string::npos);
}

TEST(DocumentLimits, OnlyTheTopLevelKeysArrayHoldsKeys) {
    const DocumentLimits limits{4, 100, 2};
    // Elements nested in a key, a "keys" member deeper down, another member's array: not keys.
    EXPECT_FALSE(check_document_limits(R"({"keys":[{"x5c":["a","b","c"]},{}]})", limits, "JWKS"));
    EXPECT_FALSE(check_document_limits(R"({"a":{"keys":[1,2,3]},"keys":[]})", limits, "JWKS"));
    EXPECT_FALSE(check_document_limits(R"({"other":[1,2,3],"keys":[1]})", limits, "JWKS"));
    // A discovery document's limits count no keys at all.
    EXPECT_FALSE(check_document_limits(R"({"keys":[1,2,3]})", DocumentLimits{4, 100, 0}, "d"));
}

TEST(DocumentLimits, SyntaxErrorsAreLeftToTheStrictParser) {
    EXPECT_FALSE(check_document_limits("{\"keys\":[", kJwksLimits, "JWKS"));
    EXPECT_FALSE(check_document_limits("", kJwksLimits, "JWKS"));
    Rejection rejection;
    EXPECT_FALSE(validate_jwks("{\"keys\":[", &rejection));
    EXPECT_EQ(rejection.code, "invalid_json");
}

TEST(DocumentLimits, AHostileMegabyteIsRefusedAtTheThousandAndFirstKey) {
    std::string huge = "{\"keys\":[[]";
    while (huge.size() + 5 < 1024 * 1024) huge += ",[]";
    huge += "]}";
    Rejection rejection;
    EXPECT_FALSE(validate_jwks(huge, &rejection));
    EXPECT_EQ(rejection.code, "too_many_keys");
    EXPECT_NE(rejection.detail.find("at least 1001 keys; at most 1000"), std::string::npos)
        << rejection.detail;

    // Values rather than keys: a single key holding a third of a million numbers.
    std::string wide = "{\"keys\":[{\"x5c\":[0";
    while (wide.size() + 10 < 1024 * 1024) wide += ",0";
    wide += "]}]}";
    EXPECT_FALSE(validate_jwks(wide, &rejection));
    EXPECT_EQ(rejection.code, "too_many_values");

    EXPECT_FALSE(validate_jwks(std::string(9, '[') + std::string(9, ']'), &rejection));
    EXPECT_EQ(rejection.code, "too_deep");
}

TEST(DocumentLimits, TheLargestAcceptedJwksStillPasses) {
    Rejection rejection;
    const auto info = validate_jwks(key_set(kMaxJwksKeys), &rejection);
    ASSERT_TRUE(info) << rejection.code << ": " << rejection.detail;
    EXPECT_EQ(info->keys.size(), kMaxJwksKeys);
}

TEST(JwksWarnings, AThousandKeysWithoutUseAreOneWarning) {
    Rejection rejection;
    const auto info = validate_jwks(key_set(999, /*with_use=*/false), &rejection);
    ASSERT_TRUE(info) << rejection.detail;
    std::size_t about_use = 0;
    for (const std::string& warning : info->warnings) {
        if (warning.find("no \"use\"") == std::string::npos) continue;
        ++about_use;
        EXPECT_EQ(warning.find("999 keys (\"k0\", \"k1\", \"k2\" and 996 more) have no \"use\""),
                  0u)
            << warning;
    }
    EXPECT_EQ(about_use, 1u);
    EXPECT_LE(info->warnings.size(), 5u);
}

TEST(JwksWarnings, DistinctFindingsAreCappedWithASummary) {
    std::string text = "{\"keys\":[";
    for (int i = 0; i < 20; ++i) {
        auto jwk = nlohmann::ordered_json::parse(key("k" + std::to_string(i)));
        jwk["use"] = "use-" + std::to_string(i);  // twenty different findings
        text += (i ? "," : "") + jwk.dump();
    }
    text += "]}";
    Rejection rejection;
    const auto info = validate_jwks(text, &rejection);
    ASSERT_TRUE(info) << rejection.detail;
    ASSERT_EQ(info->warnings.size(), 9u);
    EXPECT_NE(info->warnings[0].find("key \"k0\" (keys[0]) has use \"use-0\""), std::string::npos)
        << info->warnings[0];
    EXPECT_EQ(info->warnings[8], "12 further kinds of key warning, for 12 keys, not listed");
}

}  // namespace
}  // namespace oidcgw::testing
