#include "ops/loop_liveness.h"

namespace oidcgw {
namespace {

// Passes are normally microseconds long; the top buckets are for a loop in trouble.
const std::vector<double> kPassDurationBuckets = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                                  0.1,    0.5,    1,     5,     10};

}  // namespace

LoopLiveness::LoopLiveness(std::vector<ServerLoop*> loops, std::chrono::milliseconds threshold,
                           MetricsRegistry& metrics)
    : threshold_ms_(threshold.count()) {
    for (ServerLoop* loop : loops) {
        const Labels labels = {{"loop", loop->name()}};
        Histogram* durations =
            &metrics.histogram("oidc_gateway_loop_pass_duration_seconds",
                               "How long the callbacks of one event-loop pass ran, by loop.",
                               labels, kPassDurationBuckets);
        loop->set_pass_observer([durations](std::chrono::nanoseconds duration) {
            durations->observe(std::chrono::duration<double>(duration).count());
        });
        Counter* stalls = &metrics.counter(
            "oidc_gateway_loop_stalls_total",
            "Times a loop went without finishing a pass for timeouts.worker_stall, by loop.",
            labels);
        watched_.push_back({loop, stalls, false});
    }
    metrics.set_gauge_collector(
        "oidc_gateway_loop_last_pass_age_seconds",
        "Seconds since the loop last finished a pass (an idle loop finishes one every 0.25 s).",
        [this] {
            std::vector<GaugeSample> samples;
            for (const Watched& entry : watched_) {
                samples.push_back(
                    {{{"loop", entry.loop->name()}},
                     std::chrono::duration<double>(entry.loop->last_pass_age()).count()});
            }
            return samples;
        });
}

std::vector<std::string> LoopLiveness::stalled() const {
    std::vector<std::string> names;
    const std::chrono::milliseconds threshold(threshold_ms_.load());
    for (const Watched& entry : watched_) {
        if (entry.loop->last_pass_age() >= threshold) names.push_back(entry.loop->name());
    }
    return names;
}

bool LoopLiveness::check(Logger& logger) {
    const std::chrono::milliseconds threshold(threshold_ms_.load());
    bool all_live = true;
    for (Watched& entry : watched_) {
        const std::chrono::milliseconds age = entry.loop->last_pass_age();
        const bool stalled = age >= threshold;
        if (stalled && !entry.stalled) {
            entry.stalls->increment();
            logger.error("loop_stalled", {{"loop", entry.loop->name()},
                                          {"seconds_since_last_pass", age.count() / 1000.0}});
        } else if (!stalled && entry.stalled) {
            logger.info("loop_recovered", {{"loop", entry.loop->name()}});
        }
        entry.stalled = stalled;
        all_live = all_live && !stalled;
    }
    return all_live;
}

}  // namespace oidcgw
