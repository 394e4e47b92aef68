// Proves the fake Nomad does what other tests rely on: Nomad's discovery document byte for byte,
// and an agent that answers like Nomad over (mutual) TLS and plain HTTP, to libcurl and to the raw
// TLS test client. The test PKI and the JWT tools have their own tests (test_pki_test.cc,
// jwt_tools_test.cc).
#include "fake_nomad.h"
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

// --- fake_nomad, fetched the way the gateway's upstream client does it: with libcurl ---

struct HttpResult {
    CURLcode code = CURLE_OK;
    long status = 0;
    long new_connections = 0;
    std::string body;
    std::vector<std::string> header_lines;

    std::optional<std::string> header(const std::string& name) const {
        for (const auto& line : header_lines) {
            if (line.size() > name.size() && line[name.size()] == ':' &&
                strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
                std::string value = line.substr(name.size() + 1);
                value.erase(0, value.find_first_not_of(' '));
                value.erase(value.find_last_not_of("\r\n ") + 1);
                return value;
            }
        }
        return std::nullopt;
    }
};

struct FetchOptions {
    std::string url;
    std::string resolve{};  // "host:port:address"
    std::string ca_file{};
    std::string certificate_file{};
    std::string private_key_file{};
    std::vector<std::string> request_headers{};
    std::string method = "GET";
};

std::size_t collect_bytes(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::vector<std::string>*>(target)->emplace_back(data, size * count);
    return size * count;
}

// One transfer on `handle` (reused across calls so keep-alive can be observed).
HttpResult fetch(CURL* handle, const FetchOptions& options) {
    HttpResult result;
    curl_easy_setopt(handle, CURLOPT_URL, options.url.c_str());
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_bytes);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &result.header_lines);
    CurlSlistPtr resolve;
    if (!options.resolve.empty()) {
        resolve.reset(curl_slist_append(nullptr, options.resolve.c_str()));
    }
    curl_easy_setopt(handle, CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(handle, CURLOPT_CAINFO,
                     options.ca_file.empty() ? nullptr : options.ca_file.c_str());
    curl_easy_setopt(handle, CURLOPT_SSLCERT,
                     options.certificate_file.empty() ? nullptr : options.certificate_file.c_str());
    curl_easy_setopt(handle, CURLOPT_SSLKEY,
                     options.private_key_file.empty() ? nullptr : options.private_key_file.c_str());
    CurlSlistPtr headers;
    for (const auto& header : options.request_headers) {
        headers.reset(curl_slist_append(headers.release(), header.c_str()));
    }
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_NOBODY, options.method == "HEAD" ? 1L : 0L);
    if (options.method == "POST") {
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, "x=1");
    } else if (options.method == "GET") {
        curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    }
    result.code = curl_easy_perform(handle);
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &result.status);
    curl_easy_getinfo(handle, CURLINFO_NUM_CONNECTS, &result.new_connections);
    // The lists die with this call: make sure the handle no longer points at them.
    curl_easy_setopt(handle, CURLOPT_RESOLVE, nullptr);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
    return result;
}

std::optional<std::string> gunzip(const std::string& compressed) {
    z_stream stream{};
    if (inflateInit2(&stream, 15 + 16) != Z_OK) return std::nullopt;
    std::string output;
    char buffer[4096];
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    stream.avail_in = static_cast<uInt>(compressed.size());
    int status = Z_OK;
    while (status == Z_OK) {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof buffer;
        status = inflate(&stream, Z_NO_FLUSH);
        output.append(buffer, sizeof buffer - stream.avail_out);
    }
    inflateEnd(&stream);
    if (status != Z_STREAM_END) return std::nullopt;
    return output;
}

// Waits (bounded) until `condition` holds.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
}

std::string big_document(std::size_t size) {
    std::string body = R"({"keys":[],"padding":")";
    while (body.size() + 2 < size) body += static_cast<char>('a' + body.size() % 26);
    return body + "\"}";
}

constexpr char kServerName[] = "server.global.nomad";
constexpr char kJwks[] = "/.well-known/jwks.json";
constexpr char kDiscovery[] = "/.well-known/openid-configuration";

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

// TLS without client certificates, for the raw client (which presents none).
class FakeNomadTlsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        server_ = pki_.issue({.common_name = kServerName,
                              .dns_names = {kServerName},
                              .ip_addresses = {"127.0.0.1"}});
        nomad_ = std::make_unique<FakeNomad>(FakeNomadOptions{
            .certificate_file = server_.certificate,
            .private_key_file = server_.private_key,
        });
        nomad_->start();
        nomad_->set_document(kJwks, R"({"keys":[]})");
    }

    RawTlsOptions raw_options() const {
        return {.port = nomad_->port(), .sni = kServerName, .ca_file = pki_.ca_file()};
    }

    TempDir directory_;
    TestPki pki_{directory_.path(), "nomad"};
    IssuedFiles server_;
    std::unique_ptr<FakeNomad> nomad_;
};

constexpr char kJwksRequestClose[] =
    "GET /.well-known/jwks.json HTTP/1.1\r\nHost: nomad\r\nConnection: close\r\n\r\n";

TEST_F(FakeNomadTlsTest, RawTlsExchangeGetsTheResponse) {
    EXPECT_EQ(nomad_->base_url(), "https://127.0.0.1:" + std::to_string(nomad_->port()));
    RawExchange exchange = raw_tls_exchange(raw_options(), kJwksRequestClose);
    ASSERT_TRUE(exchange.connected) << exchange.handshake_error;
    EXPECT_EQ(exchange.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << exchange.received;
    EXPECT_NE(exchange.received.find("\r\nConnection: close\r\n"), std::string::npos);
    EXPECT_EQ(exchange.received.substr(exchange.received.size() - 11), R"({"keys":[]})");
    EXPECT_TRUE(exchange.closed_by_peer);
    EXPECT_FALSE(exchange.timed_out);
    EXPECT_EQ(nomad_->last_request_head(kJwks), kJwksRequestClose);

    RawTlsOptions tls12 = raw_options();
    tls12.tls_max_version = TLS1_2_VERSION;
    RawExchange old_version = raw_tls_exchange(tls12, kJwksRequestClose);
    ASSERT_TRUE(old_version.connected) << old_version.handshake_error;
    EXPECT_EQ(old_version.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);

    RawTlsOptions by_address = raw_options();
    by_address.sni.clear();  // then the IP SAN is what gets verified
    EXPECT_TRUE(raw_tls_exchange(by_address, kJwksRequestClose).connected);
}

TEST_F(FakeNomadTlsTest, RawTlsExchangeVerifiesTheServer) {
    RawTlsOptions wrong_name = raw_options();
    wrong_name.sni = "other.global.nomad";
    RawExchange refused = raw_tls_exchange(wrong_name, kJwksRequestClose);
    EXPECT_FALSE(refused.connected);
    EXPECT_NE(refused.handshake_error.find("verify"), std::string::npos) << refused.handshake_error;

    TestPki stranger(directory_.path(), "stranger");
    RawTlsOptions wrong_ca = raw_options();
    wrong_ca.ca_file = stranger.ca_file();
    EXPECT_FALSE(raw_tls_exchange(wrong_ca, kJwksRequestClose).connected);

    RawTlsOptions unverified = raw_options();
    unverified.ca_file.clear();
    unverified.sni = "anything.example";
    EXPECT_TRUE(raw_tls_exchange(unverified, kJwksRequestClose).connected);
}

TEST_F(FakeNomadTlsTest, RefusesTlsBelowOnePointTwoLikeNomad) {
    RawTlsOptions old = raw_options();
    old.tls_max_version = TLS1_1_VERSION;
    RawExchange exchange = raw_tls_exchange(old, kJwksRequestClose);
    EXPECT_FALSE(exchange.connected);
    // The refusal is the server's alert, not the client declining to offer TLS 1.1.
    EXPECT_NE(exchange.handshake_error.find("protocol version"), std::string::npos)
        << exchange.handshake_error;
}

TEST_F(FakeNomadTlsTest, PlainHttpOnTheTlsPortGetsNoResponse) {
    RawExchange exchange = raw_tcp_exchange("127.0.0.1", nomad_->port(), kJwksRequestClose,
                                            std::chrono::milliseconds(3000));
    EXPECT_TRUE(exchange.connected);
    EXPECT_EQ(exchange.received.find("HTTP/1.1 200"), std::string::npos);
    EXPECT_TRUE(exchange.closed_by_peer);
    EXPECT_EQ(nomad_->request_count(kJwks), 0);
}

TEST_F(FakeNomadTlsTest, RawTlsExchangeTimesOutOnAHangingServer) {
    nomad_->set_fault(kJwks, Fault::Hang);
    RawTlsOptions options = raw_options();
    options.deadline = std::chrono::milliseconds(300);
    auto started = std::chrono::steady_clock::now();
    RawExchange exchange = raw_tls_exchange(options, kJwksRequestClose);
    auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(exchange.connected);
    EXPECT_TRUE(exchange.timed_out);
    EXPECT_FALSE(exchange.closed_by_peer);
    EXPECT_EQ(exchange.received, "");
    EXPECT_GE(elapsed, std::chrono::milliseconds(290));
    EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
}

TEST_F(FakeNomadTlsTest, StopUnblocksHungAndIdleConnectionsQuickly) {
    nomad_->set_fault(kJwks, Fault::Hang);
    // One connection that never even starts TLS, one whose request hangs.
    int idle = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(idle, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(nomad_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(idle, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);

    RawExchange hung;
    RawTlsOptions options = raw_options();
    options.deadline = std::chrono::milliseconds(5000);
    std::thread client([&] { hung = raw_tls_exchange(options, kJwksRequestClose); });
    bool reached = eventually([&] { return nomad_->request_count(kJwks) == 1; });

    auto started = std::chrono::steady_clock::now();
    nomad_->stop();
    auto elapsed = std::chrono::steady_clock::now() - started;
    client.join();
    ::close(idle);
    ASSERT_TRUE(reached);
    EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
    EXPECT_TRUE(hung.closed_by_peer);
    EXPECT_FALSE(hung.timed_out);
    nomad_->stop();  // idempotent
}

// Plain HTTP, a tiny chunk threshold, and the faults a gateway must survive.
class FakeNomadPlainTest : public ::testing::Test {
  protected:
    void SetUp() override {
        nomad_.start();
        nomad_.set_document(kJwks, R"({"keys":["abcdefghijklmnopqrstuvwxyz"]})");
    }

    HttpResult get(const std::string& path) {
        return fetch(curl_.get(), {.url = nomad_.base_url() + path});
    }

    RawExchange raw_get(const std::string& path, std::chrono::milliseconds deadline) {
        return raw_tcp_exchange("127.0.0.1", nomad_.port(),
                                "GET " + path + " HTTP/1.1\r\nHost: n\r\nConnection: close\r\n\r\n",
                                deadline);
    }

    FakeNomad nomad_{FakeNomadOptions{.tls = false, .chunked_above = 16}};
    CurlPtr curl_{curl_easy_init()};
};

TEST_F(FakeNomadPlainTest, ChunksSplitTheBody) {
    EXPECT_EQ(nomad_.base_url(), "http://127.0.0.1:" + std::to_string(nomad_.port()));
    RawExchange exchange = raw_get(kJwks, std::chrono::milliseconds(3000));
    ASSERT_TRUE(exchange.closed_by_peer);
    std::size_t body_start = exchange.received.find("\r\n\r\n");
    ASSERT_NE(body_start, std::string::npos);
    std::string head = exchange.received.substr(0, body_start + 4);
    EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Length"), std::string::npos);

    // Decode by hand: at least two data chunks, then the terminator.
    std::string rest = exchange.received.substr(body_start + 4);
    std::string body;
    int chunks = 0;
    while (true) {
        std::size_t line_end = rest.find("\r\n");
        ASSERT_NE(line_end, std::string::npos);
        std::size_t size = std::stoul(rest.substr(0, line_end), nullptr, 16);
        if (size == 0) {
            EXPECT_EQ(rest.substr(line_end), "\r\n\r\n");
            break;
        }
        body += rest.substr(line_end + 2, size);
        ASSERT_EQ(rest.substr(line_end + 2 + size, 2), "\r\n");
        rest.erase(0, line_end + 4 + size);
        ++chunks;
    }
    EXPECT_GE(chunks, 2);
    EXPECT_EQ(body, R"({"keys":["abcdefghijklmnopqrstuvwxyz"]})");
}

TEST_F(FakeNomadPlainTest, TruncatedBodiesFailTheFetch) {
    nomad_.set_document("/small", "0123456789");  // below the threshold: Content-Length framing
    nomad_.set_fault("/small", Fault::CloseMidBody);
    HttpResult mid_body = get("/small");
    EXPECT_EQ(mid_body.code, CURLE_PARTIAL_FILE) << curl_easy_strerror(mid_body.code);
    EXPECT_EQ(mid_body.body, "01234");

    nomad_.set_fault("/small", Fault::ShortContentLength);
    HttpResult short_body = get("/small");
    EXPECT_EQ(short_body.code, CURLE_PARTIAL_FILE) << curl_easy_strerror(short_body.code);
    EXPECT_EQ(short_body.body, "0123456789");

    nomad_.set_fault(kJwks, Fault::CloseMidBody);  // chunked: the terminator never comes
    EXPECT_NE(get(kJwks).code, CURLE_OK);

    nomad_.set_fault("/small", Fault::None);
    HttpResult healed = get("/small");
    EXPECT_EQ(healed.code, CURLE_OK);
    EXPECT_EQ(healed.body, "0123456789");
}

TEST_F(FakeNomadPlainTest, StallAfterHeadersSendsOnlyTheHead) {
    nomad_.set_fault(kJwks, Fault::StallAfterHeaders);
    RawExchange exchange = raw_get(kJwks, std::chrono::milliseconds(300));
    EXPECT_TRUE(exchange.timed_out);
    EXPECT_EQ(exchange.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_EQ(exchange.received.find("\r\n\r\n"), exchange.received.size() - 4);
}

TEST_F(FakeNomadPlainTest, DripBodySendsOneByteAtATime) {
    nomad_.set_document("/drip", "abc");
    nomad_.set_fault("/drip", Fault::DripBody);
    auto started = std::chrono::steady_clock::now();
    RawExchange exchange = raw_get("/drip", std::chrono::milliseconds(3000));
    auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(exchange.closed_by_peer);
    EXPECT_FALSE(exchange.timed_out);
    EXPECT_EQ(exchange.received.substr(exchange.received.size() - 7), "\r\n\r\nabc");
    EXPECT_GE(elapsed, std::chrono::milliseconds(550));  // three bytes, 200 ms apart

    RawExchange cut_short = raw_get("/drip", std::chrono::milliseconds(300));
    EXPECT_TRUE(cut_short.timed_out);
    EXPECT_NE(cut_short.received.substr(cut_short.received.size() - 4), "\nabc");
}

TEST_F(FakeNomadPlainTest, MalformedRequestsGetBadRequest) {
    RawExchange exchange = raw_tcp_exchange("127.0.0.1", nomad_.port(), "NONSENSE\r\n\r\n",
                                            std::chrono::milliseconds(3000));
    EXPECT_EQ(exchange.received.rfind("HTTP/1.1 400 ", 0), 0u) << exchange.received;
    EXPECT_TRUE(exchange.closed_by_peer);
}

TEST(FakeNomadLifecycleTest, StartFailsOnMissingCertificateAndBusyPort) {
    TempDir directory;
    FakeNomad broken(FakeNomadOptions{.certificate_file = directory.file("missing.pem"),
                                      .private_key_file = directory.file("missing-key.pem")});
    EXPECT_THROW(broken.start(), std::runtime_error);

    FakeNomad first(FakeNomadOptions{.tls = false});
    first.start();
    FakeNomad second(FakeNomadOptions{.port = first.port(), .tls = false});
    EXPECT_THROW(second.start(), std::runtime_error);
    first.stop();
    first.stop();
}

}  // namespace
}  // namespace oidcgw::testing
