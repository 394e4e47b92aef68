// validate_discovery (discovery_validation.cc): Nomad's discovery document, the issuer compared
// byte for byte, jwks_uri under the issuer, and the members identity providers need.
#include "publish/document_validation.h"
#include "unit_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace oidcgw::testing {
namespace {

using nlohmann::json;

constexpr const char* kFixtureIssuer = "https://oidc.nomad.example.com";

IssuerUrl issuer_for(std::string_view text) {
    std::string error;
    std::optional<IssuerUrl> issuer = parse_issuer_url(text, &error);
    EXPECT_TRUE(issuer.has_value()) << error;
    return issuer.value_or(IssuerUrl{});
}

// ---------------------------------------------------------------------------------------------
// Discovery

class DiscoveryValidation : public ::testing::Test {
  protected:
    void SetUp() override {
        fixture_text_ = fixture("openid-configuration.json");
        document_ = json::parse(fixture_text_);
        issuer_ = issuer_for(kFixtureIssuer);
    }

    std::optional<DiscoveryInfo> validate(const json& document) {
        rejection_ = {};
        return validate_discovery(document.dump(), issuer_, &rejection_);
    }

    // Expects `document` to be refused with `code`; returns the detail.
    std::string expect_rejected(const json& document, std::string_view code) {
        EXPECT_FALSE(validate(document).has_value()) << document.dump();
        EXPECT_EQ(rejection_.code, code) << rejection_.detail;
        EXPECT_FALSE(rejection_.detail.empty());
        return rejection_.detail;
    }

    std::string fixture_text_;
    json document_;
    IssuerUrl issuer_;
    Rejection rejection_;
};

TEST_F(DiscoveryValidation, AcceptsNomadFixtureBytes) {
    const auto info = validate_discovery(fixture_text_, issuer_, &rejection_);
    ASSERT_TRUE(info.has_value()) << rejection_.code << ": " << rejection_.detail;
    EXPECT_EQ(info->jwks_uri, "https://oidc.nomad.example.com/.well-known/jwks.json");
    EXPECT_EQ(info->jwks_path, "/.well-known/jwks.json");
    EXPECT_EQ(info->jwks_upstream_path, "/.well-known/jwks.json");
}

TEST_F(DiscoveryValidation, StripsIssuerPrefixForUpstreamPath) {
    issuer_ = issuer_for("https://oidc.nomad.example.com/eu/prod/");
    document_["issuer"] = "https://oidc.nomad.example.com/eu/prod/";
    document_["jwks_uri"] = "https://oidc.nomad.example.com/eu/prod/.well-known/jwks.json";
    const auto info = validate(document_);
    ASSERT_TRUE(info.has_value()) << rejection_.detail;
    EXPECT_EQ(info->jwks_path, "/eu/prod/.well-known/jwks.json");
    EXPECT_EQ(info->jwks_upstream_path, "/.well-known/jwks.json");
}

TEST_F(DiscoveryValidation, AllowsOptionalMembers) {
    document_["claims_supported"] = {"sub", "aud"};
    document_["service_documentation"] = "https://example.com/docs";
    document_["request_uri_parameter_supported"] = false;
    EXPECT_TRUE(validate(document_).has_value()) << rejection_.detail;
}

TEST_F(DiscoveryValidation, RejectsIssuerWithExtraTrailingSlashNamingIt) {
    document_["issuer"] = std::string(kFixtureIssuer) + "/";
    const std::string detail = expect_rejected(document_, "issuer_mismatch");
    EXPECT_NE(detail.find("trailing slash"), std::string::npos) << detail;
    EXPECT_NE(detail.find("https://oidc.nomad.example.com/\""), std::string::npos) << detail;
}

TEST_F(DiscoveryValidation, RejectsIssuerMissingConfiguredTrailingSlash) {
    issuer_ = issuer_for("https://oidc.nomad.example.com/");
    const std::string detail = expect_rejected(document_, "issuer_mismatch");
    EXPECT_NE(detail.find("trailing slash"), std::string::npos) << detail;
}

TEST_F(DiscoveryValidation, RejectsOtherIssuerWithoutBlamingTheSlash) {
    document_["issuer"] = "https://OIDC.nomad.example.com";  // differs in case only
    const std::string detail = expect_rejected(document_, "issuer_mismatch");
    EXPECT_EQ(detail.find("trailing slash"), std::string::npos) << detail;
    document_["issuer"] = "https://other.example.com";
    expect_rejected(document_, "issuer_mismatch");
}

TEST_F(DiscoveryValidation, RejectsMissingOrNonStringIssuer) {
    json missing = document_;
    missing.erase("issuer");
    expect_rejected(missing, "missing_member");
    document_["issuer"] = json::array({kFixtureIssuer});
    expect_rejected(document_, "wrong_type");
}

TEST_F(DiscoveryValidation, RejectsJwksUriOnAnotherHost) {
    document_["jwks_uri"] = "https://keys.example.net/.well-known/jwks.json";
    const std::string detail = expect_rejected(document_, "bad_jwks_uri");
    EXPECT_NE(detail.find("host"), std::string::npos) << detail;
}

TEST_F(DiscoveryValidation, RejectsJwksUriOutsideIssuerPrefix) {
    issuer_ = issuer_for("https://oidc.nomad.example.com/tenant");
    document_["issuer"] = "https://oidc.nomad.example.com/tenant";
    document_["jwks_uri"] = "https://oidc.nomad.example.com/.well-known/jwks.json";
    expect_rejected(document_, "bad_jwks_uri");
}

TEST_F(DiscoveryValidation, RejectsJwksUriOverHttp) {
    document_["jwks_uri"] = "http://oidc.nomad.example.com/.well-known/jwks.json";
    const std::string detail = expect_rejected(document_, "bad_jwks_uri");
    EXPECT_NE(detail.find("https"), std::string::npos) << detail;
}

TEST_F(DiscoveryValidation, RejectsJwksUriWithQueryPortOrDiscoveryPath) {
    document_["jwks_uri"] = "https://oidc.nomad.example.com/.well-known/jwks.json?index=3";
    expect_rejected(document_, "bad_jwks_uri");
    document_["jwks_uri"] = "https://oidc.nomad.example.com:4646/.well-known/jwks.json";
    expect_rejected(document_, "bad_jwks_uri");
    document_["jwks_uri"] = "https://oidc.nomad.example.com/.well-known/openid-configuration";
    expect_rejected(document_, "bad_jwks_uri");
}

TEST_F(DiscoveryValidation, RejectsMissingOrNonStringJwksUri) {
    json missing = document_;
    missing.erase("jwks_uri");
    expect_rejected(missing, "missing_member");
    document_["jwks_uri"] = 7;
    expect_rejected(document_, "wrong_type");
}

TEST_F(DiscoveryValidation, RequiresNonEmptyStringArrays) {
    for (const char* name : {"response_types_supported", "subject_types_supported",
                             "id_token_signing_alg_values_supported"}) {
        SCOPED_TRACE(name);
        json changed = document_;
        changed.erase(name);
        EXPECT_NE(expect_rejected(changed, "missing_member").find(name), std::string::npos);
        changed[name] = json::array();
        expect_rejected(changed, "wrong_type");
        changed[name] = "RS256";
        expect_rejected(changed, "wrong_type");
        changed[name] = json::array({"RS256", 5});
        expect_rejected(changed, "wrong_type");
    }
}

TEST_F(DiscoveryValidation, RejectsNonObjectAndBrokenJson) {
    expect_rejected(json::array({document_}), "not_an_object");
    EXPECT_FALSE(validate_discovery("{\"issuer\":", issuer_, &rejection_));
    EXPECT_EQ(rejection_.code, "invalid_json");
    EXPECT_NE(rejection_.detail.find("byte offset"), std::string::npos) << rejection_.detail;
}

TEST_F(DiscoveryValidation, RejectsDuplicateMembers) {
    // Two parsers could read two different issuers out of this document.
    const std::string text =
        R"({"issuer":"https://evil.example","issuer":"https://oidc.nomad.example.com",)"
        R"("jwks_uri":"https://oidc.nomad.example.com/.well-known/jwks.json",)"
        R"("response_types_supported":["code"],"subject_types_supported":["public"],)"
        R"("id_token_signing_alg_values_supported":["RS256"]})";
    EXPECT_FALSE(validate_discovery(text, issuer_, &rejection_));
    EXPECT_EQ(rejection_.code, "invalid_json");
    EXPECT_NE(rejection_.detail.find("duplicate member \"issuer\""), std::string::npos)
        << rejection_.detail;
}

TEST_F(DiscoveryValidation, RejectsComments) {
    EXPECT_FALSE(validate_discovery("/* hi */" + fixture_text_, issuer_, &rejection_));
    EXPECT_EQ(rejection_.code, "invalid_json");
}

}  // namespace
}  // namespace oidcgw::testing
