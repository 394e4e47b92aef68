// End-to-end operations: transactional SIGHUP reload (issuers, certificates, listeners, broken
// configurations), reload under load, graceful stop, /metrics and /status, privilege drop.
#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>

namespace oidcgw::testing {
namespace {

class OperationsE2E : public GatewayE2E {
  protected:
    HttpRequestOptions public_options() {
        HttpRequestOptions options;
        options.ca_file = public_pki_->ca_file();
        options.resolve =
            std::string(kPublicHost) + ":" + std::to_string(public_port_) + ":127.0.0.1";
        options.timeout = 3s;
        return options;
    }

    void reload() { ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0); }

    bool wait_log(const std::string& text, std::size_t count,
                  std::chrono::milliseconds timeout = 15s) {
        return wait_until([&] { return log_count(text) >= count; }, timeout);
    }
};

TEST_F(OperationsE2E, ReloadAddsAnIssuerWhileAKeepAliveConnectionKeepsBeingAnswered) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    KeepAliveClient client(public_options());
    const HttpResponse first = client.get(public_url("/.well-known/jwks.json"));
    ASSERT_EQ(first.status, 200) << first.error;
    EXPECT_TRUE(first.new_connection);

    // A second issuer on the same host under a prefix, fetched from its own upstream.
    const std::string second_issuer = issuer_ + "/eu";
    FakeNomad* second = start_nomad(nomad_server_);
    second->set_document("/.well-known/openid-configuration",
                         nomad_discovery_document(second_issuer));
    EvpPkeyPtr eu_key = generate_rsa_key();
    const std::string eu_jwks = jwks_with({nomad_rsa_jwk(eu_key.get(), "eu-key-1")});
    second->set_document("/.well-known/jwks.json", eu_jwks);
    EXPECT_EQ(get("/eu/.well-known/jwks.json").status, 404);

    nlohmann::json config = base_config({nomad_->base_url()});
    config["issuers"].push_back(issuer_entry(second_issuer, {second->base_url()}));
    write_config_json(config);
    reload();
    ASSERT_TRUE(wait_log("\"event\":\"reloaded\"", 1)) << gateway_->log();
    ASSERT_TRUE(wait_until([&] { return get("/eu/.well-known/jwks.json").body == eu_jwks; }, 10s))
        << gateway_->log();
    EXPECT_EQ(get("/eu/.well-known/openid-configuration").body,
              nomad_discovery_document(second_issuer));

    // The connection opened before the reload is still the one answering.
    const HttpResponse after = client.get(public_url("/.well-known/jwks.json"));
    EXPECT_EQ(after.status, 200) << after.error;
    EXPECT_FALSE(after.new_connection);
    EXPECT_EQ(after.body, jwks_);
    // The unchanged issuer kept its publication: same validators, no refetch gap.
    EXPECT_EQ(after.header("etag"), first.header("etag"));
    EXPECT_EQ(after.header("last-modified"), first.header("last-modified"));

    // Removing it again: its paths answer 404 at once.
    write_config_json(base_config({nomad_->base_url()}));
    reload();
    ASSERT_TRUE(wait_log("\"event\":\"reloaded\"", 2));
    ASSERT_TRUE(wait_until([&] { return get("/eu/.well-known/jwks.json").status == 404; }, 5s));
    EXPECT_EQ(get("/.well-known/jwks.json").body, jwks_);
}

TEST_F(OperationsE2E, ABrokenConfigurationOnReloadChangesNothing) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const HttpResponse before = get("/.well-known/jwks.json");

    struct Broken {
        std::string content;
        std::string named;  // what the log must name
    };
    nlohmann::json unknown_key = base_config({nomad_->base_url()});
    unknown_key["issuers"][0]["upstream_tls"]["cafile"] = "x";
    nlohmann::json missing_file = base_config({nomad_->base_url()});
    missing_file["tls"]["certificates"][0]["private_key"] = dir_.file("nope.pem");
    // A port another socket holds (without SO_REUSEPORT): the bind itself fails.
    const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(holder, 1), 0);
    socklen_t length = sizeof address;
    ::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length);
    nlohmann::json busy_port = base_config({nomad_->base_url()});
    busy_port["listen"].push_back("127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
    const std::vector<Broken> broken = {
        {"{ this is not json", "syntax"},
        {unknown_key.dump(), "issuers[0].upstream_tls.cafile"},
        {missing_file.dump(), "tls.certificates[0].private_key"},
        {busy_port.dump(), "listen"},
    };
    std::size_t failures = 0;
    for (const Broken& config : broken) {
        write_file(dir_.file("gateway.json"), config.content);
        reload();
        ASSERT_TRUE(wait_log("\"event\":\"reload_failed\"", ++failures)) << gateway_->log();
        const std::string log = gateway_->log();
        const std::string last = log.substr(log.rfind("reload_failed"));
        EXPECT_NE(last.find(config.named), std::string::npos) << last;
        const HttpResponse during = get("/.well-known/jwks.json");
        EXPECT_EQ(during.status, 200);
        EXPECT_EQ(during.body, jwks_);
        EXPECT_EQ(during.header("etag"), before.header("etag"));
    }
    ::close(holder);
    EXPECT_EQ(health("/readyz").status, 200);
    const auto status = nlohmann::json::parse(health("/status").body);
    EXPECT_EQ(status["last_reload"]["result"], "failure");
    const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
    ASSERT_TRUE(metrics.ok) << metrics.error;
    EXPECT_EQ(find_sample(metrics, "oidc_gateway_reloads_total", {{"result", "failure"}}),
              static_cast<double>(broken.size()));
    EXPECT_EQ(find_sample(metrics, "oidc_gateway_last_reload_successful", {}), 0.0);

    // A good configuration afterwards is taken.
    write_config({nomad_->base_url()});
    reload();
    ASSERT_TRUE(wait_log("\"event\":\"reloaded\"", 1));
    // /status is rendered at most once a second.
    EXPECT_TRUE(wait_until(
        [&] {
            return nlohmann::json::parse(health("/status").body)["last_reload"]["result"] ==
                   "success";
        },
        2s));
}

TEST_F(OperationsE2E, ANewCertificateIsWhatTheNextHandshakeSees) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    HttpRequestOptions options = public_options();
    options.capture_certificate = true;
    const HttpResponse before = http_request(public_url("/.well-known/jwks.json"), options);
    ASSERT_EQ(before.status, 200) << before.error;
    EXPECT_NE(before.peer_subject.find(kPublicHost), std::string::npos) << before.peer_subject;

    // Same file names, new contents (as certbot-style renewals do), then SIGHUP.
    const IssuedFiles renewed = public_pki_->issue({.common_name = "renewed.oidc.test",
                                                    .dns_names = {kPublicHost},
                                                    .ip_addresses = {},
                                                    .include_intermediate = true});
    write_file(public_certificate_.certificate, read_file(renewed.certificate));
    write_file(public_certificate_.private_key, read_file(renewed.private_key));
    reload();
    ASSERT_TRUE(wait_log("\"event\":\"reloaded\"", 1)) << gateway_->log();
    ASSERT_TRUE(wait_until(
        [&] {
            const HttpResponse after = http_request(public_url("/.well-known/jwks.json"), options);
            return after.status == 200 &&
                   after.peer_subject.find("renewed.oidc.test") != std::string::npos;
        },
        5s));
    const auto status = nlohmann::json::parse(health("/status").body);
    EXPECT_NE(status["certificates"][0]["subject"].get<std::string>().find("renewed.oidc.test"),
              std::string::npos);
}

TEST_F(OperationsE2E, ListenersAddedAndRemovedByReload) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::uint16_t extra_port = free_loopback_port();
    nlohmann::json config = base_config({nomad_->base_url()});
    config["listen"].push_back("127.0.0.1:" + std::to_string(extra_port));
    write_config_json(config);
    reload();
    ASSERT_TRUE(wait_log("\"event\":\"reloaded\"", 1)) << gateway_->log();
    HttpRequestOptions extra = public_options();
    extra.resolve = std::string(kPublicHost) + ":" + std::to_string(extra_port) + ":127.0.0.1";
    // The issuer names public_port_, so Host must carry that port.
    extra.headers = {"Host: " + host_header()};
    const std::string extra_url = "https://" + std::string(kPublicHost) + ":" +
                                  std::to_string(extra_port) + "/.well-known/jwks.json";
    ASSERT_TRUE(wait_until([&] { return http_request(extra_url, extra).status == 200; }, 5s));
    EXPECT_EQ(get("/.well-known/jwks.json").status, 200);  // the kept listener never closed

    write_config_json(base_config({nomad_->base_url()}));
    reload();
    ASSERT_TRUE(wait_log("\"event\":\"reloaded\"", 2));
    ASSERT_TRUE(wait_until([&] { return http_request(extra_url, extra).status == 0; }, 5s));
    EXPECT_EQ(get("/.well-known/jwks.json").status, 200);
}

TEST_F(OperationsE2E, ThirtyReloadsUnderKeepAliveLoadFailNoRequest) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    std::atomic<bool> done{false};
    std::atomic<int> succeeded{0};
    std::atomic<int> failed{0};
    std::vector<std::string> failures;
    std::mutex failures_mutex;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
        clients.emplace_back([&] {
            KeepAliveClient client(public_options());
            const auto deadline = std::chrono::steady_clock::now() + 60s;
            while (!done && std::chrono::steady_clock::now() < deadline) {
                const HttpResponse response = client.get(public_url("/.well-known/jwks.json"));
                if (response.status == 200 && response.body == jwks_) {
                    ++succeeded;
                } else {
                    ++failed;
                    std::lock_guard lock(failures_mutex);
                    failures.push_back(std::to_string(response.status) + " " + response.error);
                }
            }
        });
    }
    for (int i = 0; i < 30; ++i) {
        reload();
        std::this_thread::sleep_for(100ms);
    }
    const bool all_reloaded = wait_log("\"event\":\"reloaded\"", 30, 20s);
    std::this_thread::sleep_for(200ms);
    done = true;
    for (auto& client : clients) client.join();
    EXPECT_TRUE(all_reloaded) << log_count("\"event\":\"reloaded\"") << " reloads logged";
    EXPECT_EQ(failed.load(), 0) << (failures.empty() ? "" : failures.front());
    EXPECT_GT(succeeded.load(), 100);
}

TEST_F(OperationsE2E, MetricsParseAndStatusIsJson) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ASSERT_EQ(get("/.well-known/jwks.json").status, 200);
    ASSERT_EQ(get("/nowhere").status, 404);

    const HttpResponse metrics_response = health("/metrics");
    ASSERT_EQ(metrics_response.status, 200);
    EXPECT_EQ(metrics_response.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const PrometheusParse metrics = parse_prometheus_text(metrics_response.body);
    ASSERT_TRUE(metrics.ok) << metrics.error << "\n" << metrics_response.body;
    EXPECT_GE(find_sample(metrics, "oidc_gateway_requests_total",
                          {{"issuer", issuer_}, {"document", "jwks"}, {"status", "200"}})
                  .value_or(0),
              1.0);
    EXPECT_GE(find_sample(metrics, "oidc_gateway_requests_total", {{"status", "404"}}).value_or(0),
              1.0);
    EXPECT_GE(find_sample(metrics, "oidc_gateway_upstream_fetches_total",
                          {{"issuer", issuer_}, {"document", "jwks"}, {"result", "ok"}})
                  .value_or(0),
              1.0);
    EXPECT_EQ(find_sample(metrics, "oidc_gateway_issuer_ready", {{"issuer", issuer_}}), 1.0);
    EXPECT_EQ(find_sample(metrics, "oidc_gateway_published_keys", {{"issuer", issuer_}}), 1.0);
    EXPECT_TRUE(find_sample(metrics, "oidc_gateway_certificate_expiry_timestamp_seconds", {}));
    EXPECT_TRUE(find_sample(metrics, "oidc_gateway_build_info", {}));
    EXPECT_TRUE(
        find_sample(metrics, "oidc_gateway_connections_accepted_total", {{"side", "public"}}));
    EXPECT_TRUE(find_sample(metrics, "oidc_gateway_upstream_fetch_duration_seconds_count", {}));
    EXPECT_TRUE(find_sample(metrics, "oidc_gateway_last_refresh_success_timestamp_seconds",
                            {{"issuer", issuer_}}));

    const HttpResponse status_response = health("/status");
    ASSERT_EQ(status_response.status, 200);
    EXPECT_EQ(status_response.header("content-type"), "application/json");
    const auto status = nlohmann::json::parse(status_response.body);
    ASSERT_EQ(status["issuers"].size(), 1u);
    const auto& issuer = status["issuers"][0];
    EXPECT_EQ(issuer["issuer"], issuer_);
    EXPECT_EQ(issuer["ready"], true);
    EXPECT_EQ(issuer["keys"][0]["kid"], kKid);
    EXPECT_EQ(issuer["algorithms"][0], "RS256");
    EXPECT_EQ(issuer["upstreams"][nomad_->base_url()]["result"], "ok");
    EXPECT_EQ(status["certificates"].size(), 1u);
    EXPECT_EQ(status["last_reload"]["result"], "none");
}

TEST_F(OperationsE2E, RejectionsShowInStatusAndMetrics) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    nomad_->set_document("/.well-known/jwks.json",
                         R"({"keys":[{"kty":"oct","kid":"s","k":"AAAA"}]})");
    ASSERT_TRUE(wait_until(
        [&] {
            const auto status = nlohmann::json::parse(health("/status").body);
            return !status["issuers"][0]["last_rejection"]["detail"].get<std::string>().empty();
        },
        10s));
    const auto status = nlohmann::json::parse(health("/status").body);
    EXPECT_NE(status["issuers"][0]["last_rejection"]["detail"].get<std::string>().find(
                  "private_key_material"),
              std::string::npos);
    const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
    ASSERT_TRUE(metrics.ok) << metrics.error;
    EXPECT_GE(find_sample(metrics, "oidc_gateway_documents_rejected_total",
                          {{"issuer", issuer_}, {"reason", "private_key_material"}})
                  .value_or(0),
              1.0);
    EXPECT_EQ(get("/.well-known/jwks.json").body, jwks_);
}

TEST_F(OperationsE2E, AccessLogInLogfmtWhenEnabled) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["log_format"] = "logfmt";
    config["access_log"] = {{"enabled", true}, {"max_per_second", 1000}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ASSERT_EQ(get("/.well-known/jwks.json?probe=1").status, 200);
    ASSERT_EQ(get("/not-served").status, 404);
    ASSERT_TRUE(wait_until([&] { return log_count("event=access") >= 2; }, 5s)) << gateway_->log();
    const std::string log = gateway_->log();
    const std::string served = log.substr(log.find("event=access"));
    EXPECT_NE(served.find("client=127.0.0.1"), std::string::npos) << served;
    EXPECT_NE(served.find("status=200"), std::string::npos) << served;
    EXPECT_NE(served.find("path=\"/.well-known/jwks.json?probe=1\""), std::string::npos) << served;
    EXPECT_NE(served.find("bytes=" + std::to_string(jwks_.size())), std::string::npos) << served;
    EXPECT_NE(log.find("status=404"), std::string::npos);
    EXPECT_EQ(log.find("{\"time\""), std::string::npos);  // no JSON lines in logfmt mode
}

TEST_F(OperationsE2E, RefusedRequestsAreAccessLoggedWithTheParsersReason) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["access_log"] = {{"enabled", true}, {"max_per_second", 1000}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string host = "Host: " + host_header() + "\r\n";
    EXPECT_EQ(raw("GET /.well-known/jwks.json?x=1 HTTP/1.1\r\n" + host + "nocolonhere\r\n\r\n")
                  .received.rfind("HTTP/1.1 400 ", 0),
              0u);
    EXPECT_EQ(raw("GET /v2 HTTP/2.0\r\n" + host + "\r\n").received.rfind("HTTP/1.1 505 ", 0), 0u);
    EXPECT_EQ(raw("GET /" + std::string(5000, 'a') + " HTTP/1.1\r\n" + host + "\r\n")
                  .received.rfind("HTTP/1.1 414 ", 0),
              0u);
    std::vector<nlohmann::json> refused;
    ASSERT_TRUE(wait_until(
        [&] {
            refused.clear();
            std::istringstream lines(gateway_->log());
            for (std::string line; std::getline(lines, line);) {
                const auto entry = nlohmann::json::parse(line, nullptr, false);
                if (entry.is_object() && entry.value("event", "") == "access" &&
                    entry.value("status", 0) >= 400) {
                    refused.push_back(entry);
                }
            }
            return refused.size() >= 3;
        },
        5s))
        << gateway_->log();
    EXPECT_EQ(refused[0].value("status", 0), 400);
    EXPECT_EQ(refused[0].value("reason", ""), "header field without colon");
    EXPECT_EQ(refused[0].value("path", ""), "/.well-known/jwks.json?x=1");
    EXPECT_EQ(refused[0].value("method", ""), "GET");
    EXPECT_EQ(refused[1].value("status", 0), 505);
    EXPECT_EQ(refused[1].value("path", ""), "/v2");
    EXPECT_FALSE(refused[1].value("reason", "").empty());
    // Too long to be read whole: logged without the target, never with 5000 bytes of it.
    EXPECT_EQ(refused[2].value("status", 0), 414);
    EXPECT_FALSE(refused[2].value("reason", "").empty());
    EXPECT_LE(refused[2].value("path", "").size(), 256u);
}

TEST_F(OperationsE2E, SecondSignalStopsAtOnce) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    // A client holding a half-sent request keeps the drain waiting...
    std::thread slow([&] {
        RawTlsOptions options;
        options.port = public_port_;
        options.sni = kPublicHost;
        options.deadline = 8s;
        raw_tls_exchange(options, "GET /.well-known/jw");
    });
    std::this_thread::sleep_for(500ms);
    ::kill(gateway_->pid(), SIGTERM);
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(gateway_->running());
    // ...until a second signal ends it at once.
    ::kill(gateway_->pid(), SIGTERM);
    EXPECT_EQ(gateway_->wait_exit(3s), 1);
    slow.join();
    EXPECT_NE(gateway_->log().find("stopping_now"), std::string::npos);
}

TEST_F(OperationsE2E, StartedAsRootItDropsToTheConfiguredUser) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    // The unprivileged process must reach its cache directory.
    ::chmod(dir_.path().c_str(), 0711);
    ASSERT_EQ(::chown(cache_dir().c_str(), nobody->pw_uid, nobody->pw_gid), 0);
    nlohmann::json config = base_config({nomad_->base_url()});
    config["user"] = "nobody";
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(get("/.well-known/jwks.json").body, jwks_);

    std::ifstream proc("/proc/" + std::to_string(gateway_->pid()) + "/status");
    std::string line, uid_line;
    while (std::getline(proc, line)) {
        if (line.rfind("Uid:", 0) == 0) uid_line = line;
    }
    std::istringstream fields(uid_line.substr(4));
    unsigned real = 0, effective = 0, saved = 0;
    fields >> real >> effective >> saved;
    EXPECT_EQ(real, nobody->pw_uid) << uid_line;
    EXPECT_EQ(effective, nobody->pw_uid) << uid_line;
    EXPECT_EQ(saved, nobody->pw_uid) << uid_line;
    EXPECT_NE(effective, 0u);
    EXPECT_NE(gateway_->log().find("privileges_dropped"), std::string::npos);
}

}  // namespace
}  // namespace oidcgw::testing
