// End-to-end liveness: a worker the test stalls (the test-only hook in src/test_hooks.h) turns
// /healthz 503 naming it within timeouts.worker_stall, shows in the metrics and the log, and
// stops the systemd watchdog pings until it recovers.
#include "gateway_fixture.h"
#include "notify_socket.h"
#include "prometheus_text.h"

#include <fstream>

namespace oidcgw::testing {
namespace {

class LivenessE2E : public GatewayE2E {
  protected:
    // The watchdog pings received within `window`.
    static int watchdog_pings(const NotifySocket& socket, std::chrono::milliseconds window) {
        int pings = 0;
        const auto end = std::chrono::steady_clock::now() + window;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                end - std::chrono::steady_clock::now());
            if (left.count() <= 0) return pings;
            const std::optional<std::string> message = socket.receive(left);
            if (message && message->find("WATCHDOG=1") != std::string::npos) ++pings;
        }
    }

    std::optional<double> metric(const std::string& name, const std::string& loop) {
        const HttpResponse response = health("/metrics");
        const PrometheusParse parsed = parse_prometheus_text(response.body);
        if (!parsed.ok) return std::nullopt;
        return find_sample(parsed, name, {{"loop", loop}});
    }
};

TEST_F(LivenessE2E, AStalledWorkerTurnsHealthz503AndStopsTheWatchdogUntilItRecovers) {
#ifndef OIDCGW_TEST_HOOKS
    GTEST_SKIP() << "built without -DOIDCGW_TEST_HOOKS=ON (scripts/test sets it)";
#endif
    const std::string stall_file = dir_.file("stall");
    ::setenv("OIDCGW_TEST_STALL_FILE", stall_file.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "1000000", 1);  // pings every quarter second while live
    NotifySocket notify(dir_.file("notify.sock"));
    nlohmann::json config = base_config({nomad_->base_url()});
    config["timeouts"] = {{"worker_stall", "1s"}};
    start_gateway_with(config);
    ::unsetenv("OIDCGW_TEST_STALL_FILE");
    ::unsetenv("WATCHDOG_USEC");
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    EXPECT_EQ(health("/healthz").status, 200);
    EXPECT_GE(watchdog_pings(notify, 1500ms), 3) << "the watchdog is fed while every loop runs";
    EXPECT_EQ(metric("oidc_gateway_loop_stalls_total", "worker-1"), 0.0);
    const std::optional<double> passes =
        metric("oidc_gateway_loop_pass_duration_seconds_count", "worker-1");
    ASSERT_TRUE(passes);
    EXPECT_GT(*passes, 0.0) << "an idle loop still finishes passes (its buffer sweep)";

    // worker-1 blocks for 5 s at its next buffer sweep (within a quarter second).
    { std::ofstream(stall_file) << "worker-1 5000\n"; }
    const auto stalled_at = std::chrono::steady_clock::now();
    HttpResponse during;
    ASSERT_TRUE(wait_until(
        [&] {
            during = health("/healthz");
            return during.status == 503;
        },
        4s))
        << "never reported; last: " << during.status << " " << during.body << gateway_->log();
    EXPECT_EQ(during.body, "stalled: worker-1\n");
    EXPECT_LT(std::chrono::steady_clock::now() - stalled_at, 3s)
        << "reported within the 1 s threshold plus a sweep interval and the main thread's tick";
    EXPECT_GE(metric("oidc_gateway_loop_last_pass_age_seconds", "worker-1").value_or(0), 1.0);
    EXPECT_LT(metric("oidc_gateway_loop_last_pass_age_seconds", "worker-0").value_or(99), 1.0);
    ASSERT_TRUE(wait_until([&] { return log_count("\"loop_stalled\"") == 1; }, 2s))
        << gateway_->log();
    EXPECT_EQ(metric("oidc_gateway_loop_stalls_total", "worker-1"), 1.0);
    // The other worker still serves the public side meanwhile.
    EXPECT_EQ(get("/.well-known/jwks.json").status, 200);
    // No watchdog ping while the worker is stuck (drain what was sent before the stall first).
    while (notify.receive(0ms)) {
    }
    EXPECT_EQ(watchdog_pings(notify, 1500ms), 0);

    ASSERT_TRUE(wait_until([&] { return health("/healthz").status == 200; }, 8s))
        << gateway_->log();
    ASSERT_TRUE(wait_until([&] { return log_count("\"loop_recovered\"") == 1; }, 2s))
        << gateway_->log();
    EXPECT_GE(watchdog_pings(notify, 1500ms), 3) << "the watchdog is fed again";
    // The stuck pass is in the histogram: one pass between 1 s and 10 s long.
    const PrometheusParse parsed = parse_prometheus_text(health("/metrics").body);
    ASSERT_TRUE(parsed.ok) << parsed.error;
    const auto bucket = [&](const char* le) {
        return find_sample(parsed, "oidc_gateway_loop_pass_duration_seconds_bucket",
                           {{"loop", "worker-1"}, {"le", le}})
            .value_or(-1);
    };
    EXPECT_EQ(bucket("10") - bucket("1"), 1.0);
    EXPECT_EQ(gateway_->stop(), 0);
}

}  // namespace
}  // namespace oidcgw::testing
