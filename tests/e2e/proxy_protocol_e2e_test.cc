// Behind a layer-4 load balancer: a real HAProxy (Debian's) in TCP mode in front of a gateway
// listener with proxy_protocol, sending the PROXY header v2 (send-proxy-v2) or v1 (send-proxy).
// Clients from 127.0.0.2 and 127.0.0.3 reach the gateway through it and are known by their own
// addresses: in the access log and in the per-address limits. Sources outside
// proxy_protocol_from, connections without a header and broken headers are refused and counted.
#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

namespace oidcgw::testing {
namespace {

using namespace std::string_literals;

const char* const kHaproxy = "/usr/sbin/haproxy";

class ProxyProtocolE2E : public GatewayE2E {
  protected:
    void TearDown() override {
        if (haproxy_) haproxy_->stop();
        GatewayE2E::TearDown();
    }

    // HAProxy on its own port, relaying TCP to the gateway with `send_proxy` ("send-proxy" or
    // "send-proxy-v2"); it connects from 127.0.0.1, the one trusted source.
    void start_haproxy(const std::string& send_proxy) {
        ASSERT_TRUE(std::filesystem::exists(kHaproxy)) << "scripts/setup installs haproxy";
        haproxy_port_ = free_loopback_port();
        const std::string path = dir_.file("haproxy.cfg");
        write_file(path,
                   "global\n"
                   "  nbthread 1\n"
                   "  maxconn 1000\n"
                   "defaults\n"
                   "  mode tcp\n"
                   "  retries 0\n"
                   "  timeout connect 5s\n"
                   "  timeout client 30s\n"
                   "  timeout server 30s\n"
                   "frontend edge\n"
                   "  bind 127.0.0.1:" +
                       std::to_string(haproxy_port_) +
                       "\n"
                       "  default_backend gateway\n"
                       "backend gateway\n"
                       "  server gateway 127.0.0.1:" +
                       std::to_string(public_port_) + " " + send_proxy + "\n");
        haproxy_ = std::make_unique<ChildProcess>(
            std::vector<std::string>{kHaproxy, "-db", "-f", path}, dir_.file("haproxy.log"));
        haproxy_->start();
        ASSERT_TRUE(wait_until(
            [&] {
                const int fd = connect_from("127.0.0.9", haproxy_port_);
                if (fd < 0) return false;
                ::close(fd);
                return true;
            },
            10s))
            << haproxy_->log();
    }

    nlohmann::json proxied_config() {
        nlohmann::json config = base_config({nomad_->base_url()});
        config["listen"] = {
            {{"address", "127.0.0.1:" + std::to_string(public_port_)}, {"proxy_protocol", true}}};
        config["proxy_protocol_from"] = {"127.0.0.1/32"};
        config["access_log"] = {{"enabled", true}, {"max_per_second", 1000}};
        return config;
    }

    // A GET for the issuer's URL (its Host and SNI) whose connection goes to HAProxy.
    HttpResponse get_through_haproxy(const std::string& source, const std::string& path) {
        HttpRequestOptions options;
        options.ca_file = public_pki_->ca_file();
        options.connect_to = std::string(kPublicHost) + ":" + std::to_string(public_port_) +
                             ":127.0.0.1:" + std::to_string(haproxy_port_);
        options.source_address = source;
        return http_request(public_url(path), options);
    }

    // The clients of the access log's lines, in order.
    std::vector<std::string> access_log_clients() {
        std::vector<std::string> clients;
        std::istringstream lines(gateway_->log());
        for (std::string line; std::getline(lines, line);) {
            const auto entry = nlohmann::json::parse(line, nullptr, false);
            if (entry.is_object() && entry.value("event", "") == "access") {
                clients.push_back(entry.value("client", ""));
            }
        }
        return clients;
    }

    // From a new address each time: a test's own per-address rate limit applies to the health
    // listener too, and polling must not trip it.
    double rejected(const std::string& reason) {
        HttpRequestOptions options;
        options.source_address = "127.0.1." + std::to_string(1 + scrapes_++ % 250);
        const PrometheusParse metrics = parse_prometheus_text(
            http_request("http://127.0.0.1:" + std::to_string(health_port_) + "/metrics", options)
                .body);
        EXPECT_TRUE(metrics.ok) << metrics.error;
        return find_sample(metrics, "oidc_gateway_connections_rejected_total",
                           {{"side", "public"}, {"reason", reason}})
            .value_or(-1);
    }

    RawExchange raw_from(const std::string& source, const std::string& prefix,
                         const std::string& request) {
        RawTlsOptions options;
        options.port = public_port_;
        options.sni = kPublicHost;
        options.ca_file = public_pki_->ca_file();
        options.source_address = source;
        options.cleartext_prefix = prefix;
        options.deadline = 4s;
        return raw_tls_exchange(options, request);
    }

    std::string request(const std::string& path) {
        return "GET " + path + " HTTP/1.1\r\nHost: " + host_header() +
               "\r\nConnection: close\r\n\r\n";
    }

    std::unique_ptr<ChildProcess> haproxy_;
    std::uint16_t haproxy_port_ = 0;
    unsigned scrapes_ = 0;
};

class ThroughHaproxy : public ProxyProtocolE2E,
                       public ::testing::WithParamInterface<const char*> {};

TEST_P(ThroughHaproxy, EachClientIsKnownByItsOwnAddress) {
    start_gateway_with(proxied_config());
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    start_haproxy(GetParam());
    for (const char* source : {"127.0.0.2", "127.0.0.3"}) {
        const HttpResponse response = get_through_haproxy(source, "/.well-known/jwks.json");
        ASSERT_EQ(response.status, 200) << source << ": " << response.error << gateway_->log();
        EXPECT_EQ(response.body, jwks_);
    }
    std::vector<std::string> clients;
    ASSERT_TRUE(wait_until(
        [&] {
            clients = access_log_clients();
            return clients.size() >= 2;
        },
        5s))
        << gateway_->log();
    EXPECT_EQ(clients, (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
}

TEST_P(ThroughHaproxy, AFloodFromOneClientIsLimitedByItsAddressWhileAnotherIsServed) {
    nlohmann::json config = proxied_config();
    config["limits"] = {{"max_connections_per_ip", 50}, {"new_connections_per_ip_per_second", 5}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    start_haproxy(GetParam());
    // HAProxy dials the gateway for each, with a header naming 127.0.0.2.
    std::vector<int> flood;
    for (int i = 0; i < 40; ++i) {
        const int fd = connect_from("127.0.0.2", haproxy_port_);
        if (fd >= 0) flood.push_back(fd);
    }
    ASSERT_TRUE(
        wait_until([&] { return rejected("new_connections_per_ip_per_second") >= 25; }, 10s))
        << gateway_->log();
    const HttpResponse other = get_through_haproxy("127.0.0.3", "/.well-known/jwks.json");
    EXPECT_EQ(other.status, 200) << other.error;
    EXPECT_EQ(other.body, jwks_);
    for (const int fd : flood) ::close(fd);
    EXPECT_EQ(rejected("proxy_untrusted_source"), 0);  // HAProxy itself is trusted
}

INSTANTIATE_TEST_SUITE_P(Versions, ThroughHaproxy, ::testing::Values("send-proxy-v2", "send-proxy"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                             return std::string(param_info.param) == "send-proxy" ? "V1" : "V2";
                         });

std::string v2_header(unsigned char command, const std::string& block) {
    return "\r\n\r\n\0\r\nQUIT\n"s + static_cast<char>(0x20 | command) + "\x11"s +
           static_cast<char>(block.size() >> 8) + static_cast<char>(block.size() & 0xff) + block;
}

TEST_F(ProxyProtocolE2E, UntrustedSourcesAndMissingOrBrokenHeadersAreRefusedAndCounted) {
    nlohmann::json config = proxied_config();
    config["timeouts"] = {{"handshake", "1s"}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string v1 = "PROXY TCP4 203.0.113.9 127.0.0.1 5555 443\r\n";

    // A header from a source outside proxy_protocol_from: closed before a byte is read.
    EXPECT_FALSE(raw_from("127.0.0.5", v1, request("/.well-known/jwks.json")).connected);
    // A trusted source without a header (a client that bypassed the balancer).
    EXPECT_FALSE(raw_from("127.0.0.1", "", request("/.well-known/jwks.json")).connected);
    // Broken and oversized headers.
    EXPECT_FALSE(raw_from("127.0.0.1", "PROXY TCP4 203.0.113.9\r\n", "").connected);
    EXPECT_FALSE(
        raw_from("127.0.0.1", "\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff"s + std::string(64, 'a'), "")
            .connected);
    // Half a header, then silence: the handshake deadline ends it.
    const int silent = connect_from("127.0.0.1", public_port_);
    ASSERT_GE(silent, 0);
    ASSERT_EQ(::send(silent, "PROXY TCP4 ", 11, MSG_NOSIGNAL), 11);
    EXPECT_TRUE(closed_by_server(silent, 5s));
    ::close(silent);

    EXPECT_EQ(rejected("proxy_untrusted_source"), 1);
    EXPECT_EQ(rejected("proxy_header_missing"), 1);
    EXPECT_EQ(rejected("proxy_header_malformed"), 1);
    EXPECT_EQ(rejected("proxy_header_too_long"), 1);
    EXPECT_EQ(rejected("proxy_header_timeout"), 1);

    // What a balancer sends is served: v1 and v2 naming a client, and v2 LOCAL (its own
    // health check), which stands for the balancer's own address.
    const RawExchange named = raw_from("127.0.0.1", v1, request("/.well-known/jwks.json"));
    ASSERT_TRUE(named.connected) << named.handshake_error;
    EXPECT_EQ(named.received.rfind("HTTP/1.1 200 ", 0), 0u) << named.received;
    const std::string block = "\xc6\x33\x64\x07"s + "\x7f\x00\x00\x01"s + "\x15\xb3\x01\xbb"s +
                              "\x03\x00\x04vpce"s;  // 198.51.100.7, then a TLV to skip
    const RawExchange v2 =
        raw_from("127.0.0.1", v2_header(1, block), request("/.well-known/jwks.json"));
    ASSERT_TRUE(v2.connected) << v2.handshake_error;
    EXPECT_EQ(v2.received.rfind("HTTP/1.1 200 ", 0), 0u) << v2.received;
    const RawExchange local =
        raw_from("127.0.0.1", v2_header(0, ""), request("/.well-known/openid-configuration"));
    ASSERT_TRUE(local.connected) << local.handshake_error;
    EXPECT_EQ(local.received.rfind("HTTP/1.1 200 ", 0), 0u) << local.received;
    std::vector<std::string> clients;
    ASSERT_TRUE(wait_until(
        [&] {
            clients = access_log_clients();
            return clients.size() >= 3;
        },
        5s))
        << gateway_->log();
    EXPECT_EQ(clients, (std::vector<std::string>{"203.0.113.9", "198.51.100.7", "127.0.0.1"}));
}

// Until its header names the client, a connection from a trusted balancer still counts against
// max_connections: a source in proxy_protocol_from that opens connections and never finishes
// their headers cannot hold more than that, and the places come back when they close.
TEST_F(ProxyProtocolE2E, ConnectionsWaitingForTheirHeaderCountAgainstMaxConnections) {
    nlohmann::json config = proxied_config();
    config["limits"] = {{"max_connections", 4}};
    config["workers"] = 1;
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    std::vector<int> silent;
    for (int i = 0; i < 8; ++i) {
        const int fd = connect_from("127.0.0.1", public_port_);
        ASSERT_GE(fd, 0);
        // The start of a header, then nothing (with no byte at all, TCP_DEFER_ACCEPT keeps the
        // connection in the kernel until the handshake deadline).
        ASSERT_EQ(::send(fd, "PROXY ", 6, MSG_NOSIGNAL), 6);
        silent.push_back(fd);
    }
    int refused = 0;
    for (const int fd : silent) refused += closed_by_server(fd, 300ms) ? 1 : 0;
    EXPECT_EQ(refused, 4);
    EXPECT_EQ(rejected("max_connections"), 4);
    for (const int fd : silent) ::close(fd);
    const std::string v1 = "PROXY TCP4 203.0.113.9 127.0.0.1 5555 443\r\n";
    EXPECT_TRUE(wait_until(
        [&] {
            return raw_from("127.0.0.1", v1, request("/.well-known/jwks.json"))
                       .received.rfind("HTTP/1.1 200 ", 0) == 0;
        },
        5s))
        << gateway_->log();
}

// A listener without proxy_protocol beside one with it takes plain TLS as before, and a reload
// can turn the header on for a listener that keeps its socket.
TEST_F(ProxyProtocolE2E, APlainListenerBesideItAndAReloadThatTurnsTheHeaderOn) {
    const std::uint16_t plain_port = free_loopback_port();
    nlohmann::json config = proxied_config();
    config["listen"].push_back("127.0.0.1:" + std::to_string(plain_port));
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    RawTlsOptions plain;
    plain.port = plain_port;
    plain.sni = kPublicHost;
    plain.ca_file = public_pki_->ca_file();
    const RawExchange direct = raw_tls_exchange(plain, request("/.well-known/jwks.json"));
    ASSERT_TRUE(direct.connected) << direct.handshake_error;
    EXPECT_EQ(direct.received.rfind("HTTP/1.1 200 ", 0), 0u) << direct.received;

    config["listen"][1] = {{"address", "127.0.0.1:" + std::to_string(plain_port)},
                           {"proxy_protocol", true}};
    write_config_json(config);
    ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until([&] { return log_count("\"event\":\"reloaded\"") >= 1; }, 10s))
        << gateway_->log();
    EXPECT_TRUE(wait_until(
        [&] { return !raw_tls_exchange(plain, request("/.well-known/jwks.json")).connected; }, 5s))
        << gateway_->log();
    plain.cleartext_prefix = "PROXY TCP4 192.0.2.44 127.0.0.1 1234 443\r\n";
    const RawExchange proxied = raw_tls_exchange(plain, request("/.well-known/jwks.json"));
    ASSERT_TRUE(proxied.connected) << proxied.handshake_error;
    EXPECT_EQ(proxied.received.rfind("HTTP/1.1 200 ", 0), 0u) << proxied.received;
}

}  // namespace
}  // namespace oidcgw::testing
