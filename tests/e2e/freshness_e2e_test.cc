// End-to-end freshness: a rotation is public within seconds through the JWKS watch (with a 60 s
// refresh_interval), the fallback to polling, backoff away from a dead upstream, and max_stale /
// serve_stale.
#include "gateway_fixture.h"
#include "prometheus_text.h"

namespace oidcgw::testing {
namespace {

class FreshnessE2E : public GatewayE2E {};

TEST_F(FreshnessE2E, ARotationIsVerifiableThroughTheGatewayLongBeforeTheNextPoll) {
    nlohmann::json config = base_config({nomad_->base_url()}, "60s");
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ASSERT_EQ(get("/.well-known/jwks.json").body, jwks_);

    // `nomad operator root keyring rotate -now`: a new key joins the set and signs from now on.
    EvpPkeyPtr next_key = generate_rsa_key();
    const std::string next_kid = "7f3e9a10-5b2c-4d8e-9f01-23456789abcd";
    const std::string rotated = jwks_with(
        {nomad_rsa_jwk(signing_key_.get(), kKid), nomad_rsa_jwk(next_key.get(), next_kid)});
    const auto rotated_at = std::chrono::steady_clock::now();
    nomad_->set_document("/.well-known/jwks.json", rotated);
    const std::string token = sign_rs256_jwt(
        next_key.get(), next_kid, nlohmann::json({{"iss", issuer_}, {"aud", "aws"}}).dump());

    // Well within the 60 s refresh_interval (generous bound; the figure is measured by
    // scripts/measure-rotation, not here).
    ASSERT_TRUE(wait_until([&] { return get("/.well-known/jwks.json").body == rotated; }, 20s))
        << gateway_->log();
    const auto elapsed = std::chrono::steady_clock::now() - rotated_at;
    EXPECT_LT(elapsed, 20s);
    EXPECT_NE(gateway_->log().find("watch_change"), std::string::npos);

    // The relying party's view: discovery, jwks_uri, the token's kid, the signature.
    const auto discovery = nlohmann::json::parse(get("/.well-known/openid-configuration").body);
    const std::string jwks_uri = discovery.at("jwks_uri");
    const auto key_set = nlohmann::json::parse(get(jwks_uri.substr(issuer_.size())).body);
    bool verified = false;
    for (const auto& key : key_set.at("keys")) {
        if (key.at("kid") == next_kid) {
            verified = verify_rs256_jwt(token, key.at("n"), key.at("e")).has_value();
        }
    }
    EXPECT_TRUE(verified);
}

TEST_F(FreshnessE2E, AnUnchangedIndexMovePublishesNothing) {
    start_gateway_with(base_config({nomad_->base_url()}, "60s"));
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const HttpResponse before = get("/.well-known/jwks.json");
    // The index moves, the bytes do not: no refresh round, no new ETag or Last-Modified.
    for (int i = 0; i < 3; ++i) nomad_->set_document("/.well-known/jwks.json", jwks_);
    std::this_thread::sleep_for(1500ms);
    const HttpResponse after = get("/.well-known/jwks.json");
    EXPECT_EQ(after.header("etag"), before.header("etag"));
    EXPECT_EQ(after.header("last-modified"), before.header("last-modified"));
    EXPECT_EQ(log_count("watch_change"), 0u);
    EXPECT_EQ(log_count("documents_published"), 1u);
}

TEST_F(FreshnessE2E, WithoutAnIndexTheGatewayFallsBackToPolling) {
    FakeResponse plain;  // a non-Nomad upstream: no X-Nomad-Index
    plain.body = jwks_;
    nomad_->set_response("/.well-known/jwks.json", plain);
    start_gateway_with(base_config({nomad_->base_url()}, "1s"));
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ASSERT_TRUE(wait_until([&] { return log_count("watch_unsupported") == 1; }, 10s))
        << gateway_->log();
    EvpPkeyPtr next_key = generate_rsa_key();
    plain.body = jwks_with({nomad_rsa_jwk(next_key.get(), "polled-key")});
    nomad_->set_response("/.well-known/jwks.json", plain);
    EXPECT_TRUE(wait_until([&] { return get("/.well-known/jwks.json").body == plain.body; }, 10s));
}

TEST_F(FreshnessE2E, OneAnswerWithoutAnIndexDoesNotEndTheWatch) {
    start_gateway_with(base_config({nomad_->base_url()}, "60s"));
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const auto watch = [&] {
        return nlohmann::json::parse(health("/status").body)["issuers"][0].value(
            "watch", nlohmann::json::object());
    };
    // The watch's first query (index 0) returns at once; the next one blocks.
    ASSERT_TRUE(
        wait_until([&] { return nomad_->request_count("/.well-known/jwks.json") >= 2; }, 10s));
    std::this_thread::sleep_for(500ms);

    // One answer to the blocking query comes without X-Nomad-Index (a proxy dropped it, say).
    nomad_->strip_index_header("/.well-known/jwks.json", 1);
    nomad_->set_document("/.well-known/jwks.json", jwks_);
    ASSERT_TRUE(wait_until([&] { return log_count("watch_unsupported") == 1; }, 10s))
        << gateway_->log();

    // A rotation afterwards is still public long before the next poll (refresh_interval 60s):
    // the watch retried its blocking query.
    EvpPkeyPtr next_key = generate_rsa_key();
    const std::string rotated = jwks_with(
        {nomad_rsa_jwk(signing_key_.get(), kKid), nomad_rsa_jwk(next_key.get(), "after-gap")});
    nomad_->set_document("/.well-known/jwks.json", rotated);
    EXPECT_TRUE(wait_until([&] { return get("/.well-known/jwks.json").body == rotated; }, 25s))
        << gateway_->log();
    EXPECT_TRUE(wait_until([&] { return watch().value("state", "") == "watching"; }, 10s))
        << health("/status").body;
    const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
    ASSERT_TRUE(metrics.ok) << metrics.error;
    EXPECT_EQ(find_sample(metrics, "oidc_gateway_watch_state",
                          {{"issuer", issuer_}, {"state", "watching"}}),
              1.0);
    EXPECT_EQ(find_sample(metrics, "oidc_gateway_watch_state",
                          {{"issuer", issuer_}, {"state", "polling"}}),
              0.0);
    EXPECT_EQ(log_count("watch_unsupported"), 1u);
    EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log();
}

TEST_F(FreshnessE2E, UnchangedRoundsLeaveTheCacheRecordAlone) {
    nlohmann::json config = base_config({nomad_->base_url()}, "1s");
    config["watch"] = false;
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    std::string record;
    ASSERT_TRUE(wait_until(
        [&] {
            for (const auto& entry : std::filesystem::directory_iterator(cache_dir())) {
                if (entry.path().filename().string().starts_with("issuer-")) {
                    record = entry.path().string();
                }
            }
            return !record.empty();
        },
        10s));
    struct stat before {};
    ASSERT_EQ(::stat(record.c_str(), &before), 0);
    const auto confirmed = [&] {
        return nlohmann::json::parse(health("/status").body)["issuers"][0].value("confirmed_at",
                                                                                 "");
    };
    const std::string confirmed_before = confirmed();

    // Four or so rounds confirm the same bytes: none rewrites (or fsyncs) the record.
    std::this_thread::sleep_for(4500ms);
    struct stat after {};
    ASSERT_EQ(::stat(record.c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino) << "the record was replaced";
    EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    EXPECT_GT(confirmed(), confirmed_before);
    EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log();

    // The confirmation still survives a restart with the upstream gone.
    nomad_->stop();
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_GT(confirmed(), confirmed_before);
}

TEST_F(FreshnessE2E, WatchOffPollsEveryRefreshInterval) {
    nlohmann::json config = base_config({nomad_->base_url()}, "1s");
    config["watch"] = false;
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    std::this_thread::sleep_for(2500ms);
    // No blocking query was ever sent.
    EXPECT_EQ(nomad_->last_request_head("/.well-known/jwks.json").find("index="),
              std::string::npos);
    EXPECT_EQ(log_count("watch_"), 0u);
}

TEST_F(FreshnessE2E, ADeadFirstUpstreamIsBackedOffNotWaitedForEveryRound) {
    // The first upstream accepts and never answers: every request to it costs upstream_timeout.
    FakeNomad* dead = start_nomad(nomad_server_);
    dead->set_document("/.well-known/openid-configuration", nomad_discovery_document(issuer_));
    dead->set_fault("/.well-known/openid-configuration", Fault::Hang);
    nlohmann::json config = base_config({dead->base_url(), nomad_->base_url()}, "1s");
    config["watch"] = false;  // only the refresh rounds talk to the upstreams here
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready(10s)) << gateway_->log();
    const int dead_before = dead->request_count("/.well-known/openid-configuration");
    const int live_before = nomad_->request_count("/.well-known/openid-configuration");
    std::this_thread::sleep_for(6s);
    const int dead_requests =
        dead->request_count("/.well-known/openid-configuration") - dead_before;
    const int live_requests =
        nomad_->request_count("/.well-known/openid-configuration") - live_before;
    // About one round a second goes to the live upstream, none waits on the dead one.
    EXPECT_GE(live_requests, 4) << gateway_->log();
    EXPECT_EQ(dead_requests, 0);
    EXPECT_EQ(get("/.well-known/jwks.json").body, jwks_);
}

TEST_F(FreshnessE2E, StaleDocumentsTurnReadinessOffAndServeStaleDecidesTheRest) {
    for (const bool serve_stale : {true, false}) {
        SCOPED_TRACE(serve_stale ? "serve_stale true" : "serve_stale false");
        nlohmann::json config = base_config({nomad_->base_url()}, "1s");
        config["max_stale"] = "2s";
        config["serve_stale"] = serve_stale;
        start_gateway_with(config);
        ASSERT_TRUE(wait_ready()) << gateway_->log();
        // The upstream breaks: nothing confirms the documents any more.
        nomad_->set_response("/.well-known/openid-configuration",
                             FakeResponse{500, "No cluster leader", "text/plain", {}, false});
        ASSERT_TRUE(wait_until([&] { return health("/readyz").status == 503; }, 10s));
        EXPECT_NE(health("/readyz").body.find("stale: " + issuer_), std::string::npos);
        const HttpResponse document = get("/.well-known/jwks.json");
        if (serve_stale) {
            EXPECT_EQ(document.status, 200);
            EXPECT_EQ(document.body, jwks_);
        } else {
            EXPECT_EQ(document.status, 503);
            EXPECT_EQ(document.body.find("keys"), std::string::npos);
        }
        EXPECT_EQ(nlohmann::json::parse(health("/status").body)["issuers"][0]["stale"], true);
        // The upstream heals: fresh again, ready again.
        nomad_->set_document("/.well-known/openid-configuration",
                             nomad_discovery_document(issuer_));
        EXPECT_TRUE(wait_until([&] { return health("/readyz").status == 200; }, 10s));
        EXPECT_EQ(get("/.well-known/jwks.json").status, 200);
        EXPECT_EQ(gateway_->stop(SIGTERM), 0);
    }
}

}  // namespace
}  // namespace oidcgw::testing
