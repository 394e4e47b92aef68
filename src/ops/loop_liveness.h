// Whether every event loop is alive: each loop notes when it last finished a pass (ServerLoop::
// last_pass_age), and a loop that has not for `threshold` is stalled (a callback stuck, or an
// event that keeps itself active). /healthz, the metrics, the log and systemd's watchdog all
// read it from here.
#pragma once

#include "common/logger.h"
#include "common/metrics.h"
#include "edge/server_loop.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace oidcgw {

class LoopLiveness {
  public:
    // `loops` must outlive this object. Registers the metrics: per loop, the pass duration
    // histogram (fed by the loops' pass observers), the last-pass-age gauge and the stall counter.
    LoopLiveness(std::vector<ServerLoop*> loops, std::chrono::milliseconds threshold,
                 MetricsRegistry& metrics);

    void set_threshold(std::chrono::milliseconds threshold) { threshold_ms_ = threshold.count(); }

    // Any thread: the loops stalled now, by name (empty: all live).
    std::vector<std::string> stalled() const;

    // The main thread, a few times a second: logs and counts each loop that became stalled or
    // recovered since the last call. Returns true while every loop is live.
    bool check(Logger& logger);

  private:
    struct Watched {
        ServerLoop* loop = nullptr;
        Counter* stalls = nullptr;
        bool stalled = false;  // as of the last check()
    };
    std::vector<Watched> watched_;
    std::atomic<long long> threshold_ms_;
};

}  // namespace oidcgw
