// End-to-end: the real oidc-gateway binary between a Nomad-shaped upstream (HTTPS, client
// certificate required) and clients speaking real TLS on loopback.
#include "gateway_fixture.h"

#include <openssl/ssl.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>

#include <thread>

namespace oidcgw::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(GatewayE2E, ServesBothDocumentsByteIdenticalWithEdgeHeaders) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    const HttpResponse discovery = get("/.well-known/openid-configuration");
    ASSERT_EQ(discovery.status, 200) << discovery.error;
    EXPECT_EQ(discovery.body, nomad_discovery_document(issuer_));
    const HttpResponse jwks = get("/.well-known/jwks.json");
    ASSERT_EQ(jwks.status, 200) << jwks.error;
    EXPECT_EQ(jwks.body, jwks_);

    for (const HttpResponse* response : {&discovery, &jwks}) {
        EXPECT_EQ(response->header("content-type"), "application/json");
        EXPECT_EQ(response->header("cache-control"), "public, max-age=300");
        EXPECT_EQ(response->header("content-length"), std::to_string(response->body.size()));
        EXPECT_EQ(response->header("x-content-type-options"), "nosniff");
        EXPECT_EQ(response->header("strict-transport-security"), "max-age=63072000");
        EXPECT_EQ(response->header("access-control-allow-origin"), "*");
        EXPECT_TRUE(response->has_header("last-modified"));
        EXPECT_TRUE(response->has_header("date"));
        const std::string etag = response->header("etag");
        ASSERT_GE(etag.size(), 3u);
        EXPECT_EQ(etag.front(), '"');  // strong
        // Nothing of the upstream's own head passes through.
        EXPECT_FALSE(response->has_header("x-nomad-index"));
        EXPECT_FALSE(response->has_header("x-nomad-knownleader"));
        EXPECT_FALSE(response->has_header("vary"));
        EXPECT_FALSE(response->has_header("server"));
    }
    // The gateway asked the upstream for identity encoding and coped with a chunked body.
    EXPECT_NE(nomad_->last_request_head("/.well-known/jwks.json").find("Accept-Encoding: identity"),
              std::string::npos);
}

TEST_F(GatewayE2E, HeadConditionalAndOptions) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const HttpResponse full = get("/.well-known/jwks.json");
    ASSERT_EQ(full.status, 200);

    HttpRequestOptions head;
    head.method = "HEAD";
    const HttpResponse head_response = get("/.well-known/jwks.json", head);
    EXPECT_EQ(head_response.status, 200);
    EXPECT_TRUE(head_response.body.empty());
    EXPECT_EQ(head_response.header("etag"), full.header("etag"));
    EXPECT_EQ(head_response.header("content-length"), full.header("content-length"));

    HttpRequestOptions conditional;
    conditional.headers = {"If-None-Match: " + full.header("etag")};
    const HttpResponse not_modified = get("/.well-known/jwks.json", conditional);
    EXPECT_EQ(not_modified.status, 304);
    EXPECT_TRUE(not_modified.body.empty());
    EXPECT_EQ(not_modified.header("etag"), full.header("etag"));

    conditional.headers = {"If-None-Match: \"something-else\""};
    EXPECT_EQ(get("/.well-known/jwks.json", conditional).status, 200);

    HttpRequestOptions options;
    options.method = "OPTIONS";
    const HttpResponse preflight = get("/.well-known/openid-configuration", options);
    EXPECT_EQ(preflight.status, 204);
    EXPECT_EQ(preflight.header("access-control-allow-origin"), "*");
    EXPECT_EQ(preflight.header("allow"), "GET, HEAD, OPTIONS");
}

TEST_F(GatewayE2E, OnlyAllowListedPathsAndHostsAnswer) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string discovery = nomad_discovery_document(issuer_);
    for (const char* path : {"/", "/v1/agent/self", "/.well-known/", "/.well-known/jwks.json/",
                             "//.well-known/jwks.json", "/.well-known/%6Awks.json",
                             "/.well-known/../.well-known/jwks.json", "/v1/.well-known/jwks.json",
                             "/.well-known/JWKS.json", "/v1/jobs"}) {
        const HttpResponse response = get(path);
        EXPECT_EQ(response.status, 404) << path;
        EXPECT_EQ(response.body, "Not Found\n") << path;
    }
    // The query string is ignored for routing.
    EXPECT_EQ(get("/.well-known/openid-configuration?x=1").body, discovery);

    // Another Host (or none that matches) gets nothing.
    const RawExchange wrong_host =
        raw("GET /.well-known/jwks.json HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    ASSERT_TRUE(wrong_host.connected) << wrong_host.handshake_error;
    EXPECT_EQ(wrong_host.received.rfind("HTTP/1.1 404 ", 0), 0u) << wrong_host.received;
    EXPECT_TRUE(wrong_host.closed_by_peer);

    // Port 443 may be omitted only when the issuer is on 443; here it is not.
    const RawExchange no_port =
        raw("GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.test\r\n\r\n");
    EXPECT_EQ(no_port.received.rfind("HTTP/1.1 404 ", 0), 0u) << no_port.received;
    // Host is case-insensitive.
    const RawExchange upper = raw("GET /.well-known/jwks.json HTTP/1.1\r\nHost: OIDC.TEST:" +
                                  std::to_string(public_port_) + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(upper.received.rfind("HTTP/1.1 200 ", 0), 0u) << upper.received;
    EXPECT_NE(upper.received.find(jwks_), std::string::npos);
}

TEST_F(GatewayE2E, MalformedRequestsGetSmallFixedErrorsAndTheConnectionEnds) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    struct Case {
        std::string request;
        std::string status_line;
    };
    const std::string host = "Host: " + host_header() + "\r\n";
    const std::vector<Case> cases = {
        {"POST /.well-known/jwks.json HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 405 "},
        {"DELETE /.well-known/openid-configuration HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 405 "},
        {"GET /.well-known/jwks.json HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET /.well-known/jwks.json HTTP/1.1\r\n" + host + host + "\r\n", "HTTP/1.1 400 "},
        {"GET https://oidc.test/.well-known/jwks.json HTTP/1.1\r\n" + host + "\r\n",
         "HTTP/1.1 400 "},
        {"GET /.well-known/jwks.json HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello",
         "HTTP/1.1 400 "},
        {"GET /.well-known/jwks.json HTTP/1.1\r\n" + host +
             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "HTTP/1.1 400 "},
        {"GET /.well-known/jwks.json HTTP/1.1\r\n" + host + " folded\r\n\r\n", "HTTP/1.1 400 "},
        {"GET /.well-known/jwks.json HTTP/1.1\r\n" + host + "X-Big: " + std::string(9000, 'a') +
             "\r\n\r\n",
         "HTTP/1.1 431 "},
        {"GET /.well-known/jwks.json HTTP/2.0\r\n" + host + "\r\n", "HTTP/1.1 505 "},
        {"GET /.well-known/jwks.json\r\n\r\n", "HTTP/1.1 400 "},
    };
    for (const Case& test : cases) {
        const RawExchange exchange = raw(test.request);
        ASSERT_TRUE(exchange.connected) << exchange.handshake_error;
        EXPECT_EQ(exchange.received.rfind(test.status_line, 0), 0u)
            << "request: " << test.request.substr(0, 80) << "\nreceived: " << exchange.received;
        EXPECT_TRUE(exchange.closed_by_peer) << test.request.substr(0, 80);
        EXPECT_FALSE(exchange.timed_out);
        EXPECT_LT(exchange.received.size(), 600u);  // small, fixed, never the request echoed
        EXPECT_EQ(exchange.received.find("aaaa"), std::string::npos);
        EXPECT_EQ(exchange.received.find("\"keys\""), std::string::npos);
    }
}

TEST_F(GatewayE2E, AnotherMethodWithABodyGets405AndTheBodyIsNeverRead) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string host = "Host: " + host_header() + "\r\n";
    // The body holds a whole GET: were it read as a request, a JWKS would come back.
    const std::string smuggled = "GET /.well-known/jwks.json HTTP/1.1\r\n" + host + "\r\n";
    struct Case {
        std::string request;
        std::string status_line;
    };
    const std::vector<Case> cases = {
        {"POST /.well-known/jwks.json HTTP/1.1\r\n" + host +
             "Content-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled,
         "HTTP/1.1 405 "},
        {"PUT /.well-known/openid-configuration HTTP/1.1\r\n" + host +
             "Transfer-Encoding: chunked\r\n\r\n" + smuggled,
         "HTTP/1.1 405 "},
        {"POST /.well-known/jwks.json HTTP/1.1\r\n" + host +
             "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
         "HTTP/1.1 405 "},
        {"POST /elsewhere HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello", "HTTP/1.1 404 "},
    };
    for (const Case& test : cases) {
        const RawExchange exchange = raw(test.request);
        ASSERT_TRUE(exchange.connected) << exchange.handshake_error;
        EXPECT_EQ(exchange.received.rfind(test.status_line, 0), 0u)
            << "request: " << test.request.substr(0, 80) << "\nreceived: " << exchange.received;
        if (test.status_line == "HTTP/1.1 405 ") {
            EXPECT_NE(exchange.received.find("Allow: GET, HEAD, OPTIONS\r\n"), std::string::npos)
                << exchange.received;
        }
        EXPECT_NE(exchange.received.find("Connection: close\r\n"), std::string::npos)
            << exchange.received;
        EXPECT_EQ(exchange.received.find("HTTP/1.1", 1), std::string::npos)  // one answer only
            << exchange.received;
        EXPECT_EQ(exchange.received.find("100 Continue"), std::string::npos);
        EXPECT_EQ(exchange.received.find("\"keys\""), std::string::npos);
        EXPECT_TRUE(exchange.closed_by_peer);
        EXPECT_FALSE(exchange.timed_out);
    }
}

TEST_F(GatewayE2E, KeepAliveAndPipelining) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string host = "Host: " + host_header() + "\r\n";
    const RawExchange exchange = raw("GET /.well-known/jwks.json HTTP/1.1\r\n" + host + "\r\n" +
                                     "HEAD /.well-known/openid-configuration HTTP/1.1\r\n" + host +
                                     "\r\n" + "GET /.well-known/openid-configuration HTTP/1.1\r\n" +
                                     host + "Connection: close\r\n\r\n");
    ASSERT_TRUE(exchange.connected);
    EXPECT_TRUE(exchange.closed_by_peer);
    std::size_t responses = 0;
    for (std::size_t at = exchange.received.find("HTTP/1.1 200 OK"); at != std::string::npos;
         at = exchange.received.find("HTTP/1.1 200 OK", at + 1)) {
        ++responses;
    }
    EXPECT_EQ(responses, 3u) << exchange.received;
    EXPECT_NE(exchange.received.find(jwks_), std::string::npos);
    EXPECT_NE(exchange.received.find(nomad_discovery_document(issuer_)), std::string::npos);

    // HTTP/1.0 closes unless asked to keep alive.
    const RawExchange http10 = raw("GET /.well-known/jwks.json HTTP/1.0\r\n" + host + "\r\n");
    EXPECT_EQ(http10.received.rfind("HTTP/1.1 200 OK", 0), 0u);
    EXPECT_TRUE(http10.closed_by_peer);
    EXPECT_FALSE(http10.timed_out);
}

TEST_F(GatewayE2E, AHalfSentRequestHeadDoesNotStallTheWorker) {
    workers_ = 1;  // every connection shares the one loop
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    // A client sends part of a head and then waits (as a slow or hostile client does).
    std::thread slow([&] {
        RawTlsOptions options;
        options.port = public_port_;
        options.sni = kPublicHost;
        options.deadline = 3s;
        raw_tls_exchange(options, "GET /.well-known/jw");
    });
    std::this_thread::sleep_for(300ms);
    for (int i = 0; i < 5; ++i) {
        HttpRequestOptions options;
        options.timeout = 2s;
        const HttpResponse response = get("/.well-known/jwks.json", options);
        EXPECT_EQ(response.status, 200) << response.error;
    }
    EXPECT_EQ(health("/healthz").status, 200);
    slow.join();
}

TEST_F(GatewayE2E, PlainHttpOnTheTlsPortGetsNoAnswer) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const RawExchange exchange =
        raw_tcp_exchange("127.0.0.1", public_port_,
                         "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.test\r\n\r\n");
    EXPECT_EQ(exchange.received.find("keys"), std::string::npos);
    EXPECT_EQ(exchange.received.find("HTTP/1.1 200"), std::string::npos);
    EXPECT_TRUE(exchange.closed_by_peer);
}

TEST_F(GatewayE2E, RelyingPartyVerifiesANomadSignedTokenThroughTheGateway) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string token = sign_rs256_jwt(
        signing_key_.get(), kKid,
        nlohmann::json({{"iss", issuer_}, {"aud", "aws"}, {"sub", "global:default:web:web:web"}})
            .dump());

    // What AWS STS does: discovery, then jwks_uri from it, then the key named by the token's kid.
    const HttpResponse discovery = get("/.well-known/openid-configuration");
    ASSERT_EQ(discovery.status, 200);
    const auto configuration = nlohmann::json::parse(discovery.body);
    ASSERT_EQ(configuration.at("issuer"), issuer_);
    const std::string jwks_uri = configuration.at("jwks_uri");
    ASSERT_EQ(jwks_uri.rfind(issuer_, 0), 0u);
    const HttpResponse jwks = get(jwks_uri.substr(issuer_.size()));
    ASSERT_EQ(jwks.status, 200);
    const auto key_set = nlohmann::json::parse(jwks.body);
    const nlohmann::json* key = nullptr;
    for (const auto& candidate : key_set.at("keys")) {
        if (candidate.at("kid") == kKid) key = &candidate;
    }
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(key->at("alg"), "RS256");
    const auto payload = verify_rs256_jwt(token, key->at("n"), key->at("e"));
    ASSERT_TRUE(payload.has_value());
    EXPECT_EQ(nlohmann::json::parse(*payload).at("iss"), issuer_);

    // A token signed by another key does not verify against the published one.
    EvpPkeyPtr other = generate_rsa_key();
    const std::string forged = sign_rs256_jwt(other.get(), kKid, "{\"iss\":\"x\"}");
    EXPECT_FALSE(verify_rs256_jwt(forged, key->at("n"), key->at("e")).has_value());
}

TEST_F(GatewayE2E, NotReadyAnswers503NeverAnEmptyDocument) {
    // The only upstream refuses connections (nothing listens there).
    const std::string dead = "https://127.0.0.1:" + std::to_string(free_loopback_port());
    start_gateway({dead});
    ASSERT_TRUE(wait_until([&] { return health("/healthz").status == 200; }, 15s))
        << gateway_->log();
    const HttpResponse ready = health("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find(issuer_), std::string::npos) << ready.body;
    const HttpResponse discovery = get("/.well-known/openid-configuration");
    EXPECT_EQ(discovery.status, 503);
    EXPECT_EQ(discovery.body.find("{"), std::string::npos);
    EXPECT_EQ(get("/.well-known/jwks.json").status, 503);
    EXPECT_EQ(get("/elsewhere").status, 404);
}

TEST_F(GatewayE2E, FailsOverToTheNextUpstream) {
    const std::string dead = "https://127.0.0.1:" + std::to_string(free_loopback_port());
    start_gateway({dead, nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(get("/.well-known/jwks.json").body, jwks_);
    EXPECT_NE(gateway_->log().find("upstream_fetch_failed"), std::string::npos);
}

TEST_F(GatewayE2E, BadUpstreamDocumentKeepsTheLastGoodOne) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const HttpResponse before = get("/.well-known/jwks.json");
    ASSERT_EQ(before.body, jwks_);

    // One key among good ones now leaks a private member: the whole set must be refused.
    auto leaked = nlohmann::json::parse(jwks_);
    auto extra = leaked["keys"][0];
    extra["kid"] = "b91d7a64-25ce-4f03-8a7e-5e6d30c9f281";
    extra["d"] = "c2VjcmV0";
    leaked["keys"].push_back(extra);
    nomad_->set_document("/.well-known/jwks.json", leaked.dump());
    ASSERT_TRUE(wait_until(
        [&] { return gateway_->log().find("private_key_material") != std::string::npos; }, 15s))
        << gateway_->log();
    const HttpResponse during = get("/.well-known/jwks.json");
    EXPECT_EQ(during.body, jwks_);
    EXPECT_EQ(during.header("etag"), before.header("etag"));
    EXPECT_EQ(during.body.find("\"d\""), std::string::npos);
    EXPECT_EQ(health("/readyz").status, 200);

    // Invalid JSON and an upstream error are refused the same way.
    nomad_->set_document("/.well-known/jwks.json", "<html>oops</html>");
    ASSERT_TRUE(
        wait_until([&] { return gateway_->log().find("invalid_json") != std::string::npos; }, 15s));
    EXPECT_EQ(get("/.well-known/jwks.json").body, jwks_);

    // A good rotation is picked up.
    EvpPkeyPtr next_key = generate_rsa_key();
    const std::string rotated =
        jwks_with({nomad_rsa_jwk(signing_key_.get(), kKid),
                   nomad_rsa_jwk(next_key.get(), "f0e1d2c3-0000-4000-8000-000000000001")});
    nomad_->set_document("/.well-known/jwks.json", rotated);
    ASSERT_TRUE(wait_until([&] { return get("/.well-known/jwks.json").body == rotated; }, 15s));
    EXPECT_NE(get("/.well-known/jwks.json").header("etag"), before.header("etag"));
}

TEST_F(GatewayE2E, RestartsFromTheDiskCacheWhileTheUpstreamIsDown) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const HttpResponse first = get("/.well-known/jwks.json");
    ASSERT_EQ(first.status, 200);
    EXPECT_EQ(gateway_->stop(SIGTERM), 0);

    nomad_->stop();
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const HttpResponse again = get("/.well-known/jwks.json");
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, jwks_);
    EXPECT_EQ(again.header("etag"), first.header("etag"));
    EXPECT_EQ(again.header("last-modified"), first.header("last-modified"));
    EXPECT_EQ(get("/.well-known/openid-configuration").body, nomad_discovery_document(issuer_));
    EXPECT_NE(gateway_->log().find("cache_loaded"), std::string::npos);
}

TEST_F(GatewayE2E, CorruptCacheIsIgnoredNotServed) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(gateway_->stop(SIGTERM), 0);
    nomad_->stop();
    // Damage every cache record.
    for (const auto& entry : std::filesystem::directory_iterator(cache_dir())) {
        std::string content = read_file(entry.path());
        content.resize(content.size() / 2);
        write_file(entry.path(), content);
    }
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_until([&] { return health("/healthz").status == 200; }, 15s));
    EXPECT_EQ(health("/readyz").status, 503);
    EXPECT_EQ(get("/.well-known/jwks.json").status, 503);
    EXPECT_NE(gateway_->log().find("cache_ignored"), std::string::npos);
}

TEST_F(GatewayE2E, RefusesAnUpstreamCertificateFromAnotherCa) {
    TestPki impostor_pki(dir_.path(), "impostor");
    const IssuedFiles impostor_certificate =
        impostor_pki.issue({.common_name = "server.global.nomad",
                            .dns_names = {"server.global.nomad"},
                            .ip_addresses = {"127.0.0.1"}});
    FakeNomad* impostor = start_nomad(impostor_certificate);
    impostor->set_document("/.well-known/openid-configuration", nomad_discovery_document(issuer_));
    impostor->set_document("/.well-known/jwks.json", jwks_);
    start_gateway({impostor->base_url()});
    ASSERT_TRUE(wait_until(
        [&] { return gateway_->log().find("upstream_fetch_failed") != std::string::npos; }, 15s))
        << gateway_->log();
    EXPECT_NE(gateway_->log().find("\"reason\":\"tls\""), std::string::npos) << gateway_->log();
    EXPECT_EQ(health("/readyz").status, 503);
    EXPECT_EQ(get("/.well-known/jwks.json").status, 503);
}

TEST_F(GatewayE2E, StopsGracefullyOnSigterm) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(gateway_->stop(SIGTERM), 0);
    EXPECT_NE(gateway_->log().find("\"event\":\"stopped\""), std::string::npos);
}

TEST_F(GatewayE2E, CheckCommandAcceptsAValidConfigAndNamesTheBadKey) {
    const std::string good = write_config({nomad_->base_url()});
    const CommandOutput valid = run_gateway_command({"check", "--config", good});
    EXPECT_EQ(valid.exit_status, 0) << valid.output;
    EXPECT_NE(valid.output.find("is valid"), std::string::npos);

    auto config = nlohmann::json::parse(read_file(good));
    config["issuers"][0]["upstream_tls"]["cafile"] = "/x";
    write_file(dir_.file("bad.json"), config.dump());
    const CommandOutput invalid = run_gateway_command({"check", "-c", dir_.file("bad.json")});
    EXPECT_NE(invalid.exit_status, 0);
    EXPECT_NE(invalid.output.find("issuers[0].upstream_tls.cafile"), std::string::npos)
        << invalid.output;

    // serve refuses to start on the same config.
    const CommandOutput serve = run_gateway_command({"serve", "-c", dir_.file("bad.json")});
    EXPECT_NE(serve.exit_status, 0);
}

}  // namespace
}  // namespace oidcgw::testing
