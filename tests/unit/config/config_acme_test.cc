// tls.acme (src/config/config_acme.cc): every key, its defaults, and each refusal naming its key.
#include "config/config.h"
#include "config_test_support.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

json acme_block() {
    return {{"directory_url", "https://acme.example/directory"}, {"terms_of_service_agreed", true}};
}

// The minimal configuration with tls.acme and a cache_dir, without tls.certificates.
json with_acme() {
    json document = minimal();
    document["tls"] = {{"acme", acme_block()}};
    document["cache_dir"] = "/var/cache/oidc-gateway";
    return document;
}

template <typename Change>
std::string acme_error(Change change) {
    json document = with_acme();
    change(document);
    return parse_error(document).to_string();
}

TEST(ParseConfigAcme, DefaultsNameEveryIssuerHostAndNeedNoCertificates) {
    json document = with_acme();
    document["issuers"].push_back(
        {{"issuer", "https://OIDC.Second.example:8443/x"}, {"upstreams", {"https://10.0.0.2"}}});
    document["issuers"].push_back(
        {{"issuer", "https://oidc.example.com/other"}, {"upstreams", {"https://10.0.0.3"}}});
    const Config config = parse_ok(document);
    ASSERT_TRUE(config.acme.has_value());
    EXPECT_TRUE(config.certificates.empty());
    EXPECT_EQ(config.acme->directory_url, "https://acme.example/directory");
    EXPECT_EQ(config.acme->names,
              (std::vector<std::string>{"oidc.example.com", "oidc.second.example"}));
    EXPECT_EQ(config.acme->key_type, AcmeKeyType::EcdsaP256);
    EXPECT_FALSE(config.acme->renew_before.has_value());
    EXPECT_TRUE(config.acme->contact.empty());
    EXPECT_TRUE(config.acme->ca.empty());
    EXPECT_FALSE(config.acme->external_account_binding.has_value());
}

TEST(ParseConfigAcme, EveryKey) {
    json document = with_acme();
    document["tls"]["acme"]["contact"] = {"mailto:ops@example.com"};
    document["tls"]["acme"]["names"] = {"Gateway.Example.com", "gateway.example.com", "b.example"};
    document["tls"]["acme"]["key_type"] = "rsa-2048";
    document["tls"]["acme"]["ca"] = "/etc/acme-ca.pem";
    document["tls"]["acme"]["renew_before"] = "720h";
    document["tls"]["acme"]["external_account_binding"] = {{"key_id", "kid-1"},
                                                           {"hmac_key_file", "/etc/eab.key"}};
    document["tls"]["certificates"] = {{{"certificate", "/c.pem"}, {"private_key", "/k.pem"}}};
    const Config config = parse_ok(document);
    ASSERT_TRUE(config.acme.has_value());
    EXPECT_EQ(config.certificates.size(), 1u);
    EXPECT_EQ(config.acme->contact, std::vector<std::string>{"mailto:ops@example.com"});
    EXPECT_EQ(config.acme->names, (std::vector<std::string>{"gateway.example.com", "b.example"}));
    EXPECT_EQ(config.acme->key_type, AcmeKeyType::Rsa2048);
    EXPECT_EQ(config.acme->ca, "/etc/acme-ca.pem");
    EXPECT_EQ(config.acme->renew_before, std::chrono::seconds(720 * 3600));
    ASSERT_TRUE(config.acme->external_account_binding.has_value());
    EXPECT_EQ(config.acme->external_account_binding->key_id, "kid-1");
    EXPECT_EQ(config.acme->external_account_binding->hmac_key_file, "/etc/eab.key");
}

TEST(ParseConfigAcme, RefusalsNameTheKey) {
    EXPECT_EQ(acme_error([](json& c) { c["tls"]["acme"].erase("directory_url"); }),
              "tls.acme.directory_url: is required");
    EXPECT_TRUE(contains(
        acme_error([](json& c) { c["tls"]["acme"]["directory_url"] = "http://acme.example/d"; }),
        "tls.acme.directory_url: must be an https URL"));
    EXPECT_EQ(acme_error([](json& c) { c["tls"]["acme"].erase("terms_of_service_agreed"); }),
              "tls.acme.terms_of_service_agreed: is required");
    EXPECT_TRUE(
        contains(acme_error([](json& c) { c["tls"]["acme"]["terms_of_service_agreed"] = false; }),
                 "tls.acme.terms_of_service_agreed: must be true"));
    EXPECT_TRUE(
        contains(acme_error([](json& c) { c["tls"]["acme"]["contact"] = {"ops@example.com"}; }),
                 "tls.acme.contact[0]: must be a \"mailto:\" address"));
    EXPECT_TRUE(contains(
        acme_error([](json& c) { c["tls"]["acme"]["contact"] = {"mailto:a@b.c\r\nX: y"}; }),
        "tls.acme.contact[0]: must be a \"mailto:\" address, found \"mailto:a@b.c\\x0d\\x0aX: "
        "y\""));
    EXPECT_TRUE(contains(acme_error([](json& c) { c["tls"]["acme"]["names"] = {"*.example.com"}; }),
                         "tls.acme.names[0]: must be a DNS name"));
    EXPECT_TRUE(contains(acme_error([](json& c) { c["tls"]["acme"]["names"] = {"192.0.2.1"}; }),
                         "tls.acme.names[0]: must be a DNS name"));
    EXPECT_TRUE(contains(acme_error([](json& c) { c["tls"]["acme"]["key_type"] = "ed25519"; }),
                         "tls.acme.key_type: must be one of \"ecdsa-p256\", \"rsa-2048\""));
    EXPECT_TRUE(contains(acme_error([](json& c) { c["tls"]["acme"]["renew_before"] = "5m"; }),
                         "tls.acme.renew_before:"));
    EXPECT_EQ(acme_error([](json& c) {
                  c["tls"]["acme"]["external_account_binding"] = {{"key_id", "k"}};
              }),
              "tls.acme.external_account_binding.hmac_key_file: is required");
    EXPECT_TRUE(contains(acme_error([](json& c) { c["tls"]["acme"]["typo"] = 1; }), "tls.acme"));
    EXPECT_TRUE(
        contains(acme_error([](json& c) { c.erase("cache_dir"); }), "tls.acme: needs cache_dir"));
    EXPECT_TRUE(
        contains(acme_error([](json& c) { c["issuers"][0]["issuer"] = "https://203.0.113.7"; }),
                 "tls.acme.names: is needed: issuers[0] has the IP address host"));
    // Without acme, certificates stay required.
    EXPECT_EQ(error_after([](json& c) { c["tls"] = json::object(); }),
              "tls.certificates: is required");
}

}  // namespace
}  // namespace oidcgw::testing
