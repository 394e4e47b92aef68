// issuers: issuer URLs, upstreams, upstream_tls and their warnings
// (src/config/config_issuers.cc).
#include "config/config.h"
#include "config_test_support.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

// ---- issuers -----------------------------------------------------------------------------------

TEST(ParseConfigIssuers, SeveralIssuers) {
    const Config config = config_after([](json& c) {
        c["issuers"].push_back({{"issuer", "https://oidc.example.com/eu"},
                                {"upstreams", {"http://nomad-eu:4646", "https://[fd00::1]:4646"}}});
        c["issuers"].push_back({{"issuer", "https://oidc.example.com:8443"},
                                {"upstreams", {"https://10.0.0.1:4646"}}});
    });
    ASSERT_EQ(config.issuers.size(), 3u);
    EXPECT_EQ(config.issuers[1].issuer.path_prefix, "/eu");
    EXPECT_FALSE(config.issuers[1].upstreams[0].https);
    EXPECT_EQ(config.issuers[1].upstreams[1].host, "fd00::1");
    EXPECT_EQ(config.issuers[2].issuer.port, 8443);
}

// Consul and Vault fetch the same documents under a private name (issuers[].aliases).
TEST(ParseConfigIssuers, Aliases) {
    const Config config = config_after([](json& c) {
        c["issuers"][0]["aliases"] = {"Nomad-OIDC.internal:8443", "10.0.5.5", "oidc.consul"};
        c["issuers"].push_back({{"issuer", "https://oidc.example.com/eu"},
                                {"upstreams", {"https://10.0.0.2:4646"}},
                                {"aliases", {"eu.nomad-oidc.internal:8443"}}});
    });
    const std::vector<IssuerAlias>& aliases = config.issuers[0].issuer.aliases;
    ASSERT_EQ(aliases.size(), 3u);
    EXPECT_EQ(aliases[0].host, "nomad-oidc.internal");
    EXPECT_EQ(aliases[0].port, 8443);
    EXPECT_EQ(aliases[0].text, "Nomad-OIDC.internal:8443");
    EXPECT_EQ(aliases[1].port, 443);
    EXPECT_EQ(config.issuers[1].issuer.aliases.size(), 1u);
    EXPECT_TRUE(config_after([](json&) {}).issuers[0].issuer.aliases.empty());
}

TEST(ParseConfigIssuers, AliasErrorsNameTheKey) {
    const auto alias_error = [](const json& aliases) {
        return error_after([&](json& c) { c["issuers"][0]["aliases"] = aliases; });
    };
    EXPECT_EQ(alias_error("nomad.internal"),
              "issuers[0].aliases: must be an array of \"host[:port]\" names, found string");
    EXPECT_EQ(alias_error(json::array()), "issuers[0].aliases: must list at least one alias");
    EXPECT_TRUE(contains(alias_error({"https://nomad.internal"}),
                         "issuers[0].aliases[0]: must be HOST or HOST:PORT (no scheme or path)"));
    EXPECT_TRUE(contains(alias_error({"[::1]:8443"}), "issuers[0].aliases[0]: host must be a DNS"));
    EXPECT_TRUE(contains(alias_error({"nomad.internal:0"}), "port must be a number"));
    EXPECT_TRUE(contains(alias_error({"nomad_internal"}),
                         "host must be a DNS name (letters, digits, '-' and '.') or an IPv4"));
    EXPECT_TRUE(contains(alias_error({"nomad.internal/path"}), "issuers[0].aliases[0]: "));
    EXPECT_EQ(alias_error({"a.internal", "A.internal:443"}),
              "issuers[0].aliases[1]: \"A.internal:443\" is already an alias "
              "(issuers[0].aliases[0])");
    EXPECT_EQ(alias_error({"OIDC.example.com"}),
              "issuers[0].aliases[0]: \"OIDC.example.com\" is the host and port of an issuer "
              "(issuers[0].issuer)");
    // Across issuers, both ways round.
    EXPECT_EQ(error_after([](json& c) {
                  c["issuers"][0]["aliases"] = {"shared.internal"};
                  c["issuers"].push_back({{"issuer", "https://b.example.com"},
                                          {"upstreams", {"https://10.0.0.2:4646"}},
                                          {"aliases", {"shared.internal"}}});
              }),
              "issuers[1].aliases[0]: \"shared.internal\" is already an alias "
              "(issuers[0].aliases[0])");
    EXPECT_EQ(error_after([](json& c) {
                  c["issuers"][0]["aliases"] = {"b.example.com"};
                  c["issuers"].push_back({{"issuer", "https://b.example.com"},
                                          {"upstreams", {"https://10.0.0.2:4646"}}});
              }),
              "issuers[1].issuer: has the host and port of an alias of another issuer "
              "(issuers[0].aliases[0])");
    EXPECT_EQ(error_after([](json& c) {
                  c["issuers"].push_back({{"issuer", "https://b.example.com"},
                                          {"upstreams", {"https://10.0.0.2:4646"}},
                                          {"aliases", {"oidc.example.com:443"}}});
              }),
              "issuers[1].aliases[0]: \"oidc.example.com:443\" is the host and port of an "
              "issuer (issuers[0].issuer)");
}

TEST(ParseConfigIssuers, Errors) {
    EXPECT_EQ(error_after([](json& c) { c.erase("issuers"); }), "issuers: is required");
    EXPECT_EQ(error_after([](json& c) { c["issuers"] = json::object(); }),
              "issuers: must be an array of issuer objects, found object");
    EXPECT_EQ(error_after([](json& c) { c["issuers"] = json::array(); }),
              "issuers: must list at least one issuer");
    EXPECT_EQ(error_after([](json& c) { c["issuers"] = {"https://oidc.example.com"}; }),
              "issuers[0]: must be an object, found string");
    EXPECT_EQ(error_after([](json& c) { c["issuers"][0].erase("issuer"); }),
              "issuers[0].issuer: is required");
    EXPECT_EQ(error_after([](json& c) { c["issuers"][0]["issuer"] = 1; }),
              "issuers[0].issuer: must be a string, found number");
    EXPECT_TRUE(contains(
        error_after([](json& c) { c["issuers"][0]["issuer"] = "http://oidc.example.com"; }),
        "issuers[0].issuer: issuer URL must start with \"https://\""));
    EXPECT_TRUE(contains(
        error_after([](json& c) { c["issuers"][0]["issuer"] = "https://oidc.example.com/?a=b"; }),
        "issuers[0].issuer: URL must not have a query"));
}

TEST(ParseConfigIssuers, DuplicatesAndCollisions) {
    EXPECT_EQ(error_after([](json& c) { c["issuers"].push_back(c["issuers"][0]); }),
              "issuers[1].issuer: duplicate issuer (same as issuers[0])");
    EXPECT_EQ(error_after([](json& c) {
                  c["issuers"].push_back(c["issuers"][0]);
                  c["issuers"][1]["issuer"] = "https://OIDC.example.com:443/";
              }),
              "issuers[1].issuer: same host, port and path as issuers[0] "
              "(\"https://oidc.example.com\"): both would serve the same discovery URL");
    // Another port or path prefix on the same host is a different issuer.
    EXPECT_EQ(config_after([](json& c) {
                  c["issuers"].push_back(c["issuers"][0]);
                  c["issuers"][1]["issuer"] = "https://oidc.example.com/other";
              }).issuers.size(),
              2u);
}

TEST(ParseConfigIssuers, Upstreams) {
    EXPECT_EQ(error_after([](json& c) { c["issuers"][0].erase("upstreams"); }),
              "issuers[0].upstreams: is required");
    EXPECT_EQ(error_after([](json& c) { c["issuers"][0]["upstreams"] = "https://n:4646"; }),
              "issuers[0].upstreams: must be an array of upstream URLs, found string");
    EXPECT_EQ(error_after([](json& c) { c["issuers"][0]["upstreams"] = json::array(); }),
              "issuers[0].upstreams: must list at least one upstream URL");
    EXPECT_EQ(error_after([](json& c) {
                  c["issuers"][0]["upstreams"] = {"https://n:4646", 4646};
              }),
              "issuers[0].upstreams[1]: must be a string, found number");
    EXPECT_TRUE(
        contains(error_after([](json& c) { c["issuers"][0]["upstreams"] = {"ftp://n:4646"}; }),
                 "issuers[0].upstreams[0]: upstream URL must start with"));
    EXPECT_TRUE(contains(
        error_after([](json& c) { c["issuers"][0]["upstreams"] = {"https://user@n:4646"}; }),
        "issuers[0].upstreams[0]: URL must not contain userinfo"));
    EXPECT_EQ(error_after([](json& c) {
                  c["issuers"][0]["upstreams"] = {"https://n:4646", "https://N:4646/"};
              }),
              "issuers[0].upstreams[1]: duplicate upstream \"https://N:4646/\" (same as "
              "issuers[0].upstreams[0])");
    EXPECT_TRUE(contains(error_after([](json& c) {
                             c["issuers"][0]["upstreams"] = {"https://n", "https://n:443"};
                         }),
                         "duplicate upstream"));
}

TEST(ParseConfigIssuers, UpstreamTls) {
    const Config config = config_after([](json& c) {
        c["issuers"][0]["upstream_tls"] = {{"ca", "/ca.pem"},
                                           {"certificate", "/client.pem"},
                                           {"private_key", "/client-key.pem"},
                                           {"server_name", "Server.Global.Nomad"}};
    });
    const UpstreamTls& tls = config.issuers.at(0).upstream_tls.value();
    EXPECT_EQ(tls.ca, "/ca.pem");
    EXPECT_EQ(tls.certificate, "/client.pem");
    EXPECT_EQ(tls.private_key, "/client-key.pem");
    EXPECT_EQ(tls.server_name, "server.global.nomad");

    // Every member is optional.
    const Config empty =
        config_after([](json& c) { c["issuers"][0]["upstream_tls"] = json::object(); });
    const UpstreamTls& defaults = empty.issuers.at(0).upstream_tls.value();
    EXPECT_EQ(defaults.ca, "");
    EXPECT_EQ(defaults.certificate, "");
    EXPECT_EQ(defaults.server_name, "");
}

TEST(ParseConfigIssuers, UpstreamTlsErrors) {
    auto tls_error = [](const json& tls) {
        return error_after([&](json& c) { c["issuers"][0]["upstream_tls"] = tls; });
    };
    EXPECT_EQ(tls_error("/ca.pem"), "issuers[0].upstream_tls: must be an object, found string");
    EXPECT_EQ(tls_error({{"ca", 1}}), "issuers[0].upstream_tls.ca: must be a string, found number");
    EXPECT_EQ(tls_error({{"ca", ""}}),
              "issuers[0].upstream_tls.ca: must not be empty (leave the key out instead)");
    EXPECT_EQ(tls_error({{"certificate", "/c.pem"}}),
              "issuers[0].upstream_tls.certificate: needs private_key as well: a client "
              "certificate and its key go together");
    EXPECT_EQ(tls_error({{"private_key", "/k.pem"}}),
              "issuers[0].upstream_tls.private_key: needs certificate as well: a client "
              "certificate and its key go together");
    EXPECT_EQ(tls_error({{"server_name", "not a name"}}),
              "issuers[0].upstream_tls.server_name: must be a DNS name such as "
              "\"server.global.nomad\", found \"not a name\"");
    EXPECT_TRUE(contains(tls_error({{"server_name", "10.0.0.1"}}), "must be a DNS name"));
    EXPECT_TRUE(contains(tls_error({{"server_name", "https://n"}}), "must be a DNS name"));
    EXPECT_TRUE(contains(tls_error({{"server_name", ""}}),
                         "issuers[0].upstream_tls.server_name: must not be empty"));
    EXPECT_EQ(tls_error({{"server_name", true}}),
              "issuers[0].upstream_tls.server_name: must be a string, found boolean");
}

TEST(ParseConfigIssuers, Warnings) {
    const Config plain = config_after([](json& c) {
        c["cache_dir"] = "/var/lib/oidc-gateway";
        c["issuers"][0]["upstreams"] = {"http://10.0.0.1:4646"};
    });
    ASSERT_EQ(plain.warnings.size(), 1u);
    EXPECT_EQ(plain.warnings[0],
              "issuers[0].upstreams[0]: plain http upstream: documents are fetched "
              "unauthenticated");

    const Config system_store =
        config_after([](json& c) { c["cache_dir"] = "/var/lib/oidc-gateway"; });
    ASSERT_EQ(system_store.warnings.size(), 1u);
    EXPECT_TRUE(contains(system_store.warnings[0], "issuers[0].upstream_tls.ca: not set"));
    EXPECT_TRUE(contains(system_store.warnings[0], "system CA store"));

    const Config quiet = config_after([](json& c) {
        c["cache_dir"] = "/var/lib/oidc-gateway";
        c["issuers"][0]["upstream_tls"] = {{"ca", "/ca.pem"}};
    });
    EXPECT_TRUE(quiet.warnings.empty());

    const Config useless_tls = config_after([](json& c) {
        c["cache_dir"] = "/var/lib/oidc-gateway";
        c["issuers"][0]["upstreams"] = {"http://10.0.0.1:4646"};
        c["issuers"][0]["upstream_tls"] = {{"ca", "/ca.pem"}};
    });
    EXPECT_TRUE(has_warning(useless_tls, "issuers[0].upstream_tls: has no effect"));
}

}  // namespace
}  // namespace oidcgw::testing
