#include "config/config.h"

#include "common/certificate_chain.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <limits>
#include <string>
#include <thread>

#ifndef OIDCGW_SOURCE_DIR
#define OIDCGW_SOURCE_DIR "/work/main"
#endif

namespace oidcgw::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kIssueExample = R"({
  "listen": ["0.0.0.0:443", "[::]:443"],
  "tls": {"certificates": [{"certificate": "/etc/oidc-gateway/tls/fullchain.pem",
                             "private_key": "/etc/oidc-gateway/tls/privkey.pem"}]},
  "health_listen": "127.0.0.1:8080",
  "cache_dir": "/var/lib/oidc-gateway",
  "refresh_interval": "60s",
  "upstream_timeout": "10s",
  "max_age": "300s",
  "workers": 0,
  "issuers": [{
    "issuer": "https://oidc.example.com",
    "upstreams": ["https://10.0.1.10:4646", "https://10.0.1.11:4646"],
    "upstream_tls": {"ca": "/etc/oidc-gateway/nomad-ca.pem",
                     "certificate": "/etc/oidc-gateway/nomad-client.pem",
                     "private_key": "/etc/oidc-gateway/nomad-client-key.pem",
                     "server_name": "server.global.nomad"}
  }]
})";

// The smallest configuration that parses; tests change one thing at a time.
json minimal() {
    return json::parse(R"({
        "listen": ["0.0.0.0:443"],
        "tls": {"certificates": [{"certificate": "/c.pem", "private_key": "/k.pem"}]},
        "issuers": [{"issuer": "https://oidc.example.com",
                     "upstreams": ["https://10.0.0.1:4646"]}]
    })");
}

Config parse_ok(const std::string& text) {
    ConfigResult result = parse_config(text);
    EXPECT_TRUE(result.config.has_value()) << result.error.to_string();
    return result.config.value_or(Config{});
}

Config parse_ok(const json& document) {
    return parse_ok(document.dump());
}

ConfigError parse_error(const std::string& text) {
    ConfigResult result = parse_config(text);
    EXPECT_FALSE(result.config.has_value()) << text;
    EXPECT_FALSE(result.error.message.empty());
    return result.error;
}

ConfigError parse_error(const json& document) {
    return parse_error(document.dump());
}

// Applies `change` to a minimal configuration and returns the error as "key: message".
template <typename Change>
std::string error_after(Change change) {
    json document = minimal();
    change(document);
    return parse_error(document).to_string();
}

template <typename Change>
Config config_after(Change change) {
    json document = minimal();
    change(document);
    return parse_ok(document);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

bool has_warning(const Config& config, const std::string& fragment) {
    return std::any_of(config.warnings.begin(), config.warnings.end(),
                       [&](const std::string& warning) { return contains(warning, fragment); });
}

// ---- Whole documents ---------------------------------------------------------------------------

TEST(ParseConfig, IssueExampleParses) {
    const Config config = parse_ok(std::string(kIssueExample));
    EXPECT_EQ(config.path, "");
    ASSERT_EQ(config.listen.size(), 2u);
    EXPECT_EQ(config.listen[0].text, "0.0.0.0:443");
    EXPECT_EQ(config.listen[0].host, "0.0.0.0");
    EXPECT_EQ(config.listen[0].port, 443);
    EXPECT_EQ(config.listen[1].host, "::");
    EXPECT_EQ(config.listen[1].port, 443);
    ASSERT_EQ(config.certificates.size(), 1u);
    EXPECT_EQ(config.certificates[0].certificate, "/etc/oidc-gateway/tls/fullchain.pem");
    EXPECT_EQ(config.certificates[0].private_key, "/etc/oidc-gateway/tls/privkey.pem");
    ASSERT_TRUE(config.health_listen.has_value());
    EXPECT_EQ(config.health_listen->host, "127.0.0.1");
    EXPECT_EQ(config.health_listen->port, 8080);
    EXPECT_EQ(config.cache_dir, "/var/lib/oidc-gateway");
    EXPECT_EQ(config.refresh_interval, milliseconds{60'000});
    EXPECT_EQ(config.upstream_timeout, milliseconds{10'000});
    EXPECT_EQ(config.max_age, milliseconds{300'000});
    EXPECT_EQ(config.workers, 0u);
    ASSERT_EQ(config.issuers.size(), 1u);
    const IssuerConfig& issuer = config.issuers[0];
    EXPECT_EQ(issuer.issuer.text, "https://oidc.example.com");
    EXPECT_EQ(issuer.issuer.host, "oidc.example.com");
    ASSERT_EQ(issuer.upstreams.size(), 2u);
    EXPECT_EQ(issuer.upstreams[1].host, "10.0.1.11");
    EXPECT_EQ(issuer.upstreams[1].port, 4646);
    ASSERT_TRUE(issuer.upstream_tls.has_value());
    EXPECT_EQ(issuer.upstream_tls->ca, "/etc/oidc-gateway/nomad-ca.pem");
    EXPECT_EQ(issuer.upstream_tls->certificate, "/etc/oidc-gateway/nomad-client.pem");
    EXPECT_EQ(issuer.upstream_tls->private_key, "/etc/oidc-gateway/nomad-client-key.pem");
    EXPECT_EQ(issuer.upstream_tls->server_name, "server.global.nomad");
    EXPECT_TRUE(config.warnings.empty()) << config.warnings.front();
}

TEST(ParseConfig, Defaults) {
    const Config config = parse_ok(minimal());
    EXPECT_FALSE(config.health_listen.has_value());
    EXPECT_EQ(config.cache_dir, "");
    EXPECT_EQ(config.refresh_interval, milliseconds{60'000});
    EXPECT_EQ(config.upstream_timeout, milliseconds{10'000});
    EXPECT_EQ(config.max_age, milliseconds{300'000});
    EXPECT_EQ(config.workers, 0u);
    EXPECT_EQ(config.max_document_bytes, 1048576u);
    EXPECT_FALSE(config.issuers.at(0).upstream_tls.has_value());
    EXPECT_EQ(config.user, "");
    EXPECT_EQ(config.group, "");
    EXPECT_EQ(config.shutdown_timeout, milliseconds{10'000});
    EXPECT_EQ(config.log_format, LogFormat::Json);
    EXPECT_EQ(config.log_level, LogLevel::Info);
    EXPECT_FALSE(config.access_log.enabled);
    EXPECT_EQ(config.access_log.max_per_second, 100u);
}

TEST(ParseConfig, ExampleConfigFileParses) {
    const std::string text = read_file(OIDCGW_SOURCE_DIR "/conf/gateway.json");
    EXPECT_TRUE(contains(text, "//"));  // it is the commented example
    const Config config = parse_ok(text);
    EXPECT_FALSE(config.listen.empty());
    EXPECT_FALSE(config.issuers.empty());
    EXPECT_EQ(config.cache_dir, "/var/lib/oidc-gateway");
    ASSERT_TRUE(config.issuers[0].upstream_tls.has_value());
    EXPECT_TRUE(config.issuers[0].upstream_tls->ca.starts_with("/etc/oidc-gateway/"));
    // Its values are the documented defaults.
    EXPECT_EQ(config.refresh_interval, milliseconds{60'000});
    EXPECT_EQ(config.upstream_timeout, milliseconds{10'000});
    EXPECT_EQ(config.max_age, milliseconds{300'000});
    EXPECT_EQ(config.workers, 0u);
    EXPECT_EQ(config.max_document_bytes, 1048576u);
    EXPECT_EQ(config.shutdown_timeout, milliseconds{10'000});
    EXPECT_EQ(config.log_format, LogFormat::Json);
    EXPECT_EQ(config.log_level, LogLevel::Info);
    EXPECT_FALSE(config.access_log.enabled);
    EXPECT_EQ(config.access_log.max_per_second, 100u);
    // The account the Debian package creates.
    EXPECT_EQ(config.user, "oidc-gateway");
    EXPECT_EQ(config.group, "oidc-gateway");
}

TEST(ParseConfig, CommentsAreAllowed) {
    const Config config = parse_ok(std::string(R"(// leading comment
    {
      /* block comment */
      "listen": ["127.0.0.1:8443"], // trailing comment
      "tls": {"certificates": [{"certificate": "/c", /* inline */ "private_key": "/k"}]},
      "issuers": [{"issuer": "https://a.example", "upstreams": ["https://n:4646"]}]
    }
    // final comment
    )"));
    EXPECT_EQ(config.listen.at(0).port, 8443);
}

TEST(ParseConfig, DuplicateKeysAreRefused) {
    ConfigError top = parse_error(std::string(
        R"({"listen": ["0.0.0.0:443"], "listen": ["0.0.0.0:8443"], "tls": {}, "issuers": []})"));
    EXPECT_EQ(top.key, "");
    EXPECT_TRUE(contains(top.message, "duplicate member \"listen\"")) << top.message;

    ConfigError nested = parse_error(std::string(R"({"listen": ["0.0.0.0:443"],
        "tls": {"certificates": [{"certificate": "/a", "certificate": "/b", "private_key": "/k"}]},
        "issuers": []})"));
    EXPECT_TRUE(contains(nested.message, "duplicate member \"certificate\" in tls.certificates[0]"))
        << nested.message;
}

TEST(ParseConfig, UnusualUnknownMemberNamesAreQuotedInTheKeyPath) {
    EXPECT_EQ(
        parse_error(
            std::string(
                R"({"listen": ["127.0.0.1:8443"], "tls": {"certificates": [{"c\rt": "/a"}]}})"))
            .key,
        R"(tls.certificates[0]."c\x0dt")");
    EXPECT_EQ(parse_error(std::string(R"({"": 1})")).key, R"("")");
    EXPECT_EQ(parse_error(std::string(R"({"a.b": 1})")).key, R"("a.b")");
    // DEL and C1 controls (here U+009B, a terminal's CSI) are escaped too, not only C0 ones,
    // as quote_untrusted escapes all outside text (common/text_escape.h).
    EXPECT_EQ(parse_error(std::string("{\"x\x7f\xc2\x9b"
                                      "y\": 1}"))
                  .key,
              R"("x\x7f\u009by")");
}

TEST(ParseConfig, SyntaxErrorsHaveNoKey) {
    const ConfigError error = parse_error(std::string(R"({"listen": [})"));
    EXPECT_EQ(error.key, "");
    EXPECT_EQ(error.to_string(), error.message);
    EXPECT_TRUE(contains(error.message, "syntax error")) << error.message;
    EXPECT_EQ(parse_error(std::string("")).key, "");
}

TEST(ParseConfig, TopLevelMustBeAnObject) {
    EXPECT_EQ(parse_error(std::string("[]")).to_string(),
              "the configuration must be a JSON object, found array");
    EXPECT_EQ(parse_error(std::string("\"x\"")).to_string(),
              "the configuration must be a JSON object, found string");
}

TEST(ParseConfig, UnknownKeysAtEveryLevel) {
    EXPECT_EQ(error_after([](json& c) { c["listn"] = json::array(); }),
              "listn: unknown key (known: access_log, cache_dir, group, health_listen, issuers, "
              "limits, listen, log_format, log_level, max_age, max_document_bytes, max_stale, "
              "refresh_interval, sandbox, serve_stale, shutdown_timeout, timeouts, tls, "
              "upstream_timeout, user, watch, watch_wait, workers)");
    EXPECT_EQ(error_after([](json& c) {
                  c["access_log"] = {{"enable", true}};
              }),
              "access_log.enable: unknown key (known: enabled, max_per_second)");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["protocols"] = "TLSv1.3"; }),
              "tls.protocols: unknown key (known: certificates, min_version, session_resumption)");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0]["chain"] = "/x"; }),
              "tls.certificates[0].chain: unknown key (known: certificate, private_key)");
    EXPECT_EQ(error_after([](json& c) { c["issuers"][0]["jwks"] = "/x"; }),
              "issuers[0].jwks: unknown key (known: issuer, upstream_tls, upstreams)");
    EXPECT_EQ(error_after([](json& c) {
                  c["issuers"][0]["upstream_tls"] = {{"cafile", "/x"}};
              }),
              "issuers[0].upstream_tls.cafile: unknown key (known: ca, certificate, private_key, "
              "server_name)");
    // A second issuer's typo names its own index.
    EXPECT_TRUE(contains(error_after([](json& c) {
                             c["issuers"].push_back(c["issuers"][0]);
                             c["issuers"][1]["issuer"] = "https://other.example.com";
                             c["issuers"][1]["upstream"] = json::array();
                         }),
                         "issuers[1].upstream: unknown key"));
}

TEST(ParseConfig, ErrorToString) {
    EXPECT_EQ((ConfigError{"issuers[0].upstreams[1]", "must be x"}).to_string(),
              "issuers[0].upstreams[1]: must be x");
    EXPECT_EQ((ConfigError{"", "cannot read"}).to_string(), "cannot read");
}

// ---- listen ------------------------------------------------------------------------------------

TEST(ParseConfigListen, Addresses) {
    const Config config = config_after([](json& c) {
        c["listen"] = {"0.0.0.0:443", "[::]:8443",   "localhost:8443",
                       "127.0.0.1:1", "[::1]:65535", "GW.example.com:443"};
    });
    ASSERT_EQ(config.listen.size(), 6u);
    EXPECT_EQ(config.listen[1].text, "[::]:8443");
    EXPECT_EQ(config.listen[1].host, "::");
    EXPECT_EQ(config.listen[1].port, 8443);
    EXPECT_EQ(config.listen[2].host, "localhost");
    EXPECT_EQ(config.listen[3].port, 1);
    EXPECT_EQ(config.listen[4].host, "::1");
    EXPECT_EQ(config.listen[4].port, 65535);
}

TEST(ParseConfigListen, Errors) {
    auto listen_error = [](const json& value) {
        return error_after([&](json& c) { c["listen"] = value; });
    };
    EXPECT_EQ(error_after([](json& c) { c.erase("listen"); }), "listen: is required");
    EXPECT_EQ(listen_error("0.0.0.0:443"),
              "listen: must be an array of \"host:port\" addresses, found string");
    EXPECT_EQ(listen_error(json::array()), "listen: must list at least one address");
    EXPECT_EQ(listen_error({443}),
              "listen[0]: must be an address string like \"0.0.0.0:443\", found number");
    EXPECT_TRUE(contains(listen_error({"0.0.0.0"}),
                         "listen[0]: invalid address \"0.0.0.0\": a "
                         "port is required"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:0"}), "port must be a number from 1 to 65535"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:65536"}), "port must be a number from 1 to 65535"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:0443"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:+1"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:https"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"::1:443"}), "IPv6 addresses need brackets"));
    EXPECT_TRUE(contains(listen_error({"[::1]"}), "a port is required"));
    EXPECT_TRUE(contains(listen_error({"[::1]443"}), "a port is required"));
    EXPECT_TRUE(contains(listen_error({"[::1:443"}), "closing ']'"));
    EXPECT_TRUE(contains(listen_error({"[1.2.3.4]:443"}), "not an IPv6 address"));
    EXPECT_TRUE(contains(listen_error({":443"}), "a host is required"));
    EXPECT_TRUE(contains(listen_error({"256.1.1.1:443"}), "not an IPv4 address or host name"));
    EXPECT_TRUE(contains(listen_error({"exa mple:443"}), "not an IPv4 address or host name"));
    EXPECT_TRUE(contains(listen_error({"-bad.example:443"}), "not an IPv4 address or host name"));
    EXPECT_EQ(listen_error({"127.0.0.1:443", "0.0.0.0:443", "127.0.0.1:443"}),
              "listen[2]: duplicate address \"127.0.0.1:443\" (same as listen[0])");
    EXPECT_TRUE(contains(listen_error({"[::]:443", "[0::0]:443"}), "listen[1]: duplicate address"));
    EXPECT_TRUE(contains(listen_error({"LocalHost:1", "localhost:1"}), "duplicate address"));
}

TEST(ParseConfigListen, SamePortOnDifferentAddressesIsFine) {
    const Config config = config_after([](json& c) {
        c["listen"] = {"127.0.0.1:443", "127.0.0.2:443"};
    });
    EXPECT_EQ(config.listen.size(), 2u);
}

// ---- tls ---------------------------------------------------------------------------------------

TEST(ParseConfigTls, Certificates) {
    const Config config = config_after([](json& c) {
        c["tls"]["certificates"].push_back(
            {{"certificate", "/rsa.pem"}, {"private_key", "/rsa.key"}});
    });
    ASSERT_EQ(config.certificates.size(), 2u);
    EXPECT_EQ(config.certificates[0].certificate, "/c.pem");
    EXPECT_EQ(config.certificates[0].private_key, "/k.pem");
    EXPECT_EQ(config.certificates[1].certificate, "/rsa.pem");
    EXPECT_EQ(config.certificates[1].private_key, "/rsa.key");
}

TEST(ParseConfigTls, Errors) {
    EXPECT_EQ(error_after([](json& c) { c.erase("tls"); }), "tls: is required");
    EXPECT_EQ(error_after([](json& c) { c["tls"] = "/c.pem"; }),
              "tls: must be an object, found string");
    EXPECT_EQ(error_after([](json& c) { c["tls"] = json::object(); }),
              "tls.certificates: is required");
    EXPECT_TRUE(contains(error_after([](json& c) { c["tls"]["certificates"] = json::object(); }),
                         "tls.certificates: must be an array of {certificate, private_key} "
                         "objects, found object"));
    EXPECT_TRUE(contains(error_after([](json& c) { c["tls"]["certificates"] = json::array(); }),
                         "tls.certificates: must list at least one certificate"));
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"] = {"/c.pem"}; }),
              "tls.certificates[0]: must be an object, found string");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0].erase("certificate"); }),
              "tls.certificates[0].certificate: is required");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0].erase("private_key"); }),
              "tls.certificates[0].private_key: is required");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0]["private_key"] = ""; }),
              "tls.certificates[0].private_key: must not be empty (leave the key out instead)");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0]["certificate"] = 1; }),
              "tls.certificates[0].certificate: must be a string, found number");
    EXPECT_EQ(error_after([](json& c) {
                  c["tls"]["certificates"][0]["certificate"] = std::string("/a\0b", 4);
              }),
              "tls.certificates[0].certificate: must not contain a NUL character");
}

// ---- health_listen -----------------------------------------------------------------------------

TEST(ParseConfigHealthListen, Valid) {
    const Config config = config_after([](json& c) { c["health_listen"] = "127.0.0.1:8080"; });
    ASSERT_TRUE(config.health_listen.has_value());
    EXPECT_EQ(config.health_listen->text, "127.0.0.1:8080");
    EXPECT_EQ(config.health_listen->port, 8080);
    // A different port next to a wildcard listener is fine.
    EXPECT_TRUE(config_after([](json& c) {
                    c["listen"] = {"[::]:443"};
                    c["health_listen"] = "[::1]:8080";
                }).health_listen.has_value());
    // A specific public address leaves the rest of the port to others.
    EXPECT_TRUE(config_after([](json& c) {
                    c["listen"] = {"10.0.0.5:443"};
                    c["health_listen"] = "127.0.0.1:443";
                }).health_listen.has_value());
}

TEST(ParseConfigHealthListen, Errors) {
    EXPECT_EQ(error_after([](json& c) { c["health_listen"] = 8080; }),
              "health_listen: must be an address string like \"0.0.0.0:443\", found number");
    EXPECT_TRUE(contains(error_after([](json& c) { c["health_listen"] = "8080"; }),
                         "health_listen: invalid address \"8080\""));
    EXPECT_EQ(error_after([](json& c) {
                  c["listen"] = {"127.0.0.1:8443", "127.0.0.1:8080"};
                  c["health_listen"] = "127.0.0.1:8080";
              }),
              "health_listen: \"127.0.0.1:8080\" overlaps the public listen[1] \"127.0.0.1:8080\": "
              "the health endpoints need an address of their own");
    EXPECT_TRUE(contains(error_after([](json& c) { c["health_listen"] = "127.0.0.1:443"; }),
                         "overlaps the public listen[0] \"0.0.0.0:443\""));
    EXPECT_TRUE(contains(error_after([](json& c) {
                             c["listen"] = {"[::]:443"};
                             c["health_listen"] = "10.1.2.3:443";
                         }),
                         "health_listen: \"10.1.2.3:443\" overlaps"));
}

// ---- cache_dir ---------------------------------------------------------------------------------

TEST(ParseConfigCacheDir, ValueAndWarning) {
    const Config with = config_after([](json& c) { c["cache_dir"] = "/var/lib/oidc-gateway"; });
    EXPECT_EQ(with.cache_dir, "/var/lib/oidc-gateway");
    EXPECT_FALSE(has_warning(with, "cache_dir"));
    const Config without = parse_ok(minimal());
    EXPECT_TRUE(has_warning(without,
                            "no cache_dir: after a restart nothing is served until an upstream "
                            "answers"));
}

TEST(ParseConfigCacheDir, Errors) {
    EXPECT_EQ(error_after([](json& c) { c["cache_dir"] = ""; }),
              "cache_dir: must not be empty (leave the key out instead)");
    EXPECT_EQ(error_after([](json& c) { c["cache_dir"] = false; }),
              "cache_dir: must be a string, found boolean");
    EXPECT_EQ(error_after([](json& c) { c["cache_dir"] = nullptr; }),
              "cache_dir: must be a string, found null");
}

// ---- durations ---------------------------------------------------------------------------------

struct DurationKey {
    const char* name;
    milliseconds Config::*field;
    const char* below_minimum;
    const char* minimum;
    const char* maximum;
    const char* above_maximum;
};

const DurationKey kDurationKeys[] = {
    {"refresh_interval", &Config::refresh_interval, "999ms", "1s", "24h", "24h0.001s"},
    {"upstream_timeout", &Config::upstream_timeout, "99ms", "100ms", "5m", "5m1s"},
    {"max_age", &Config::max_age, nullptr, "0", "168h", "168h1s"},
    {"shutdown_timeout", &Config::shutdown_timeout, nullptr, "0", "5m", "5m0.001s"},
};

TEST(ParseConfigDurations, ValuesAndLimits) {
    for (const DurationKey& key : kDurationKeys) {
        SCOPED_TRACE(key.name);
        const Config ninety = config_after([&](json& c) { c[key.name] = "1m30s"; });
        EXPECT_EQ(ninety.*key.field, milliseconds{90'000});
        const Config low = config_after([&](json& c) { c[key.name] = key.minimum; });
        const Config high = config_after([&](json& c) { c[key.name] = key.maximum; });
        EXPECT_LT(low.*key.field, high.*key.field);
        EXPECT_EQ(error_after([&](json& c) { c[key.name] = key.above_maximum; }),
                  std::string(key.name) + ": must be at most " + key.maximum + ", found \"" +
                      key.above_maximum + "\"");
        if (key.below_minimum != nullptr) {
            EXPECT_EQ(error_after([&](json& c) { c[key.name] = key.below_minimum; }),
                      std::string(key.name) + ": must be at least " + key.minimum + ", found \"" +
                          key.below_minimum + "\"");
        }
    }
    EXPECT_EQ(config_after([](json& c) { c["refresh_interval"] = "24h"; }).refresh_interval,
              milliseconds{86'400'000});
    EXPECT_EQ(config_after([](json& c) { c["upstream_timeout"] = "100ms"; }).upstream_timeout,
              milliseconds{100});
    EXPECT_EQ(config_after([](json& c) { c["max_age"] = "0"; }).max_age, milliseconds{0});
    EXPECT_EQ(config_after([](json& c) { c["max_age"] = "168h"; }).max_age,
              milliseconds{7 * 86'400'000LL});
}

TEST(ParseConfigDurations, TypeAndSyntaxErrors) {
    for (const DurationKey& key : kDurationKeys) {
        SCOPED_TRACE(key.name);
        EXPECT_EQ(error_after([&](json& c) { c[key.name] = 60; }),
                  std::string(key.name) + ": must be a duration string like \"10s\", found number");
        EXPECT_EQ(error_after([&](json& c) { c[key.name] = json::array(); }),
                  std::string(key.name) + ": must be a duration string like \"10s\", found array");
        EXPECT_TRUE(contains(error_after([&](json& c) { c[key.name] = "10"; }),
                             std::string(key.name) + ": invalid duration \"10\": missing unit"));
        EXPECT_TRUE(contains(error_after([&](json& c) { c[key.name] = "-5s"; }),
                             std::string(key.name) + ": invalid duration \"-5s\""));
    }
}

TEST(ParseConfigDurations, ShutdownTimeout) {
    EXPECT_EQ(config_after([](json& c) { c["shutdown_timeout"] = "0"; }).shutdown_timeout,
              milliseconds{0});
    EXPECT_EQ(config_after([](json& c) { c["shutdown_timeout"] = "2.5s"; }).shutdown_timeout,
              milliseconds{2500});
    EXPECT_EQ(config_after([](json& c) { c["shutdown_timeout"] = "5m"; }).shutdown_timeout,
              milliseconds{300'000});
}

TEST(ParseConfigDurations, MaxAgeMustBeWholeSeconds) {
    EXPECT_EQ(error_after([](json& c) { c["max_age"] = "1.5s"; }),
              "max_age: must be whole seconds (it becomes Cache-Control max-age), found \"1.5s\"");
    EXPECT_TRUE(contains(error_after([](json& c) { c["max_age"] = "1500ms"; }),
                         "max_age: must be whole seconds"));
    EXPECT_EQ(config_after([](json& c) { c["max_age"] = "2000ms"; }).max_age, milliseconds{2000});
    EXPECT_EQ(config_after([](json& c) { c["max_age"] = "1.5m"; }).max_age, milliseconds{90'000});
}

// ---- integers ----------------------------------------------------------------------------------

TEST(ParseConfigIntegers, Workers) {
    EXPECT_EQ(config_after([](json& c) { c["workers"] = 8; }).workers, 8u);
    EXPECT_EQ(config_after([](json& c) { c["workers"] = 256; }).workers, 256u);
    EXPECT_EQ(config_after([](json& c) { c["workers"] = 0; }).workers, 0u);
    EXPECT_EQ(error_after([](json& c) { c["workers"] = 257; }),
              "workers: must be from 0 to 256, found 257");
    EXPECT_EQ(error_after([](json& c) { c["workers"] = -1; }),
              "workers: must be from 0 to 256, found -1");
    EXPECT_EQ(error_after([](json& c) { c["workers"] = 2.5; }),
              "workers: must be a whole number from 0 to 256, found 2.5");
    EXPECT_EQ(error_after([](json& c) { c["workers"] = "4"; }),
              "workers: must be an integer from 0 to 256, found string");
    EXPECT_EQ(error_after([](json& c) { c["workers"] = true; }),
              "workers: must be an integer from 0 to 256, found boolean");
    EXPECT_EQ(
        error_after([](json& c) { c["workers"] = std::numeric_limits<std::uint64_t>::max(); }),
        "workers: must be from 0 to 256, found 18446744073709551615");
}

TEST(ParseConfigIntegers, MaxDocumentBytes) {
    EXPECT_EQ(config_after([](json& c) { c["max_document_bytes"] = 1024; }).max_document_bytes,
              1024u);
    EXPECT_EQ(config_after([](json& c) { c["max_document_bytes"] = 16777216; }).max_document_bytes,
              16777216u);
    EXPECT_EQ(error_after([](json& c) { c["max_document_bytes"] = 1023; }),
              "max_document_bytes: must be from 1024 to 16777216, found 1023");
    EXPECT_EQ(error_after([](json& c) { c["max_document_bytes"] = 16777217; }),
              "max_document_bytes: must be from 1024 to 16777216, found 16777217");
    EXPECT_EQ(error_after([](json& c) { c["max_document_bytes"] = "1MiB"; }),
              "max_document_bytes: must be an integer from 1024 to 16777216, found string");
}

// ---- user, group ------------------------------------------------------------------------------

TEST(ParseConfigAccount, UserAndGroup) {
    const Config user_only = config_after([](json& c) { c["user"] = "oidc-gateway"; });
    EXPECT_EQ(user_only.user, "oidc-gateway");
    EXPECT_EQ(user_only.group, "");
    const Config both = config_after([](json& c) {
        c["user"] = "svc_gw.1";
        c["group"] = "ssl-cert";
    });
    EXPECT_EQ(both.user, "svc_gw.1");
    EXPECT_EQ(both.group, "ssl-cert");
    // Samba-style machine accounts end in '$'.
    EXPECT_EQ(config_after([](json& c) { c["user"] = "host$"; }).user, "host$");
    // Names are not looked up while parsing: that is check_config_files' job.
    EXPECT_EQ(config_after([](json& c) { c["user"] = "no-such-account-here"; }).user,
              "no-such-account-here");
}

TEST(ParseConfigAccount, Errors) {
    EXPECT_EQ(error_after([](json& c) { c["group"] = "nogroup"; }),
              "group: needs user as well: the group is only switched to together with a user");
    EXPECT_EQ(error_after([](json& c) { c["user"] = ""; }),
              "user: must not be empty (leave the key out instead)");
    EXPECT_EQ(error_after([](json& c) { c["user"] = 65534; }),
              "user: must be a string, found number");
    EXPECT_EQ(error_after([](json& c) {
                  c["user"] = "nobody";
                  c["group"] = "";
              }),
              "group: must not be empty (leave the key out instead)");
    for (const char* bad : {"no body", "../etc", "a:b", "-rf", "x\n", "\u00e9t\u00e9"}) {
        SCOPED_TRACE(bad);
        const std::string name = bad;
        EXPECT_TRUE(contains(error_after([&](json& c) { c["user"] = name; }),
                             "user: must be an account name"));
        EXPECT_TRUE(contains(error_after([&](json& c) {
                                 c["user"] = "nobody";
                                 c["group"] = name;
                             }),
                             "group: must be an account name"));
    }
    EXPECT_TRUE(contains(error_after([](json& c) { c["user"] = std::string(65, 'a'); }),
                         "user: must be an account name (up to 64"));
    EXPECT_EQ(config_after([](json& c) { c["user"] = std::string(64, 'a'); }).user.size(), 64u);
}

// ---- logs --------------------------------------------------------------------------------------

TEST(ParseConfigLogs, FormatAndLevel) {
    EXPECT_EQ(config_after([](json& c) { c["log_format"] = "logfmt"; }).log_format,
              LogFormat::Logfmt);
    EXPECT_EQ(config_after([](json& c) { c["log_format"] = "json"; }).log_format, LogFormat::Json);
    const std::pair<const char*, LogLevel> levels[] = {{"debug", LogLevel::Debug},
                                                       {"info", LogLevel::Info},
                                                       {"warn", LogLevel::Warn},
                                                       {"error", LogLevel::Error}};
    for (const auto& [name, level] : levels) {
        EXPECT_EQ(config_after([&](json& c) { c["log_level"] = name; }).log_level, level) << name;
    }
}

TEST(ParseConfigLogs, Errors) {
    EXPECT_EQ(error_after([](json& c) { c["log_format"] = "text"; }),
              "log_format: must be one of \"json\", \"logfmt\", found \"text\"");
    EXPECT_EQ(error_after([](json& c) { c["log_format"] = "JSON"; }),
              "log_format: must be one of \"json\", \"logfmt\", found \"JSON\"");
    EXPECT_EQ(error_after([](json& c) { c["log_format"] = 1; }),
              "log_format: must be one of \"json\", \"logfmt\", found number");
    EXPECT_EQ(error_after([](json& c) { c["log_level"] = "warning"; }),
              "log_level: must be one of \"debug\", \"info\", \"warn\", \"error\", found "
              "\"warning\"");
    EXPECT_EQ(error_after([](json& c) { c["log_level"] = json(); }),
              "log_level: must be one of \"debug\", \"info\", \"warn\", \"error\", found null");
}

TEST(ParseConfigLogs, AccessLog) {
    const Config on = config_after([](json& c) {
        c["access_log"] = {{"enabled", true}, {"max_per_second", 5}};
    });
    EXPECT_TRUE(on.access_log.enabled);
    EXPECT_EQ(on.access_log.max_per_second, 5u);
    const Config empty = config_after([](json& c) { c["access_log"] = json::object(); });
    EXPECT_FALSE(empty.access_log.enabled);
    EXPECT_EQ(empty.access_log.max_per_second, 100u);
    EXPECT_EQ(config_after([](json& c) {
                  c["access_log"] = {{"max_per_second", 100000}};
              }).access_log.max_per_second,
              100000u);
    EXPECT_EQ(config_after([](json& c) {
                  c["access_log"] = {{"max_per_second", 1}};
              }).access_log.max_per_second,
              1u);
}

TEST(ParseConfigLogs, AccessLogErrors) {
    EXPECT_EQ(error_after([](json& c) { c["access_log"] = true; }),
              "access_log: must be an object, found boolean");
    EXPECT_EQ(error_after([](json& c) {
                  c["access_log"] = {{"enabled", "yes"}};
              }),
              "access_log.enabled: must be true or false, found string");
    EXPECT_EQ(error_after([](json& c) {
                  c["access_log"] = {{"enabled", 1}};
              }),
              "access_log.enabled: must be true or false, found number");
    EXPECT_EQ(error_after([](json& c) {
                  c["access_log"] = {{"max_per_second", 0}};
              }),
              "access_log.max_per_second: must be from 1 to 100000, found 0");
    EXPECT_EQ(error_after([](json& c) {
                  c["access_log"] = {{"max_per_second", 100001}};
              }),
              "access_log.max_per_second: must be from 1 to 100000, found 100001");
    EXPECT_EQ(error_after([](json& c) {
                  c["access_log"] = {{"max_per_second", 1.5}};
              }),
              "access_log.max_per_second: must be a whole number from 1 to 100000, found 1.5");
}

TEST(ResolvedWorkers, ConfiguredOrOnePerCore) {
    Config config;
    config.workers = 3;
    EXPECT_EQ(config.resolved_workers(), 3u);
    config.workers = 0;
    EXPECT_EQ(config.resolved_workers(), std::max(1u, std::thread::hardware_concurrency()));
    EXPECT_GE(config.resolved_workers(), 1u);
}

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

// ---- File checks -------------------------------------------------------------------------------

class ConfigFilesTest : public ::testing::Test {
  protected:
    TempDir dir_;
    TestPki public_pki_{dir_.path(), "public"};
    TestPki nomad_pki_{dir_.path(), "nomad"};
    IssuedFiles server_ = issue(public_pki_, "gw.example.com", false, true);
    IssuedFiles client_ = issue(nomad_pki_, "gateway-client", true, false);
    std::string cache_dir_ = make_cache_dir();

    static IssuedFiles issue(TestPki& pki, const std::string& name, bool client,
                             bool with_intermediate, long valid_for_seconds = 30L * 24 * 3600) {
        CertificateRequest request;
        request.common_name = name;
        request.dns_names = {name};
        request.client = client;
        request.include_intermediate = with_intermediate;
        request.valid_for_seconds = valid_for_seconds;
        return pki.issue(request);
    }

    std::string make_cache_dir() {
        const std::string path = dir_.file("cache");
        EXPECT_EQ(::mkdir(path.c_str(), 0700), 0);
        return path;
    }

    json document() const {
        json c = minimal();
        c["tls"]["certificates"][0] = {{"certificate", server_.certificate},
                                       {"private_key", server_.private_key}};
        c["cache_dir"] = cache_dir_;
        c["issuers"][0]["upstream_tls"] = {{"ca", nomad_pki_.ca_file()},
                                           {"certificate", client_.certificate},
                                           {"private_key", client_.private_key},
                                           {"server_name", "server.global.nomad"}};
        return c;
    }

    // "key: message" from check_config_files, or "" when the files pass.
    template <typename Change>
    std::string check_after(Change change) {
        json c = document();
        change(c);
        const Config config = parse_ok(c);
        const std::optional<ConfigError> error = check_config_files(config);
        return error ? error->to_string() : std::string();
    }
};

TEST_F(ConfigFilesTest, GoodFilesPass) {
    EXPECT_EQ(check_after([](json&) {}), "");
    // Several public certificates, RSA among them.
    CertificateRequest rsa;
    rsa.common_name = "rsa.example.com";
    rsa.key_type = KeyType::Rsa2048;
    const IssuedFiles rsa_files = public_pki_.issue(rsa);
    EXPECT_EQ(check_after([&](json& c) {
                  c["tls"]["certificates"].push_back({{"certificate", rsa_files.certificate},
                                                      {"private_key", rsa_files.private_key}});
              }),
              "");
    // upstream_tls without a client certificate, and no upstream_tls at all.
    EXPECT_EQ(check_after([](json& c) {
                  c["issuers"][0]["upstream_tls"].erase("certificate");
                  c["issuers"][0]["upstream_tls"].erase("private_key");
              }),
              "");
    EXPECT_EQ(check_after([](json& c) { c["issuers"][0].erase("upstream_tls"); }), "");
    EXPECT_EQ(check_after([](json& c) { c.erase("cache_dir"); }), "");
}

TEST_F(ConfigFilesTest, MissingFilesNameTheirKey) {
    const std::string absent = dir_.file("absent.pem");
    EXPECT_EQ(check_after([&](json& c) { c["tls"]["certificates"][0]["private_key"] = absent; }),
              "tls.certificates[0].private_key: cannot read \"" + absent +
                  "\": No such file or directory");
    EXPECT_EQ(check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = absent; }),
              "tls.certificates[0].certificate: cannot read \"" + absent +
                  "\": No such file or directory");
    EXPECT_EQ(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["ca"] = absent; }),
        "issuers[0].upstream_tls.ca: cannot read \"" + absent + "\": No such file or directory");
    EXPECT_EQ(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["certificate"] = absent; }),
        "issuers[0].upstream_tls.certificate: cannot read \"" + absent +
            "\": No such file or directory");
    EXPECT_EQ(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["private_key"] = absent; }),
        "issuers[0].upstream_tls.private_key: cannot read \"" + absent +
            "\": No such file or directory");
    // The second certificate entry names its own index.
    EXPECT_TRUE(check_after([&](json& c) {
                    c["tls"]["certificates"].push_back(
                        {{"certificate", server_.certificate}, {"private_key", absent}});
                }).starts_with("tls.certificates[1].private_key: cannot read"));
}

TEST_F(ConfigFilesTest, UnreadableFileNamesItsKey) {
    EXPECT_EQ(
        check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = dir_.path(); }),
        "tls.certificates[0].certificate: cannot read \"" + dir_.path() +
            "\": is a directory, not a regular file");
}

TEST_F(ConfigFilesTest, ChainOutOfOrder) {
    const std::string text = read_file(server_.certificate);
    const std::string end = "-----END CERTIFICATE-----\n";
    const std::size_t split = text.find(end) + end.size();
    const std::string reversed = dir_.file("reversed.pem");
    write_file(reversed, text.substr(split) + text.substr(0, split));
    const std::string error =
        check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = reversed; });
    EXPECT_TRUE(error.starts_with("tls.certificates[0].certificate: certificate 2")) << error;
    EXPECT_TRUE(contains(error, "leaf first")) << error;
}

TEST_F(ConfigFilesTest, KeyOfAnotherCertificate) {
    const std::string error = check_after(
        [&](json& c) { c["tls"]["certificates"][0]["private_key"] = client_.private_key; });
    EXPECT_TRUE(
        error.starts_with("tls.certificates[0].private_key: the private key does not "
                          "belong to the certificate (CN=gw.example.com)"))
        << error;
    const std::string client_error = check_after(
        [&](json& c) { c["issuers"][0]["upstream_tls"]["private_key"] = server_.private_key; });
    EXPECT_TRUE(
        client_error.starts_with("issuers[0].upstream_tls.private_key: the private key "
                                 "does not belong"))
        << client_error;
}

TEST_F(ConfigFilesTest, ExpiredPublicCertificate) {
    const IssuedFiles expired = issue(public_pki_, "expired.example.com", false, false, -60);
    std::string load_error;
    const std::vector<X509Ptr> chain = load_certificate_chain(expired.certificate, &load_error);
    ASSERT_FALSE(chain.empty()) << load_error;
    const std::time_t not_after = certificate_not_after(chain[0].get());
    std::tm broken_down{};
    ASSERT_NE(gmtime_r(&not_after, &broken_down), nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &broken_down);

    const std::string error = check_after([&](json& c) {
        c["tls"]["certificates"][0] = {{"certificate", expired.certificate},
                                       {"private_key", expired.private_key}};
    });
    EXPECT_TRUE(
        error.starts_with("tls.certificates[0].certificate: certificate "
                          "\"CN=expired.example.com\""))
        << error;
    EXPECT_TRUE(contains(error, "expired on " + std::string(date) + " (notAfter)")) << error;
}

TEST_F(ConfigFilesTest, UpstreamCaMustHoldACertificate) {
    const std::string empty_bundle = dir_.file("empty-ca.pem");
    write_file(empty_bundle, "# no certificates here\n");
    EXPECT_EQ(check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["ca"] = empty_bundle; }),
              "issuers[0].upstream_tls.ca: \"" + empty_bundle + "\" holds no PEM certificate");
    // A key file is not a CA bundle.
    EXPECT_TRUE(contains(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["ca"] = client_.private_key; }),
        "issuers[0].upstream_tls.ca: \"" + client_.private_key +
            "\" holds a \"PRIVATE KEY\" block"));
}

TEST_F(ConfigFilesTest, GarbageCertificateFile) {
    const std::string garbage = dir_.file("garbage.pem");
    write_file(garbage, "garbage\n");
    EXPECT_EQ(check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = garbage; }),
              "tls.certificates[0].certificate: \"" + garbage + "\" holds no PEM certificate");
    EXPECT_TRUE(check_after([&](json& c) { c["tls"]["certificates"][0]["private_key"] = garbage; })
                    .starts_with("tls.certificates[0].private_key: \"" + garbage +
                                 "\" holds no usable PEM private key"));
}

TEST_F(ConfigFilesTest, CacheDir) {
    const std::string absent = dir_.file("no-such-dir");
    EXPECT_EQ(check_after([&](json& c) { c["cache_dir"] = absent; }),
              "cache_dir: cannot use \"" + absent + "\": No such file or directory");
    EXPECT_EQ(check_after([&](json& c) { c["cache_dir"] = server_.certificate; }),
              "cache_dir: \"" + server_.certificate + "\" is not a directory");
}

TEST_F(ConfigFilesTest, CacheDirNotWritable) {
    if (::geteuid() == 0) GTEST_SKIP() << "root may write anywhere; mode bits cannot be tested";
    const std::string read_only = dir_.file("read-only");
    ASSERT_EQ(::mkdir(read_only.c_str(), 0500), 0);
    EXPECT_EQ(check_after([&](json& c) { c["cache_dir"] = read_only; }),
              "cache_dir: \"" + read_only + "\" is not writable: Permission denied");
}

// The account databases of this machine (Debian) hold nobody/nogroup and root.
TEST_F(ConfigFilesTest, UserAndGroupMustExist) {
    EXPECT_EQ(check_after([](json& c) { c["user"] = "nobody"; }), "");
    EXPECT_EQ(check_after([](json& c) {
                  c["user"] = "nobody";
                  c["group"] = "nogroup";
              }),
              "");
    EXPECT_EQ(check_after([](json& c) { c["user"] = "oidcgw-absent-user"; }),
              "user: no such user \"oidcgw-absent-user\"");
    EXPECT_EQ(check_after([](json& c) {
                  c["user"] = "nobody";
                  c["group"] = "oidcgw-absent-group";
              }),
              "group: no such group \"oidcgw-absent-group\"");
    EXPECT_EQ(check_after([](json& c) { c["user"] = "root"; }),
              "user: \"root\" has uid 0: name the unprivileged account to run as");
    // File problems are reported before account ones.
    EXPECT_TRUE(check_after([&](json& c) {
                    c["user"] = "oidcgw-absent-user";
                    c["cache_dir"] = dir_.file("absent");
                }).starts_with("cache_dir: "));
}

TEST_F(ConfigFilesTest, LoadConfigFile) {
    const std::string path = dir_.file("gateway.json");
    write_file(path, "// comment\n" + document().dump(2));
    const ConfigResult result = load_config_file(path);
    ASSERT_TRUE(result.config.has_value()) << result.error.to_string();
    EXPECT_EQ(result.config->path, path);
    EXPECT_EQ(result.config->certificates.at(0).certificate, server_.certificate);
}

TEST_F(ConfigFilesTest, LoadConfigFileErrors) {
    const std::string absent = dir_.file("absent.json");
    const ConfigResult missing = load_config_file(absent);
    EXPECT_FALSE(missing.config.has_value());
    EXPECT_EQ(missing.error.key, "");
    EXPECT_EQ(missing.error.message, "cannot read \"" + absent + "\": No such file or directory");

    const ConfigResult directory = load_config_file(dir_.path());
    EXPECT_FALSE(directory.config.has_value());
    EXPECT_EQ(directory.error.message,
              "cannot read \"" + dir_.path() + "\": is a directory, not a regular file");

    const std::string bad_syntax = dir_.file("bad.json");
    write_file(bad_syntax, "{\"listen\": ");
    const ConfigResult syntax = load_config_file(bad_syntax);
    EXPECT_FALSE(syntax.config.has_value());
    EXPECT_EQ(syntax.error.key, "");

    const std::string bad_value = dir_.file("bad-value.json");
    json c = document();
    c["workers"] = 1000;
    write_file(bad_value, c.dump());
    const ConfigResult value = load_config_file(bad_value);
    EXPECT_FALSE(value.config.has_value());
    EXPECT_EQ(value.error.key, "workers");

    const std::string bad_files = dir_.file("bad-files.json");
    c = document();
    c["cache_dir"] = dir_.file("missing-cache");
    write_file(bad_files, c.dump());
    const ConfigResult files = load_config_file(bad_files);
    EXPECT_FALSE(files.config.has_value());
    EXPECT_EQ(files.error.key, "cache_dir");

    const std::string huge = dir_.file("huge.json");
    write_file(huge, std::string(1024 * 1024 + 1, ' '));
    EXPECT_TRUE(contains(load_config_file(huge).error.message, "larger than 1 MiB"));
}

}  // namespace
}  // namespace oidcgw::testing

namespace oidcgw {
namespace {

TEST(ParseConfigFreshnessAndEdge, DefaultsAndValues) {
    ConfigResult defaults = parse_config(R"({"listen":["127.0.0.1:8443"],
        "tls":{"certificates":[{"certificate":"c","private_key":"k"}]},
        "issuers":[{"issuer":"https://a.example.com","upstreams":["https://10.0.0.1:4646"]}]})");
    ASSERT_TRUE(defaults.config) << defaults.error.to_string();
    const Config& d = *defaults.config;
    EXPECT_TRUE(d.watch);
    EXPECT_EQ(d.watch_wait, std::chrono::minutes(5));
    EXPECT_EQ(d.max_stale, std::chrono::hours(24));
    EXPECT_TRUE(d.serve_stale);
    EXPECT_EQ(d.tls_min_version, TlsMinVersion::Tls12);
    EXPECT_TRUE(d.tls_session_resumption);
    EXPECT_EQ(d.limits, ConnectionLimits{});
    EXPECT_EQ(d.timeouts, ConnectionTimeouts{});
    EXPECT_EQ(d.sandbox, SandboxMode::Enforce);

    ConfigResult set = parse_config(R"({"listen":["127.0.0.1:8443"],
        "tls":{"certificates":[{"certificate":"c","private_key":"k"}],"min_version":"1.3",
               "session_resumption":false},
        "watch":false,"watch_wait":"30s","max_stale":"2h","serve_stale":false,"sandbox":"log",
        "limits":{"max_connections":5,"max_connections_per_ip":2,
                  "new_connections_per_ip_per_second":3,"max_requests_per_connection":4},
        "timeouts":{"handshake":"1s","request_head":"2s","keep_alive":"3s","write":"4s"},
        "issuers":[{"issuer":"https://a.example.com","upstreams":["https://10.0.0.1:4646"]}]})");
    ASSERT_TRUE(set.config) << set.error.to_string();
    const Config& c = *set.config;
    EXPECT_FALSE(c.watch);
    EXPECT_EQ(c.watch_wait, std::chrono::seconds(30));
    EXPECT_EQ(c.max_stale, std::chrono::hours(2));
    EXPECT_FALSE(c.serve_stale);
    EXPECT_EQ(c.tls_min_version, TlsMinVersion::Tls13);
    EXPECT_FALSE(c.tls_session_resumption);
    EXPECT_EQ(c.sandbox, SandboxMode::Log);
    EXPECT_EQ(c.limits.max_connections, 5u);
    EXPECT_EQ(c.limits.max_connections_per_ip, 2u);
    EXPECT_EQ(c.limits.new_connections_per_ip_per_second, 3u);
    EXPECT_EQ(c.limits.max_requests_per_connection, 4u);
    EXPECT_EQ(c.timeouts.handshake, std::chrono::seconds(1));
    EXPECT_EQ(c.timeouts.request_head, std::chrono::seconds(2));
    EXPECT_EQ(c.timeouts.keep_alive, std::chrono::seconds(3));
    EXPECT_EQ(c.timeouts.write, std::chrono::seconds(4));
}

TEST(ParseConfigFreshnessAndEdge, ErrorsNameTheKey) {
    const auto error = [](const std::string& extra) {
        ConfigResult result = parse_config(R"({"listen":["127.0.0.1:8443"],
            "tls":{"certificates":[{"certificate":"c","private_key":"k"}]},
            "issuers":[{"issuer":"https://a.example.com","upstreams":["https://10.0.0.1:4646"]}],)" +
                                           extra + "}");
        return result.config ? std::string("accepted") : result.error.to_string();
    };
    EXPECT_NE(error(R"("watch":"yes")").find("watch: must be true or false"), std::string::npos);
    EXPECT_NE(error(R"("max_stale":"30s")").find("max_stale: must be at least refresh_interval"),
              std::string::npos);
    EXPECT_NE(error(R"("sandbox":"strict")").find("sandbox"), std::string::npos);
    EXPECT_NE(error(R"("limits":{"max_connections":0})").find("limits.max_connections"),
              std::string::npos);
    EXPECT_NE(error(R"("limits":{"max_conns":1})").find("limits.max_conns: unknown key"),
              std::string::npos);
    EXPECT_NE(error(R"("timeouts":{"write":"1ms"})").find("timeouts.write"), std::string::npos);
    EXPECT_NE(error(R"("watch_wait":"20m")").find("watch_wait"), std::string::npos);
}

}  // namespace
}  // namespace oidcgw
