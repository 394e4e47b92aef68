// The fake Nomad agent as the raw TLS client and a plain-HTTP fetch see it: TLS versions, hanging
// servers, chunking and truncation, malformed requests, and its start and stop.
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

namespace oidcgw::testing {
namespace {

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
