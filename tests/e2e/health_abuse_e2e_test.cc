// End-to-end abuse of the health listener by a neighbour on the private side: its own caps per
// address and in total (with room made for a new check by closing an idle connection), and a
// reserve of descriptors it never takes from the public side.
#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <sys/resource.h>
#include <unistd.h>

namespace oidcgw::testing {
namespace {

class HealthAbuseE2E : public GatewayE2E {
  protected:
    HttpResponse health_from(const std::string& source, const std::string& path) {
        HttpRequestOptions options;
        options.timeout = 3s;
        options.source_address = source;
        return http_request("http://127.0.0.1:" + std::to_string(health_port_) + path, options);
    }

    double rejected(const std::string& reason) {
        const PrometheusParse parsed = parse_prometheus_text(health("/metrics").body);
        return find_sample(parsed, "oidc_gateway_connections_rejected_total",
                           {{"side", "health"}, {"reason", reason}})
            .value_or(-1);
    }

    // Opens `count` connections from `source` and returns those the gateway kept open.
    std::vector<int> hold(const std::string& source, int count, std::vector<int>* refused) {
        std::vector<int> opened;
        for (int i = 0; i < count; ++i) {
            const int fd = connect_from(source, health_port_);
            if (fd >= 0) opened.push_back(fd);
        }
        // A refused connection is closed at accept: by now it has seen the close.
        std::this_thread::sleep_for(300ms);
        std::vector<int> kept;
        for (const int fd : opened) {
            if (closed_by_server(fd, 10ms)) {
                refused->push_back(fd);
            } else {
                kept.push_back(fd);
            }
        }
        return kept;
    }

    std::vector<int> descriptors_;
    void TearDown() override {
        for (const int fd : descriptors_) ::close(fd);
        GatewayE2E::TearDown();
    }
};

TEST_F(HealthAbuseE2E, OneNeighbourGetsItsShareAndAFullListenerStillTakesANewCheck) {
    nlohmann::json config = base_config({nomad_->base_url()}, "60s");
    config["limits"] = {{"health_max_connections", 24}, {"health_max_connections_per_ip", 8}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    std::vector<int> refused;
    const std::vector<int> kept = hold("127.0.0.2", 20, &refused);
    descriptors_.insert(descriptors_.end(), kept.begin(), kept.end());
    descriptors_.insert(descriptors_.end(), refused.begin(), refused.end());
    EXPECT_EQ(kept.size(), 8u) << "per-address cap";
    EXPECT_EQ(refused.size(), 12u);
    EXPECT_EQ(rejected("max_connections_per_ip"), 12.0);
    EXPECT_EQ(health_from("127.0.0.3", "/healthz").status, 200) << "another address gets in";

    // Fill the listener from two more addresses (8 + 8 + 8 = 24 = the total cap), idle.
    for (const char* source : {"127.0.0.3", "127.0.0.4"}) {
        const std::vector<int> more = hold(source, 8, &refused);
        EXPECT_EQ(more.size(), 8u) << source;
        descriptors_.insert(descriptors_.end(), more.begin(), more.end());
    }
    // A load balancer's check still gets in: the oldest idle connection makes room.
    const HttpResponse check = health_from("127.0.0.5", "/healthz");
    EXPECT_EQ(check.status, 200) << check.error;
    EXPECT_TRUE(closed_by_server(kept.front(), 3s)) << "the oldest idle one was closed";
    EXPECT_EQ(get("/.well-known/jwks.json").status, 200);
}

// The reproduction: with RLIMIT_NOFILE at 256, hundreds of kept-alive health connections
// took every descriptor; the public side and /healthz stopped and cache writes failed.
TEST_F(HealthAbuseE2E, HealthConnectionsNeverTakeTheDescriptorsThePublicSideNeeds) {
    nlohmann::json config = base_config({nomad_->base_url()}, "1s");
    config["limits"] = {{"health_max_connections", 10000},
                        {"health_max_connections_per_ip", 10000},
                        {"new_connections_per_ip_per_second", 10000}};
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const pid_t pid = gateway_->pid();
    rlimit original{};
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &original), 0);
    rlimit tight = original;
    tight.rlim_cur = 256;
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0);
    std::this_thread::sleep_for(400ms);  // the loops re-read the limit at their buffer sweep

    std::vector<int> refused;
    const std::vector<int> kept = hold("127.0.0.2", 300, &refused);
    descriptors_.insert(descriptors_.end(), kept.begin(), kept.end());
    descriptors_.insert(descriptors_.end(), refused.begin(), refused.end());
    EXPECT_FALSE(refused.empty());
    // The health side stops below 192; the public side and the refresher may use the rest.
    EXPECT_LT(open_descriptors(pid), 256u - 32u) << "the reserve stays free";

    // The public side still accepts and serves, and the refresher still fetches and writes its
    // cache (two more refresh rounds at refresh_interval 1s).
    for (int i = 0; i < 5; ++i) {
        const HttpResponse response = get("/.well-known/jwks.json");
        EXPECT_EQ(response.status, 200) << response.error;
    }
    std::this_thread::sleep_for(2500ms);
    EXPECT_EQ(log_count("cache_write_failed"), 0u) << gateway_->log();
    EXPECT_EQ(log_count("accept_paused"), 0u) << gateway_->log();
    EXPECT_EQ(get("/.well-known/openid-configuration").status, 200);

    // The neighbour leaves: the health side answers again, and counted what it refused.
    for (const int fd : descriptors_) ::close(fd);
    descriptors_.clear();
    EXPECT_TRUE(wait_until([&] { return health("/healthz").status == 200; }, 5s));
    EXPECT_GT(rejected("descriptor_reserve"), 0.0);
    ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &original, nullptr), 0);
}

}  // namespace
}  // namespace oidcgw::testing
