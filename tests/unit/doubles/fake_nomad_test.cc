// Proves the fake Nomad does what other tests rely on: Nomad's discovery document byte for byte,
// and an agent that answers like Nomad over mutual TLS to libcurl (fake_nomad_raw_test.cc: the raw
// TLS client and plain HTTP). The test PKI and the JWT tools have their own tests
// (test_pki_test.cc, jwt_tools_test.cc).
#include "fake_nomad.h"
#include "fake_nomad_fetch.h"
#include "test_pki.h"
#include "tls_test_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef OIDCGW_FIXTURES_DIR
#define OIDCGW_FIXTURES_DIR "/work/shared/fixtures"
#endif

namespace oidcgw::testing {
namespace {

TEST(NomadDiscoveryDocumentTest, ReproducesTheFixtureByteForByte) {
    std::string fixture =
        read_file(std::string(OIDCGW_FIXTURES_DIR) + "/openid-configuration.json");
    std::string issuer = nlohmann::json::parse(fixture).at("issuer").get<std::string>();
    EXPECT_EQ(nomad_discovery_document(issuer), fixture);
}

TEST(NomadDiscoveryDocumentTest, KeepsTheIssuerVerbatimAndJoinsTheJwksUri) {
    auto jwks_uri = [](const std::string& issuer) {
        return nlohmann::json::parse(nomad_discovery_document(issuer)).at("jwks_uri");
    };
    EXPECT_EQ(jwks_uri("https://oidc.example.com/"),
              "https://oidc.example.com/.well-known/jwks.json");
    EXPECT_EQ(jwks_uri("https://example.com/nomad"),
              "https://example.com/nomad/.well-known/jwks.json");
    EXPECT_EQ(
        nlohmann::json::parse(nomad_discovery_document("https://oidc.example.com/")).at("issuer"),
        "https://oidc.example.com/");
    // Go's encoder escapes HTML-sensitive characters.
    EXPECT_NE(
        nomad_discovery_document("https://a.example/x&y").find(R"("https://a.example/x\u0026y")"),
        std::string::npos);
}

// A Nomad agent with `tls { http = true, verify_https_client = true }`.
class FakeNomadMutualTlsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        server_ = pki_.issue({.common_name = kServerName,
                              .dns_names = {kServerName, "localhost"},
                              .ip_addresses = {"127.0.0.1"}});
        client_ = pki_.issue({.common_name = "gateway", .client = true});
        nomad_ = std::make_unique<FakeNomad>(FakeNomadOptions{
            .certificate_file = server_.certificate,
            .private_key_file = server_.private_key,
            .client_ca_file = pki_.ca_file(),
        });
        nomad_->start();
        jwks_ = read_file(std::string(OIDCGW_FIXTURES_DIR) + "/jwks.json");
        nomad_->set_document(kJwks, jwks_);
        nomad_->set_document(kDiscovery, nomad_discovery_document("https://oidc.example.com"));
    }

    FetchOptions with_client_certificate(const std::string& path) const {
        std::string port = std::to_string(nomad_->port());
        return FetchOptions{.url = "https://" + std::string(kServerName) + ":" + port + path,
                            .resolve = std::string(kServerName) + ":" + port + ":127.0.0.1",
                            .ca_file = pki_.ca_file(),
                            .certificate_file = client_.certificate,
                            .private_key_file = client_.private_key};
    }

    TempDir directory_;
    TestPki pki_{directory_.path(), "nomad"};
    IssuedFiles server_;
    IssuedFiles client_;
    std::unique_ptr<FakeNomad> nomad_;
    std::string jwks_;
    CurlPtr curl_{curl_easy_init()};
};

TEST_F(FakeNomadMutualTlsTest, ServesTheJwksWithNomadHeaders) {
    HttpResult result = fetch(curl_.get(), with_client_certificate(kJwks));
    ASSERT_EQ(result.code, CURLE_OK) << curl_easy_strerror(result.code);
    EXPECT_EQ(result.status, 200);
    EXPECT_EQ(result.body, jwks_);
    EXPECT_EQ(result.header("Content-Type"), "application/json");
    EXPECT_EQ(result.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(result.header("Cache-Control"), "max-age=86400");
    EXPECT_EQ(result.header("X-Nomad-Index"), "1");
    EXPECT_EQ(result.header("X-Nomad-Knownleader"), "true");
    EXPECT_EQ(result.header("X-Nomad-Lastcontact"), "0");
    EXPECT_EQ(result.header("Content-Length"), std::to_string(jwks_.size()));
    EXPECT_EQ(result.header("Transfer-Encoding"), std::nullopt);
    EXPECT_EQ(result.header("Content-Encoding"), std::nullopt);
    EXPECT_EQ(nomad_->request_count(kJwks), 1);

    // A changed document moves the index; the query does not change which path is counted.
    nomad_->set_document(kJwks, jwks_ + " ");
    FetchOptions blocking = with_client_certificate(std::string(kJwks) + "?index=1&wait=1s");
    HttpResult second = fetch(curl_.get(), blocking);
    ASSERT_EQ(second.code, CURLE_OK);
    EXPECT_EQ(second.header("X-Nomad-Index"), "2");
    EXPECT_EQ(second.body, jwks_ + " ");
    EXPECT_EQ(second.new_connections, 0) << "keep-alive connection was not reused";
    EXPECT_EQ(nomad_->request_count(kJwks), 2);
    EXPECT_EQ(nomad_->last_request_head(kJwks).rfind(
                  "GET /.well-known/jwks.json?index=1&wait=1s HTTP/1.1\r\n", 0),
              0u);
}

TEST_F(FakeNomadMutualTlsTest, ServesDiscoveryWithoutJwksHeadersAndByIpAddress) {
    FetchOptions by_address = with_client_certificate(kDiscovery);
    by_address.url = "https://127.0.0.1:" + std::to_string(nomad_->port()) + kDiscovery;
    by_address.resolve.clear();
    HttpResult result = fetch(curl_.get(), by_address);
    ASSERT_EQ(result.code, CURLE_OK) << curl_easy_strerror(result.code);
    EXPECT_EQ(result.status, 200);
    EXPECT_EQ(result.body, nomad_discovery_document("https://oidc.example.com"));
    EXPECT_EQ(result.header("Vary"), "Accept-Encoding");
    EXPECT_EQ(result.header("X-Nomad-Index"), std::nullopt);
    EXPECT_EQ(result.header("Cache-Control"), std::nullopt);
}

TEST_F(FakeNomadMutualTlsTest, RefusesClientsWithoutAnAcceptableCertificate) {
    FetchOptions anonymous = with_client_certificate(kJwks);
    anonymous.certificate_file.clear();
    anonymous.private_key_file.clear();
    HttpResult result = fetch(curl_.get(), anonymous);
    EXPECT_NE(result.code, CURLE_OK);
    EXPECT_NE(result.body, jwks_);

    TestPki stranger(directory_.path(), "stranger");
    IssuedFiles foreign = stranger.issue({.common_name = "intruder", .client = true});
    FetchOptions foreign_client = with_client_certificate(kJwks);
    foreign_client.certificate_file = foreign.certificate;
    foreign_client.private_key_file = foreign.private_key;
    CurlPtr fresh(curl_easy_init());
    EXPECT_NE(fetch(fresh.get(), foreign_client).code, CURLE_OK);
    EXPECT_EQ(nomad_->request_count(kJwks), 0);

    // And the server's certificate is checked by name: a client expecting another one fails.
    FetchOptions wrong_name = with_client_certificate(kJwks);
    std::string port = std::to_string(nomad_->port());
    wrong_name.url = "https://other.global.nomad:" + port + kJwks;
    wrong_name.resolve = "other.global.nomad:" + port + ":127.0.0.1";
    CurlPtr third(curl_easy_init());
    EXPECT_EQ(fetch(third.get(), wrong_name).code, CURLE_PEER_FAILED_VERIFICATION);
}

TEST_F(FakeNomadMutualTlsTest, CompressesOnlyWhenAsked) {
    HttpResult plain = fetch(curl_.get(), with_client_certificate(kJwks));
    ASSERT_EQ(plain.code, CURLE_OK);
    EXPECT_EQ(plain.header("Content-Encoding"), std::nullopt);
    EXPECT_EQ(plain.body, jwks_);

    for (const char* refusal : {"Accept-Encoding: identity", "Accept-Encoding: gzip;q=0",
                                "Accept-Encoding: br, deflate"}) {
        FetchOptions options = with_client_certificate(kJwks);
        options.request_headers = {refusal};
        HttpResult result = fetch(curl_.get(), options);
        ASSERT_EQ(result.code, CURLE_OK);
        EXPECT_EQ(result.header("Content-Encoding"), std::nullopt) << refusal;
        EXPECT_EQ(result.body, jwks_) << refusal;
    }

    FetchOptions asking = with_client_certificate(kJwks);
    asking.request_headers = {"Accept-Encoding: deflate, GZIP;q=0.5"};
    HttpResult compressed = fetch(curl_.get(), asking);  // curl does not decode: raw bytes
    ASSERT_EQ(compressed.code, CURLE_OK);
    EXPECT_EQ(compressed.header("Content-Encoding"), "gzip");
    EXPECT_NE(compressed.body, jwks_);
    EXPECT_EQ(gunzip(compressed.body), jwks_);
    EXPECT_EQ(compressed.header("Content-Length"), std::to_string(compressed.body.size()));

    // A misbehaving upstream compresses regardless.
    FakeResponse forced;
    forced.body = jwks_;
    forced.gzip_body = true;
    nomad_->set_response(kJwks, forced);
    HttpResult unasked = fetch(curl_.get(), with_client_certificate(kJwks));
    ASSERT_EQ(unasked.code, CURLE_OK);
    EXPECT_EQ(unasked.header("Content-Encoding"), "gzip");
    EXPECT_EQ(gunzip(unasked.body), jwks_);
}

TEST_F(FakeNomadMutualTlsTest, SendsLargeBodiesChunked) {
    std::string large = big_document(5000);
    nomad_->set_document(kJwks, large);
    HttpResult result = fetch(curl_.get(), with_client_certificate(kJwks));
    ASSERT_EQ(result.code, CURLE_OK);
    EXPECT_EQ(result.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(result.header("Content-Length"), std::nullopt);
    EXPECT_EQ(result.body, large);

    // Gzip shrinks it below the threshold: then it goes out with a length.
    FetchOptions asking = with_client_certificate(kJwks);
    asking.request_headers = {"Accept-Encoding: gzip"};
    HttpResult compressed = fetch(curl_.get(), asking);
    ASSERT_EQ(compressed.code, CURLE_OK);
    EXPECT_EQ(compressed.header("Transfer-Encoding"), std::nullopt);
    EXPECT_EQ(gunzip(compressed.body), large);
}

TEST_F(FakeNomadMutualTlsTest, AnswersOtherMethodsAndPathsLikeNomad) {
    FetchOptions head = with_client_certificate(kJwks);
    head.method = "HEAD";
    HttpResult head_result = fetch(curl_.get(), head);
    ASSERT_EQ(head_result.code, CURLE_OK) << curl_easy_strerror(head_result.code);
    EXPECT_EQ(head_result.status, 405);
    EXPECT_EQ(head_result.body, "");

    FetchOptions post = with_client_certificate(kDiscovery);
    post.method = "POST";
    HttpResult post_result = fetch(curl_.get(), post);
    ASSERT_EQ(post_result.code, CURLE_OK);
    EXPECT_EQ(post_result.status, 405);
    EXPECT_EQ(post_result.body, "Invalid method");
    EXPECT_EQ(post_result.header("Content-Type"), "text/plain; charset=utf-8");

    // The same connection still works after a request with a body.
    HttpResult after = fetch(curl_.get(), with_client_certificate(kDiscovery));
    EXPECT_EQ(after.status, 200);
    EXPECT_EQ(after.new_connections, 0);

    HttpResult unknown = fetch(curl_.get(), with_client_certificate("/v1/jobs"));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.header("Content-Type"), "text/plain; charset=utf-8");

    nomad_->remove(kDiscovery);
    HttpResult removed = fetch(curl_.get(), with_client_certificate(kDiscovery));
    EXPECT_EQ(removed.status, 404);
    EXPECT_EQ(removed.body, "OIDC Discovery endpoint disabled");
    EXPECT_EQ(nomad_->request_count(kDiscovery), 3);
    EXPECT_EQ(nomad_->request_count(kJwks), 1);
}

TEST_F(FakeNomadMutualTlsTest, ServesCustomResponses) {
    FakeResponse no_leader;
    no_leader.status = 500;
    no_leader.body = "No cluster leader";
    no_leader.content_type = "text/plain; charset=utf-8";
    no_leader.extra_headers = {{"X-Nomad-Knownleader", "false"}};
    nomad_->set_response(kJwks, no_leader);
    HttpResult result = fetch(curl_.get(), with_client_certificate(kJwks));
    ASSERT_EQ(result.code, CURLE_OK);
    EXPECT_EQ(result.status, 500);
    EXPECT_EQ(result.body, "No cluster leader");
    EXPECT_EQ(result.header("X-Nomad-Knownleader"), "false");
}

TEST_F(FakeNomadMutualTlsTest, RawTlsClientWithoutCertificateIsRefused) {
    // TLS 1.2 fails in the handshake itself; TLS 1.3 completes it and the server then aborts.
    RawExchange tls12 = raw_tls_exchange({.port = nomad_->port(),
                                          .sni = kServerName,
                                          .ca_file = pki_.ca_file(),
                                          .deadline = std::chrono::milliseconds(3000),
                                          .tls_max_version = TLS1_2_VERSION},
                                         "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_FALSE(tls12.connected);
    EXPECT_FALSE(tls12.handshake_error.empty());
    EXPECT_FALSE(tls12.timed_out);

    RawExchange tls13 = raw_tls_exchange({.port = nomad_->port(),
                                          .sni = kServerName,
                                          .ca_file = pki_.ca_file(),
                                          .deadline = std::chrono::milliseconds(3000)},
                                         "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(tls13.received, "");
    EXPECT_TRUE(tls13.closed_by_peer || !tls13.connected);
    EXPECT_FALSE(tls13.timed_out);
    EXPECT_EQ(nomad_->request_count(kJwks), 0);
}

}  // namespace
}  // namespace oidcgw::testing
