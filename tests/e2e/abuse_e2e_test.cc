// End-to-end abuse: slow clients, connection floods, the global cap and its idle eviction, the
// per-connection request cap, and request smuggling attempts. Loopback only, every wait bounded.
#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace oidcgw::testing {
namespace {

// A completed TLS connection (blocking socket), for clients that then misbehave.
struct TlsConnection {
    int fd = -1;
    SslPtr ssl;
};

TlsConnection tls_connect(SSL_CTX* context, std::uint16_t port,
                          const std::string& source = "127.0.0.1") {
    TlsConnection connection;
    connection.fd = connect_from(source, port);
    if (connection.fd < 0) return connection;
    timeval timeout{5, 0};
    ::setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(connection.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    connection.ssl.reset(SSL_new(context));
    SSL_set_fd(connection.ssl.get(), connection.fd);
    SSL_set_tlsext_host_name(connection.ssl.get(), kPublicHost);
    if (SSL_connect(connection.ssl.get()) != 1) {
        ERR_clear_error();
        connection.ssl.reset();
    }
    return connection;
}

class AbuseE2E : public GatewayE2E {
  protected:
    void SetUp() override {
        // Writing to a connection the gateway already closed at its deadline is expected here.
        ::signal(SIGPIPE, SIG_IGN);
        GatewayE2E::SetUp();
        client_context_.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_set_verify(client_context_.get(), SSL_VERIFY_NONE, nullptr);
    }

    HttpResponse get_from(const std::string& source, const std::string& path) {
        HttpRequestOptions options;
        options.timeout = 2s;
        options.source_address = source;
        return get(path, options);
    }

    SslCtxPtr client_context_;
};

TEST_F(AbuseE2E, SlowClientsAreClosedAtTheirDeadlinesWhileOthersAreServed) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["timeouts"] = {{"handshake", "2s"}, {"request_head", "2s"}};
    config["limits"] = {{"max_connections_per_ip", 10000},
                        {"new_connections_per_ip_per_second", 10000}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    constexpr int kEach = 200;
    // Never finish the handshake: a byte of a ClientHello now and then.
    std::vector<int> stalled_handshakes;
    for (int i = 0; i < kEach; ++i) {
        const int fd = connect_from("127.0.0.1", public_port_);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::send(fd, "\x16", 1, MSG_NOSIGNAL), 1);
        stalled_handshakes.push_back(fd);
    }
    // Finish the handshake, then drip a request head one byte at a time.
    std::vector<TlsConnection> dripping;
    for (int i = 0; i < kEach; ++i) {
        TlsConnection connection = tls_connect(client_context_.get(), public_port_);
        ASSERT_TRUE(connection.ssl) << "handshake " << i;
        // May already fail when a slow (sanitizer) run reaches its deadline first.
        SSL_write(connection.ssl.get(), "G", 1);
        dripping.push_back(std::move(connection));
    }
    // A normal client is served promptly all the while.
    for (int i = 0; i < 5; ++i) {
        const HttpResponse response = get_from("127.0.0.1", "/.well-known/jwks.json");
        EXPECT_EQ(response.status, 200) << response.error;
        for (TlsConnection& connection : dripping) SSL_write(connection.ssl.get(), "E", 1);
        std::this_thread::sleep_for(200ms);
    }
    // Every slow connection is closed by the server at its deadline (2 s, plus slack).
    int closed = 0;
    const auto deadline = std::chrono::steady_clock::now() + 8s;
    for (int fd : stalled_handshakes) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        closed += closed_by_server(fd, std::max(left, 1ms)) ? 1 : 0;
        ::close(fd);
    }
    EXPECT_EQ(closed, kEach);
    closed = 0;
    for (TlsConnection& connection : dripping) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        closed += closed_by_server(connection.fd, std::max(left, 1ms)) ? 1 : 0;
        connection.ssl.reset();
        ::close(connection.fd);
    }
    EXPECT_EQ(closed, kEach);
    EXPECT_EQ(get_from("127.0.0.1", "/.well-known/jwks.json").status, 200);
}

TEST_F(AbuseE2E, AConnectionFloodFromOneAddressIsCappedAndOthersAreServed) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["limits"] = {{"max_connections_per_ip", 50}, {"new_connections_per_ip_per_second", 20}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    // 300 connections as fast as possible from 127.0.0.1; most are closed at once, before TLS.
    std::vector<int> flood;
    for (int i = 0; i < 300; ++i) {
        const int fd = connect_from("127.0.0.1", public_port_);
        if (fd >= 0) {
            ::send(fd, "\x16\x03\x01", 3, MSG_NOSIGNAL);
            flood.push_back(fd);
        }
    }
    int refused = 0;
    for (int fd : flood) refused += closed_by_server(fd, 50ms) ? 1 : 0;
    EXPECT_GE(refused, 200);  // at most ~20 (the bucket) + refill were admitted
    // Other addresses are unaffected.
    for (const char* source : {"127.0.0.2", "127.0.0.3"}) {
        const HttpResponse response = get_from(source, "/.well-known/jwks.json");
        EXPECT_EQ(response.status, 200) << source << ": " << response.error;
        EXPECT_EQ(response.body, jwks_);
    }
    for (int fd : flood) ::close(fd);
    const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
    ASSERT_TRUE(metrics.ok) << metrics.error;
    EXPECT_GE(find_sample(metrics, "oidc_gateway_connections_rejected_total",
                          {{"side", "public"}, {"reason", "new_connections_per_ip_per_second"}})
                  .value_or(0),
              100.0);
    // And 127.0.0.1 itself gets in again once its bucket refills.
    EXPECT_TRUE(wait_until(
        [&] { return get_from("127.0.0.1", "/.well-known/jwks.json").status == 200; }, 5s));
}

TEST_F(AbuseE2E, WhenFullIdleKeepAliveConnectionsMakeRoom) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["limits"] = {{"max_connections", 4}};
    config["workers"] = 1;
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    // Four idle keep-alive connections fill the gateway.
    std::vector<TlsConnection> idle;
    const std::string request =
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: " + host_header() + "\r\n\r\n";
    for (int i = 0; i < 4; ++i) {
        TlsConnection connection = tls_connect(client_context_.get(), public_port_);
        ASSERT_TRUE(connection.ssl);
        ASSERT_GT(SSL_write(connection.ssl.get(), request.data(), static_cast<int>(request.size())),
                  0);
        char buffer[4096];
        ASSERT_GT(SSL_read(connection.ssl.get(), buffer, sizeof buffer), 0);
        idle.push_back(std::move(connection));
    }
    // A fifth client is still served: the longest-idle connection was closed for it.
    const HttpResponse response = get_from("127.0.0.2", "/.well-known/jwks.json");
    EXPECT_EQ(response.status, 200) << response.error;
    EXPECT_TRUE(closed_by_server(idle.front().fd, 3s));
    for (TlsConnection& connection : idle) {
        connection.ssl.reset();
        ::close(connection.fd);
    }
}

TEST_F(AbuseE2E, AClientThatDoesNotReadIsNotReadFromAndIsClosedAtTheWriteDeadline) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["timeouts"] = {{"write", "1s"}};
    config["limits"] = {{"max_requests_per_connection", 1000000}};  // not the reason to stop
    config["workers"] = 1;
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    // A small receive window, so the responses pile up at the gateway rather than in our kernel.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const int window = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
    const timeval handshake_timeout{5, 0};  // bounds connect() and the handshake
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &handshake_timeout, sizeof handshake_timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &handshake_timeout, sizeof handshake_timeout);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(public_port_);
    ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote), 0);
    const timeval send_timeout{0, 300'000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    SslPtr ssl(SSL_new(client_context_.get()));
    SSL_set_fd(ssl.get(), fd);
    SSL_set_tlsext_host_name(ssl.get(), kPublicHost);
    ASSERT_EQ(SSL_connect(ssl.get()), 1);

    // Pipeline many requests without reading a byte, until the gateway stops taking them.
    std::string batch;
    for (int i = 0; i < 100; ++i) {
        batch += "GET /.well-known/jwks.json HTTP/1.1\r\nHost: " + host_header() + "\r\n\r\n";
    }
    int sent = 0;
    for (int round = 0; round < 400; ++round) {
        if (SSL_write(ssl.get(), batch.data(), static_cast<int>(batch.size())) <= 0) break;
        sent += 100;
    }
    ERR_clear_error();

    // The gateway answered what fits its output cap, then stopped reading; at the write deadline
    // it closed the connection, all without our reading anything.
    const auto public_connections = [&] {
        const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
        return metrics.ok
                   ? find_sample(metrics, "oidc_gateway_connections_open", {{"side", "public"}})
                         .value_or(-1)
                   : -1;
    };
    EXPECT_TRUE(wait_until([&] { return public_connections() == 0; }, 10s)) << gateway_->log();
    const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
    ASSERT_TRUE(metrics.ok) << metrics.error;
    const double answered = find_sample(metrics, "oidc_gateway_requests_total",
                                        {{"document", "jwks"}, {"status", "200"}})
                                .value_or(0);
    EXPECT_GT(answered, 0);
    EXPECT_LT(answered, sent / 2) << "sent " << sent;
    EXPECT_TRUE(closed_by_server(fd, 5s));
    ssl.reset();
    ::close(fd);
}

TEST_F(AbuseE2E, TheLastRequestAConnectionMayMakeClosesIt) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["limits"] = {{"max_requests_per_connection", 3}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    std::string pipelined;
    for (int i = 0; i < 5; ++i) {
        pipelined += "HEAD /.well-known/jwks.json HTTP/1.1\r\nHost: " + host_header() + "\r\n\r\n";
    }
    const RawExchange exchange = raw(pipelined);
    std::size_t responses = 0;
    for (std::size_t at = exchange.received.find("HTTP/1.1 200"); at != std::string::npos;
         at = exchange.received.find("HTTP/1.1 200", at + 1)) {
        ++responses;
    }
    EXPECT_EQ(responses, 3u) << exchange.received;
    EXPECT_NE(exchange.received.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(exchange.closed_by_peer);
}

TEST_F(AbuseE2E, OutOfDescriptorsTheAcceptLoopPausesInsteadOfSpinningAndRecovers) {
    nlohmann::json config = base_config({nomad_->base_url()}, "60s");
    config["limits"] = {{"max_connections_per_ip", 10000},
                        {"new_connections_per_ip_per_second", 10000}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    ASSERT_EQ(get_from("127.0.0.1", "/.well-known/jwks.json").status, 200);

    // Leave the gateway a handful of spare descriptors, then queue more connections than that.
    const pid_t pid = gateway_->pid();
    rlimit original{};
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &original), 0);
    rlimit tight = original;
    tight.rlim_cur = open_descriptors(pid) + 4;
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0);
    std::vector<int> waiting;
    for (int i = 0; i < 20; ++i) {
        const int fd = connect_from("127.0.0.1", public_port_);
        ASSERT_GE(fd, 0);
        // A first byte, so TCP_DEFER_ACCEPT hands the connection to accept().
        ASSERT_EQ(::send(fd, "\x16", 1, MSG_NOSIGNAL), 1);
        waiting.push_back(fd);
    }
    ASSERT_TRUE(wait_until([&] { return log_count("\"accept_paused\"") >= 1; }, 10s))
        << gateway_->log();

    // Paused, the loops sleep between retries (every 100 ms): a spinning accept loop would burn
    // a whole core for each worker. Half a core over two seconds is far above the retries' cost.
    const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    const long before = cpu_ticks(pid);
    std::this_thread::sleep_for(2s);
    EXPECT_LT(cpu_ticks(pid) - before, ticks_per_second) << "the accept loop spins";
    EXPECT_TRUE(gateway_->running());

    // Descriptors free up as the clients leave (the limit stays tight): the gateway serves again.
    for (const int fd : waiting) ::close(fd);
    EXPECT_TRUE(wait_until(
        [&] { return get_from("127.0.0.1", "/.well-known/jwks.json").status == 200; }, 10s))
        << gateway_->log();
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &original, nullptr), 0);
}

TEST_F(AbuseE2E, SmugglingAttemptsAreRefusedAndTheConnectionEnds) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string host = "Host: " + host_header() + "\r\n";
    const std::string get = "GET /.well-known/jwks.json HTTP/1.1\r\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {get + host + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get +
             host + "\r\n",
         "HTTP/1.1 400 "},
        {get + host + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 400 "},
        {get + host + "Transfer-Encoding: identity\r\n\r\n", "HTTP/1.1 400 "},
        {"GET /.well-known/jwks.json HTTP/1.1\n" + host + "\n", "HTTP/1.1 400 "},
        {get + host + std::string("X-A: a\0b\r\n\r\n", 12), "HTTP/1.1 400 "},
        {get + "Host: " + host_header() + "\r\nX: " + std::string(20000, 'x') + "\r\n\r\n",
         "HTTP/1.1 431 "},
        {get + host + "Expect: 100-continue\r\n\r\n", "HTTP/1.1 417 "},
    };
    for (const auto& [request, status] : cases) {
        const RawExchange exchange = raw(request);
        EXPECT_EQ(exchange.received.rfind(status, 0), 0u) << request.substr(0, 60) << "\n"
                                                          << exchange.received;
        // Exactly one response: the smuggled second request is never answered.
        EXPECT_EQ(exchange.received.find("HTTP/1.1", 1), std::string::npos);
        EXPECT_TRUE(exchange.closed_by_peer);
    }
}

TEST_F(AbuseE2E, RequestsOutsideTheStrictGrammarGetTheirStatusAndTheConnectionEnds) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string host = "Host: " + host_header() + "\r\n";
    const std::string jwks = "/.well-known/jwks.json";
    const std::vector<std::pair<std::string, std::string>> cases = {
        // HTTP/0.9 is never answered with a document.
        {"GET " + jwks + "\r\n\r\n", "HTTP/1.1 400 "},
        {"GET https://" + host_header() + jwks + " HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 400 "},
        {"CONNECT " + host_header() + " HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 400 "},
        {"GET " + jwks + " HTTP/2.0\r\n" + host + "\r\n", "HTTP/1.1 505 "},
        {"GET " + jwks + " HTTP/1.1\r\n" + host + host + "\r\n", "HTTP/1.1 400 "},
        {"GET " + jwks + " HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},  // no Host
        {"GET " + jwks + " HTTP/1.1\r\nHost: elsewhere.test\r\n\r\n", "HTTP/1.1 404 "},
        {"GET " + jwks + " HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n", "HTTP/1.1 400 "},
        {"GET " + jwks + " HTTP/1.1\r\n" + host + "Content-Length: 2\r\n\r\n{}", "HTTP/1.1 400 "},
        {"GET " + std::string(5000, '/') + " HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 414 "},
        // Paths that only resemble a served one are not served, never normalised into one.
        {"GET /x/..//.well-known/jwks.json HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 404 "},
        {"GET //.well-known/jwks.json HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 404 "},
        {"GET /.well-known/%6Awks.json HTTP/1.1\r\n" + host + "\r\n", "HTTP/1.1 404 "},
    };
    for (const auto& [request, status] : cases) {
        const RawExchange exchange = raw(request);
        EXPECT_EQ(exchange.received.rfind(status, 0), 0u) << request.substr(0, 60) << "\n"
                                                          << exchange.received;
        EXPECT_EQ(exchange.received.find("\"keys\""), std::string::npos) << request.substr(0, 60);
        EXPECT_TRUE(exchange.closed_by_peer) << request.substr(0, 60);
    }
}

}  // namespace
}  // namespace oidcgw::testing
