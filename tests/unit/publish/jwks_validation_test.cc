// validate_jwks (document_validation.cc): key sets, their members, private material and the
// identity providers' limits.
#include "common/base64url.h"
#include "publish/document_validation.h"
#include "unit_support.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace oidcgw::testing {
namespace {

using nlohmann::json;

// A base64url modulus of `length` bytes whose first bytes are `leading`, the rest 0xA5.
std::string modulus(std::size_t length, std::vector<std::uint8_t> leading) {
    leading.resize(length, 0xA5);
    return encode_base64url(std::string(leading.begin(), leading.end()));
}

// ---------------------------------------------------------------------------------------------
// JWKS

class JwksValidation : public ::testing::Test {
  protected:
    void SetUp() override {
        good_text_ = fixture("jwks.json");
        legacy_text_ = fixture("jwks-with-legacy-eddsa.json");
        good_ = json::parse(good_text_);
        legacy_ = json::parse(legacy_text_);
        ASSERT_EQ(good_["keys"].size(), 2u);
        ASSERT_EQ(legacy_["keys"].size(), 3u);
        rsa_key_ = good_["keys"][0];
        okp_key_ = legacy_["keys"][0];
    }

    std::optional<JwksInfo> validate(const json& document) {
        rejection_ = {};
        return validate_jwks(document.dump(), &rejection_);
    }

    static json key_set(std::vector<json> keys) { return json{{"keys", json(std::move(keys))}}; }

    static json ec_key(std::string kid, std::string crv = "P-256") {
        return json{{"kty", "EC"},
                    {"kid", std::move(kid)},
                    {"use", "sig"},
                    {"alg", "ES256"},
                    {"crv", std::move(crv)},
                    {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                    {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}};
    }

    json rsa_key(std::string kid) const {
        json key = rsa_key_;
        key["kid"] = std::move(kid);
        return key;
    }

    std::string expect_rejected(const json& document, std::string_view code) {
        EXPECT_FALSE(validate(document).has_value()) << document.dump().substr(0, 300);
        EXPECT_EQ(rejection_.code, code) << rejection_.detail;
        EXPECT_FALSE(rejection_.detail.empty());
        // Whatever the reason, the detail never carries key material.
        for (const json& key : good_["keys"]) {
            EXPECT_EQ(rejection_.detail.find(key["n"].get<std::string>().substr(0, 20)),
                      std::string::npos)
                << rejection_.detail;
        }
        return rejection_.detail;
    }

    // Replaces members of good_["keys"][0] and expects `code`.
    std::string expect_first_key_rejected(const json& changes, std::string_view code,
                                          const std::vector<std::string>& removals = {}) {
        json document = good_;
        for (const auto& [name, value] : changes.items()) document["keys"][0][name] = value;
        for (const std::string& name : removals) document["keys"][0].erase(name);
        return expect_rejected(document, code);
    }

    bool has_warning_containing(const JwksInfo& info, std::string_view text) {
        for (const std::string& warning : info.warnings) {
            if (warning.find(text) != std::string::npos) return true;
        }
        return false;
    }

    std::string good_text_;
    std::string legacy_text_;
    json good_;
    json legacy_;
    json rsa_key_;
    json okp_key_;
    Rejection rejection_;
};

TEST_F(JwksValidation, AcceptsNomadFixtureWithoutWarnings) {
    const auto info = validate_jwks(good_text_, &rejection_);
    ASSERT_TRUE(info.has_value()) << rejection_.code << ": " << rejection_.detail;
    ASSERT_EQ(info->keys.size(), 2u);
    EXPECT_EQ(info->keys[0].kid, "3c0f5e2a-7b41-9d86-1e5a-c2f48b7d0a13");
    EXPECT_EQ(info->keys[0].kty, "RSA");
    EXPECT_EQ(info->keys[0].alg, "RS256");
    EXPECT_EQ(info->keys[0].crv, "");
    EXPECT_EQ(info->keys[1].kid, "b91d7a64-25ce-4f03-8a7e-5e6d30c9f281");
    EXPECT_TRUE(info->warnings.empty()) << info->warnings.front();
}

TEST_F(JwksValidation, AcceptsLegacyEdDsaFixtureWithoutAwsWarning) {
    const auto info = validate_jwks(legacy_text_, &rejection_);
    ASSERT_TRUE(info.has_value()) << rejection_.code << ": " << rejection_.detail;
    ASSERT_EQ(info->keys.size(), 3u);
    EXPECT_EQ(info->keys[0].kty, "OKP");
    EXPECT_EQ(info->keys[0].crv, "Ed25519");
    EXPECT_EQ(info->keys[0].alg, "EdDSA");
    EXPECT_TRUE(info->warnings.empty()) << info->warnings.front();
}

TEST_F(JwksValidation, WarnsWhenOnlyEdDsaKeys) {
    const auto info = validate(key_set({okp_key_}));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_TRUE(has_warning_containing(*info, "no RSA or EC key"));
    EXPECT_TRUE(has_warning_containing(*info, "AWS"));
}

TEST_F(JwksValidation, EcKeysCountAsUsableByAws) {
    const auto info = validate(key_set({okp_key_, ec_key("ec-1")}));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_TRUE(info->warnings.empty());
    EXPECT_EQ(info->keys[1].crv, "P-256");
}

TEST_F(JwksValidation, RejectsPrivateExponent) {
    const std::string secret = "c2VjcmV0LXByaXZhdGUtZXhwb25lbnQtdmFsdWU";
    json document = good_;
    document["keys"][1]["d"] = secret;
    const std::string detail = expect_rejected(document, "private_key_material");
    EXPECT_NE(detail.find("keys[1].d"), std::string::npos) << detail;
    EXPECT_EQ(detail.find(secret), std::string::npos) << detail;
}

TEST_F(JwksValidation, RejectsEveryPrivateMemberName) {
    for (const char* name : {"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}) {
        SCOPED_TRACE(name);
        json document = legacy_;
        document["keys"][0][name] = "AQAB";
        expect_rejected(document, "private_key_material");
    }
}

TEST_F(JwksValidation, PrivateMaterialWinsOverOtherFaults) {
    // An unknown key type, an unknown member and a bad kid would all reject this key; the
    // operator must still learn that a secret leaked.
    expect_first_key_rejected({{"kty", "weird"}, {"kid", ""}, {"extra", 1}, {"qi", "AQAB"}},
                              "private_key_material");
    expect_rejected(json::array({{{"d", "AQAB"}}}), "private_key_material");
}

TEST_F(JwksValidation, RejectsPrivateMembersNestedAnywhere) {
    json top_level = good_;
    top_level["extra"] = {{"nested", {{"p", "AQAB"}}}};
    expect_rejected(top_level, "private_key_material");

    json in_array = good_;
    in_array["keys"][0]["x5c"] = json::array({json{{"d", "AQAB"}}});
    const std::string detail = expect_rejected(in_array, "private_key_material");
    EXPECT_NE(detail.find("keys[0].x5c[0].d"), std::string::npos) << detail;
}

TEST_F(JwksValidation, RejectsSymmetricKey) {
    const json oct = {{"kty", "oct"}, {"kid", "hmac-1"}, {"alg", "HS256"}};
    const std::string detail = expect_rejected(key_set({rsa_key_, oct}), "symmetric_key");
    EXPECT_NE(detail.find("symmetric key (kty oct)"), std::string::npos) << detail;
}

TEST_F(JwksValidation, RejectsSymmetricKeyWithSecretAsPrivateMaterial) {
    const json oct = {{"kty", "oct"}, {"kid", "hmac-1"}, {"k", "c2VjcmV0"}};
    expect_rejected(key_set({oct}), "private_key_material");
}

TEST_F(JwksValidation, RejectsBadKty) {
    expect_first_key_rejected({{"kty", "AKP"}}, "unsupported_key_type");
    expect_first_key_rejected({{"kty", "rsa"}}, "unsupported_key_type");
    expect_first_key_rejected({{"kty", 1}}, "wrong_type");
    expect_first_key_rejected(json::object(), "missing_member", {"kty"});
}

TEST_F(JwksValidation, RejectsDuplicateKid) {
    json document = good_;
    document["keys"][1]["kid"] = document["keys"][0]["kid"];
    const std::string detail = expect_rejected(document, "duplicate_kid");
    EXPECT_NE(detail.find("3c0f5e2a-7b41-9d86-1e5a-c2f48b7d0a13"), std::string::npos) << detail;
    EXPECT_NE(detail.find("keys[0]"), std::string::npos) << detail;
    EXPECT_NE(detail.find("keys[1]"), std::string::npos) << detail;
}

TEST_F(JwksValidation, DuplicateKidAcrossKeyTypes) {
    expect_rejected(key_set({ec_key("same"), rsa_key("same")}), "duplicate_kid");
}

TEST_F(JwksValidation, RejectsBadKids) {
    for (const std::string& kid :
         {std::string(""), std::string("with space"), std::string("quote\"d"),
          std::string("back\\slash"), std::string("tab\tkid"), std::string("caf\xc3\xa9"),
          std::string(257, 'k')}) {
        SCOPED_TRACE(kid);
        expect_first_key_rejected({{"kid", kid}}, "bad_kid");
    }
    expect_first_key_rejected({{"kid", 5}}, "wrong_type");
    expect_first_key_rejected(json::object(), "missing_member", {"kid"});
}

TEST_F(JwksValidation, AcceptsEdgeKids) {
    EXPECT_TRUE(validate(key_set({rsa_key(std::string(256, 'k'))})).has_value())
        << rejection_.detail;
    EXPECT_TRUE(validate(key_set({rsa_key("!#$%&'()*+,-./:;<=>?@[]^_`{|}~")})).has_value())
        << rejection_.detail;
}

TEST_F(JwksValidation, RejectsUnknownMembers) {
    std::string detail = expect_first_key_rejected({{"extra", "x"}}, "unknown_member");
    EXPECT_NE(detail.find("\"extra\""), std::string::npos) << detail;
    expect_first_key_rejected({{"crv", "P-256"}}, "unknown_member");  // not an RSA member
    expect_first_key_rejected({{"x", "AQAB"}}, "unknown_member");

    json okp_with_y = okp_key_;
    okp_with_y["y"] = "AQAB";
    expect_rejected(key_set({okp_with_y}), "unknown_member");
    json ec_with_n = ec_key("ec");
    ec_with_n["n"] = "AQAB";
    expect_rejected(key_set({ec_with_n}), "unknown_member");

    json top_level = good_;
    top_level["note"] = "hello";
    detail = expect_rejected(top_level, "unknown_member");
    EXPECT_NE(detail.find("\"note\""), std::string::npos) << detail;
}

TEST_F(JwksValidation, AcceptsAllCommonMembers) {
    json key = rsa_key_;
    key["key_ops"] = {"verify"};
    key["x5u"] = "https://example.com/cert.pem";
    key["x5c"] = {"MIIBszCCAVmgAwIBAgIUQ+7w", "AAEC"};
    key["x5t"] = "dGh1bWJwcmludA";
    key["x5t#S256"] = "c2hhMjU2LXRodW1icHJpbnQtdmFsdWUtZm9yLXRlc3Q";
    key["alg"] = "PS384";
    EXPECT_TRUE(validate(key_set({key})).has_value()) << rejection_.detail;
}

TEST_F(JwksValidation, RequiresTypeSpecificMembers) {
    expect_first_key_rejected(json::object(), "missing_member", {"n"});
    expect_first_key_rejected(json::object(), "missing_member", {"e"});
    for (const char* name : {"crv", "x", "y"}) {
        json key = ec_key("ec");
        key.erase(name);
        expect_rejected(key_set({key}), "missing_member");
    }
    for (const char* name : {"crv", "x"}) {
        json key = okp_key_;
        key.erase(name);
        expect_rejected(key_set({key}), "missing_member");
    }
}

TEST_F(JwksValidation, RejectsBadCurves) {
    expect_rejected(key_set({ec_key("ec", "P-192")}), "bad_key_member");
    expect_rejected(key_set({ec_key("ec", "Ed25519")}), "bad_key_member");
    json okp = okp_key_;
    okp["crv"] = "X25519";  // a key-agreement curve, not a signing one
    expect_rejected(key_set({okp}), "bad_key_member");
    okp["crv"] = 25519;
    expect_rejected(key_set({okp}), "wrong_type");
    okp["crv"] = "Ed448";
    okp.erase("alg");
    EXPECT_TRUE(validate(key_set({okp})).has_value()) << rejection_.detail;
    for (const char* crv : {"P-384", "P-521"}) {
        json key = ec_key("ec", crv);
        key.erase("alg");
        EXPECT_TRUE(validate(key_set({key})).has_value()) << rejection_.detail;
    }
}

TEST_F(JwksValidation, RejectsBadBase64urlKeyMembers) {
    for (const std::string& value : {std::string(""), std::string("AQAB="), std::string("a+b/"),
                                     std::string("AQ AB"), std::string("AQABA")}) {
        SCOPED_TRACE(value);
        expect_first_key_rejected({{"e", value}}, "bad_key_member");
        expect_first_key_rejected({{"n", value}}, "bad_key_member");
        json key = ec_key("ec");
        key["y"] = value;
        expect_rejected(key_set({key}), "bad_key_member");
        key = okp_key_;
        key["x"] = value;
        expect_rejected(key_set({key}), "bad_key_member");
    }
    expect_first_key_rejected({{"n", json::array({"AQAB"})}}, "wrong_type");
    expect_first_key_rejected({{"x5t", "a+b"}}, "bad_key_member");
}

TEST_F(JwksValidation, RejectsAlgThatDoesNotFitKeyType) {
    expect_first_key_rejected({{"alg", "ES256"}}, "bad_key_member");
    expect_first_key_rejected({{"alg", "EdDSA"}}, "bad_key_member");
    expect_first_key_rejected({{"alg", "none"}}, "bad_key_member");
    expect_first_key_rejected({{"alg", "HS256"}}, "bad_key_member");
    expect_first_key_rejected({{"alg", 256}}, "wrong_type");
    json ec = ec_key("ec");
    ec["alg"] = "RS256";
    expect_rejected(key_set({ec}), "bad_key_member");
    json okp = okp_key_;
    okp["alg"] = "ES256";
    expect_rejected(key_set({okp}), "bad_key_member");
}

TEST_F(JwksValidation, ChecksTypesOfOptionalMembers) {
    expect_first_key_rejected({{"use", 1}}, "wrong_type");
    expect_first_key_rejected({{"key_ops", "verify"}}, "wrong_type");
    expect_first_key_rejected({{"key_ops", json::array({1})}}, "wrong_type");
    expect_first_key_rejected({{"x5u", false}}, "wrong_type");
    expect_first_key_rejected({{"x5c", "MIIB"}}, "wrong_type");
    expect_first_key_rejected({{"x5c", json::array({1})}}, "wrong_type");
    expect_first_key_rejected({{"x5c", json::array()}}, "bad_key_member");
    expect_first_key_rejected({{"x5c", json::array({"not base64!"})}}, "bad_key_member");
    expect_first_key_rejected({{"x5c", json::array({"AAE"})}}, "bad_key_member");
    expect_first_key_rejected({{"x5c", json::array({"AA-_"})}}, "bad_key_member");
}

TEST_F(JwksValidation, OneBadKeyRejectsTheSet) {
    json document = legacy_;
    document["keys"][2]["e"] = "AQAB==";
    const std::string detail = expect_rejected(document, "bad_key_member");
    EXPECT_NE(detail.find("b91d7a64-25ce-4f03-8a7e-5e6d30c9f281"), std::string::npos) << detail;
}

TEST_F(JwksValidation, RejectsBadKeySetShapes) {
    expect_rejected(json::array({rsa_key_}), "not_an_object");
    expect_rejected(json("keys"), "not_an_object");
    expect_rejected(json::object(), "missing_member");
    expect_rejected(json{{"keys", rsa_key_}}, "wrong_type");
    expect_rejected(key_set({}), "empty_key_set");
    expect_rejected(key_set({rsa_key_, "not a key"}), "wrong_type");
    expect_rejected(key_set({rsa_key_, nullptr}), "wrong_type");
}

TEST_F(JwksValidation, RejectsMoreThanThousandKeys) {
    std::vector<json> keys;
    for (int i = 0; i < 1001; ++i) keys.push_back(ec_key("ec-" + std::to_string(i)));
    const std::string detail = expect_rejected(key_set(keys), "too_many_keys");
    EXPECT_NE(detail.find("1001"), std::string::npos) << detail;
    keys.pop_back();
    EXPECT_TRUE(validate(key_set(keys)).has_value()) << rejection_.detail;
}

TEST_F(JwksValidation, WarnsAboveAwsAndEntraLimits) {
    std::vector<json> rsa_keys;
    for (int i = 0; i < 101; ++i) rsa_keys.push_back(rsa_key("rsa-" + std::to_string(i)));
    auto info = validate(key_set(rsa_keys));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_TRUE(has_warning_containing(*info, "101 RSA keys"));
    EXPECT_TRUE(has_warning_containing(*info, "101 keys: Microsoft Entra"));

    rsa_keys.pop_back();
    rsa_keys.push_back(okp_key_);  // 100 RSA + 1 OKP: over Entra's limit only
    info = validate(key_set(rsa_keys));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_FALSE(has_warning_containing(*info, "RSA keys"));
    EXPECT_TRUE(has_warning_containing(*info, "101 keys: Microsoft Entra"));

    std::vector<json> ec_keys;
    for (int i = 0; i < 101; ++i) ec_keys.push_back(ec_key("ec-" + std::to_string(i)));
    info = validate(key_set(ec_keys));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_TRUE(has_warning_containing(*info, "101 EC keys"));
    ec_keys.resize(100);
    info = validate(key_set(ec_keys));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_TRUE(info->warnings.empty()) << info->warnings.front();
}

TEST_F(JwksValidation, WarnsAboutShortRsaModulus) {
    struct Case {
        std::size_t bytes;
        std::vector<std::uint8_t> leading;
        bool warns;
    };
    const Case cases[] = {
        {256, {0x80}, false},        // 2048 bits
        {257, {0x00, 0xC0}, false},  // 2048 bits behind a sign byte
        {256, {0x40}, true},         // 2047 bits
        {128, {0xC0}, true},         // 1024 bits
        {512, {0xC0}, false},        // 4096 bits
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.bytes);
        json key = rsa_key_;
        key["n"] = modulus(c.bytes, c.leading);
        const auto result = validate(key_set({key}));
        ASSERT_TRUE(result.has_value()) << rejection_.detail;
        EXPECT_EQ(has_warning_containing(*result, "under 2048 bits"), c.warns);
    }
}

TEST_F(JwksValidation, WarnsAboutUseOtherThanSig) {
    json key = rsa_key_;
    key["use"] = "enc";
    auto info = validate(key_set({key}));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_TRUE(has_warning_containing(*info, "\"enc\""));
    key.erase("use");
    info = validate(key_set({key}));
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_TRUE(has_warning_containing(*info, "no \"use\""));
}

TEST_F(JwksValidation, RejectsDuplicateMemberInsideKey) {
    const std::string text =
        R"({"keys":[{"kty":"RSA","kid":"a","kid":"b","n":"AQAB","e":"AQAB"}]})";
    EXPECT_FALSE(validate_jwks(text, &rejection_));
    EXPECT_EQ(rejection_.code, "invalid_json");
    EXPECT_NE(rejection_.detail.find("duplicate member \"kid\""), std::string::npos)
        << rejection_.detail;
}

TEST_F(JwksValidation, RejectsBrokenJsonWithoutEchoingIt) {
    const std::string n = good_["keys"][0]["n"].get<std::string>();
    const std::string text = R"({"keys":[{"kty":"RSA","n":")" + n + "\x01";
    EXPECT_FALSE(validate_jwks(text, &rejection_));
    EXPECT_EQ(rejection_.code, "invalid_json");
    EXPECT_EQ(rejection_.detail.find(n.substr(0, 20)), std::string::npos) << rejection_.detail;
    EXPECT_FALSE(validate_jwks("", &rejection_));
    EXPECT_EQ(rejection_.code, "invalid_json");
}

}  // namespace
}  // namespace oidcgw::testing
