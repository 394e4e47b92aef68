// Optional per-request log lines (event "access", level info), off by default and rate-limited
// so that a flood of requests cannot fill a disk through journald.
#pragma once

#include "common/logger.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>

namespace oidcgw {

// What one response logs; never a header. The views need only live for the record() call.
struct AccessRecord {
    std::string_view client;  // the peer's address, e.g. "203.0.113.7" or "2001:db8::1"
    std::string_view method;  // as sent; at most 32 bytes are logged
    std::string_view path;    // the request target; at most 256 bytes are logged
    int status = 0;
    std::size_t bytes = 0;    // body bytes sent
    std::string_view issuer;  // the issuer URL served, "" when none matched
    // For a request the parser refused (400, 414, 417, 431, 505): its fixed reason, e.g. "bare
    // LF in head"; "" otherwise. Method and path are then what was read before the refusal.
    std::string_view reason{};
};

class AccessLog {
  public:
    static constexpr std::size_t kMaxPathBytes = 256;
    static constexpr std::size_t kMaxMethodBytes = 32;

    // Starts disabled, with a limit of 100 lines per second.
    explicit AccessLog(Logger& logger);
    // For tests: `now_seconds` stands in for the wall clock's current second.
    AccessLog(Logger& logger, std::function<std::int64_t()> now_seconds);

    // Callable at any time from any thread (a reload changes it). max_per_second >= 1.
    void configure(bool enabled, unsigned max_per_second) noexcept;
    bool enabled() const noexcept { return enabled_.load(std::memory_order_relaxed); }

    // Writes one "access" line, unless disabled (one relaxed atomic load), info lines are
    // filtered out by log_level, or this wall-clock second already had max_per_second lines:
    // those are counted, and the first record of a later second first writes one
    // "access_log_suppressed" line with that `count`. Thread-safe.
    void record(const AccessRecord& record);

  private:
    Logger& logger_;
    std::function<std::int64_t()> now_seconds_;
    std::atomic<bool> enabled_{false};
    std::atomic<unsigned> max_per_second_{100};
    std::mutex mutex_;  // guards the three counters below
    std::int64_t current_second_ = 0;
    unsigned written_this_second_ = 0;
    std::uint64_t suppressed_ = 0;
};

}  // namespace oidcgw
