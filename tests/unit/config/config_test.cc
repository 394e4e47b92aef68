// parse_config as a whole: documents, comments, unknown keys, durations, integers, cache_dir
// (src/config/config.cc and json_reader.cc). The sections have test files of their own.
#include "config/config.h"
#include "config_test_support.h"
#include "test_pki.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#ifndef OIDCGW_SOURCE_DIR
#define OIDCGW_SOURCE_DIR "/work/main"
#endif

namespace oidcgw::testing {
namespace {

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

// ---- Whole documents ---------------------------------------------------------------------------

TEST(ParseConfig, IssueExampleParses) {
    const Config config = parse_ok(std::string(kIssueExample));
    EXPECT_EQ(config.path, "");
    ASSERT_EQ(config.listen.size(), 2u);
    EXPECT_EQ(config.listen[0].text, "0.0.0.0:443");
    EXPECT_EQ(listen_hosts_and_ports(config), (std::vector<std::string>{"0.0.0.0 443", ":: 443"}));
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
              "proxy_protocol_from, refresh_interval, sandbox, serve_stale, shutdown_timeout, "
              "timeouts, tls, "
              "upstream_timeout, user, watch, watch_wait, workers)");
    EXPECT_EQ(error_after([](json& c) {
                  c["access_log"] = {{"enable", true}};
              }),
              "access_log.enable: unknown key (known: enabled, max_per_second)");
    EXPECT_EQ(
        error_after([](json& c) { c["tls"]["protocols"] = "TLSv1.3"; }),
        "tls.protocols: unknown key (known: acme, certificates, min_version, session_resumption)");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0]["chain"] = "/x"; }),
              "tls.certificates[0].chain: unknown key (known: certificate, private_key)");
    EXPECT_EQ(error_after([](json& c) { c["issuers"][0]["jwks"] = "/x"; }),
              "issuers[0].jwks: unknown key (known: aliases, issuer, upstream_tls, upstreams)");
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

TEST(ResolvedWorkers, ConfiguredOrOnePerCore) {
    Config config;
    config.workers = 3;
    EXPECT_EQ(config.resolved_workers(), 3u);
    config.workers = 0;
    EXPECT_EQ(config.resolved_workers(), std::max(1u, std::thread::hardware_concurrency()));
    EXPECT_GE(config.resolved_workers(), 1u);
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
    EXPECT_EQ(c.limits.ipv6_prefix_length, 64u);  // the default: one IPv6 host owns a /64
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
    EXPECT_NE(error(R"("limits":{"ipv6_prefix_length":47})").find("limits.ipv6_prefix_length"),
              std::string::npos);
    EXPECT_NE(error(R"("limits":{"ipv6_prefix_length":129})").find("limits.ipv6_prefix_length"),
              std::string::npos);
    EXPECT_EQ(error(R"("limits":{"ipv6_prefix_length":56})"), "accepted");
    EXPECT_NE(error(R"("timeouts":{"write":"1ms"})").find("timeouts.write"), std::string::npos);
    EXPECT_NE(error(R"("watch_wait":"20m")").find("watch_wait"), std::string::npos);
}

}  // namespace
}  // namespace oidcgw
