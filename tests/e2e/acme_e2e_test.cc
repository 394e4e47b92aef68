// ACME end to end (tls.acme): the real gateway orders its certificate from a real ACME server
// (Debian's pebble, tests/e2e/pebble_server.h) and proves its name with TLS-ALPN-01 on its own
// public port; then restarts, renewals, an unreachable or refusing CA, validators' handshakes
// and tampered files.
#include "acme_fixture.h"

namespace oidcgw::testing {
namespace {

TEST_F(AcmeE2E, AGatewayWithOnlyAcmeGetsItsCertificateAndRelyingPartiesVerifyThroughIt) {
    start_pebble();
    start_gateway_with(acme_config());
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();

    // Chains to pebble's root and names the issuer's host (curl checks both).
    const HttpResponse discovery = acme_get("/.well-known/openid-configuration");
    ASSERT_EQ(discovery.status, 200) << discovery.error;
    const auto configuration = nlohmann::json::parse(discovery.body);
    const std::string jwks_uri = configuration.at("jwks_uri");
    const HttpResponse jwks = acme_get(jwks_uri.substr(issuer_.size()));
    ASSERT_EQ(jwks.status, 200) << jwks.error;
    const auto key_set = nlohmann::json::parse(jwks.body);
    const std::string token = sign_rs256_jwt(
        signing_key_.get(), kKid, nlohmann::json({{"iss", issuer_}, {"aud", "sts"}}).dump());
    bool verified = false;
    for (const auto& key : key_set.at("keys")) {
        verified = verified || (key.at("kid") == kKid &&
                                verify_rs256_jwt(token, key.at("n"), key.at("e")).has_value());
    }
    EXPECT_TRUE(verified);

    const nlohmann::json acme = acme_status();
    EXPECT_EQ(acme.value("state", ""), "valid") << acme.dump();
    EXPECT_EQ(acme.value("names", nlohmann::json::array()), nlohmann::json({kPublicHost}));
    EXPECT_EQ(acme.value("last_error", "x"), "");
    const std::string metrics = health("/metrics").body;
    EXPECT_NE(metrics.find("oidc_gateway_acme_orders_total{result=\"success\"} 1"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("oidc_gateway_certificate_expiry_timestamp_seconds{file=\"" +
                           cache_dir() + "/acme/certificate.pem\""),
              std::string::npos)
        << metrics;
    // pebble's own badNonce rejections (5%) were retried, not failures.
    EXPECT_EQ(log_count("acme_order_failed"), 0u) << gateway_->log();
}

TEST_F(AcmeE2E, RestartedWithTheCaDownItServesTheKeptCertificateAtOnce) {
    start_pebble();
    start_gateway_with(acme_config());
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    const std::string kept = kept_certificate();
    const RawExchange before = handshake("");
    ASSERT_TRUE(before.connected) << before.handshake_error;
    gateway_->stop();
    pebble_->stop();

    start_gateway_with(acme_config());
    ASSERT_TRUE(wait_ready(10s)) << gateway_->log();
    EXPECT_EQ(acme_get("/.well-known/openid-configuration").status, 200);
    const RawExchange after = handshake("");
    ASSERT_TRUE(after.connected) << after.handshake_error;
    EXPECT_EQ(after.peer_certificate_sha256, before.peer_certificate_sha256);
    EXPECT_EQ(kept_certificate(), kept);
    EXPECT_EQ(log_count("\"acme_order\""), 1u) << gateway_->log();  // the first run's only
    EXPECT_EQ(log_count("acme_cache_loaded"), 1u) << gateway_->log();
}

TEST_F(AcmeE2E, ARenewalSwapsTheCertificateWhileAKeepAliveConnectionCarriesOn) {
    PebbleOptions options;
    options.certificate_validity = 40s;  // renew_before 1h exceeds it: renewed at half, 20 s
    start_pebble(options);
    nlohmann::json acme;
    acme["renew_before"] = "1h";
    start_gateway_with(acme_config(acme));
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    EXPECT_EQ(log_count("acme_renew_before_too_long"), 1u) << gateway_->log();
    const RawExchange first = handshake("");
    ASSERT_TRUE(first.connected) << first.handshake_error;

    HttpRequestOptions keep_alive_options;
    keep_alive_options.ca_file = root_file_;
    keep_alive_options.resolve =
        std::string(kPublicHost) + ":" + std::to_string(public_port_) + ":127.0.0.1";
    KeepAliveClient keep_alive(keep_alive_options);
    ASSERT_EQ(keep_alive.get(public_url("/.well-known/jwks.json")).status, 200);

    // The first issuance was served too; the second is the renewal.
    ASSERT_TRUE(wait_until([&] { return log_count("acme_certificate_served") >= 2; }, 45s))
        << gateway_->log();
    const RawExchange renewed = handshake("");
    ASSERT_TRUE(renewed.connected) << renewed.handshake_error;
    EXPECT_NE(renewed.peer_certificate_sha256, first.peer_certificate_sha256);
    const HttpResponse on_old_connection = keep_alive.get(public_url("/.well-known/jwks.json"));
    EXPECT_EQ(on_old_connection.status, 200);
    EXPECT_FALSE(on_old_connection.new_connection);
    EXPECT_EQ(acme_get("/.well-known/jwks.json").status, 200);
}

TEST_F(AcmeE2E, AnUnreachableOrRefusingCaShowsTheErrorRetriesWithBackoffAndRecovers) {
    start_pebble();
    pebble_->stop();
    start_gateway_with(acme_config());
    // Retried, each failure recorded, and not ready without a certificate. The status is
    // read once per look: between two reads a retry may have begun ("ordering").
    nlohmann::json failing;
    ASSERT_TRUE(wait_until(
        [&] {
            failing = acme_status();
            return failing.value("consecutive_failures", 0) >= 3 &&
                   failing.value("state", "") == "retrying";
        },
        20s))
        << failing.dump() << gateway_->log();
    EXPECT_NE(failing.value("last_error", "").find("directory"), std::string::npos)
        << failing.dump();
    const HttpResponse ready = health("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("not ready: acme:"), std::string::npos) << ready.body;
    EXPECT_EQ(handshake("").connected, false);  // no certificate for normal clients yet
    // Backed off: a handful of attempts, not a loop.
    EXPECT_LT(log_count("acme_order_failed"), 8u) << gateway_->log();

    pebble_->start();
    write_file(root_file_, pebble_->root_pem());
    ASSERT_TRUE(wait_acme_ready(60s)) << gateway_->log() << pebble_->log();
    EXPECT_EQ(acme_get("/.well-known/openid-configuration").status, 200);
    EXPECT_EQ(acme_status().value("consecutive_failures", -1), 0);
}

TEST_F(AcmeE2E, AWrongDirectoryIsReportedAndTheConfiguredCertificateKeepsServing) {
    start_pebble();
    nlohmann::json acme;
    acme["directory_url"] = pebble_->directory_url() + "-missing";
    nlohmann::json config = acme_config(acme);
    // A configured certificate serves until the first ACME certificate exists.
    config["tls"]["certificates"] = {{{"certificate", public_certificate_.certificate},
                                      {"private_key", public_certificate_.private_key}}};
    start_gateway_with(config);
    ASSERT_TRUE(
        wait_until([&] { return acme_status().value("consecutive_failures", 0) >= 1; }, 20s))
        << gateway_->log();
    EXPECT_NE(acme_status().value("last_error", "").find("directory: "), std::string::npos)
        << acme_status().dump();
    EXPECT_EQ(get("/.well-known/openid-configuration").status, 200);  // the test PKI's chain
    EXPECT_EQ(health("/readyz").status, 503);
}

TEST_F(AcmeE2E, AChallengeThatFailsIsReportedWithTheCasProblem) {
    PebbleOptions options;
    start_pebble(options);
    // pebble's VA dials the public port, which this gateway does not listen on.
    nlohmann::json config = acme_config();
    config["listen"] = {"127.0.0.1:" + std::to_string(free_loopback_port())};
    start_gateway_with(config);
    ASSERT_TRUE(
        wait_until([&] { return acme_status().value("consecutive_failures", 0) >= 1; }, 40s))
        << gateway_->log() << pebble_->log();
    const nlohmann::json failing = acme_status();
    EXPECT_NE(failing.value("last_error", "").find("challenge for oidc.test"), std::string::npos)
        << failing.dump();
    EXPECT_FALSE(failing.value("last_error_type", "").empty()) << failing.dump();
}

TEST_F(AcmeE2E, ValidatorHandshakesGetNoDocumentAndFailWithoutAPendingChallenge) {
    PebbleOptions options;
    options.validation_sleeps = true;  // pebble's VA waits 0-5 s before each of its connections
    start_pebble(options);
    start_gateway_with(acme_config());
    // While the order waits for the VA, the challenge is pending: a validator's handshake
    // completes with acme-tls/1, and a request sent on it gets nothing back.
    RawExchange challenge;
    ASSERT_TRUE(wait_until(
        [&] {
            challenge = handshake(kAcmeAlpn,
                                  "GET /.well-known/openid-configuration HTTP/1.1\r\n"
                                  "Host: oidc.test\r\n\r\n");
            return challenge.connected;
        },
        30s))
        << gateway_->log();
    EXPECT_EQ(challenge.alpn, "acme-tls/1");
    EXPECT_EQ(challenge.received, "");
    EXPECT_TRUE(challenge.closed_by_peer);
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();

    // No challenge pending now: the same handshake fails; a normal one is served.
    const RawExchange refused = handshake(kAcmeAlpn);
    EXPECT_FALSE(refused.connected);
    const RawExchange normal = handshake(std::string("\x08") + "http/1.1");
    EXPECT_TRUE(normal.connected) << normal.handshake_error;
    EXPECT_EQ(normal.alpn, "http/1.1");
}

TEST_F(AcmeE2E, TamperedOrTruncatedFilesAreRefusedWithTheReason) {
    start_pebble();
    start_gateway_with(acme_config());
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    gateway_->stop();
    const std::string kept = kept_certificate();
    write_file(cache_dir() + "/acme/certificate.pem", kept.substr(0, kept.size() / 2));

    start_gateway_with(acme_config());
    ASSERT_TRUE(wait_until([&] { return log_count("acme_cache_refused") >= 1; }, 10s))
        << gateway_->log();
    EXPECT_NE(gateway_->log().find("certificate.pem"), std::string::npos);
    // Refused, never served: a new certificate is ordered and replaces the damaged file.
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    EXPECT_NE(kept_certificate(), kept.substr(0, kept.size() / 2));
    gateway_->stop();

    // A damaged account key is an identity problem: reported, never silently replaced.
    write_file(cache_dir() + "/acme/account.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
    std::filesystem::remove(cache_dir() + "/acme/certificate.pem");
    start_gateway_with(acme_config());
    ASSERT_TRUE(
        wait_until([&] { return acme_status().value("consecutive_failures", 0) >= 1; }, 20s))
        << gateway_->log();
    EXPECT_NE(acme_status().value("last_error", "").find("account.key"), std::string::npos)
        << acme_status().dump();
    EXPECT_EQ(read_file(cache_dir() + "/acme/account.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n");
}

TEST_F(AcmeE2E, CheckAcceptsAnAcmeOnlyConfigurationAndNamesABadKey) {
    start_pebble();
    const std::string good = write_config_json(acme_config());
    const CommandOutput valid = run_gateway_command({"check", "--config", good});
    EXPECT_EQ(valid.exit_status, 0) << valid.output;
    nlohmann::json acme;
    acme["key_type"] = "dsa";
    const std::string bad = write_config_json(acme_config(acme));
    const CommandOutput invalid = run_gateway_command({"check", "--config", bad});
    EXPECT_EQ(invalid.exit_status, 2);
    EXPECT_NE(invalid.output.find("tls.acme.key_type"), std::string::npos) << invalid.output;
}

}  // namespace
}  // namespace oidcgw::testing
