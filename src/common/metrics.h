// Prometheus metrics: counters and histograms updated from any thread without locks, gauges
// computed when scraped, rendered in the text exposition format 0.0.4.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oidcgw {

// Label name/value pairs, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
  public:
    void increment(std::uint64_t by = 1) noexcept {
        value_.fetch_add(by, std::memory_order_relaxed);
    }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> value_{0};
};

class Histogram {
  public:
    explicit Histogram(std::vector<double> upper_bounds);  // ascending, +Inf implied
    void observe(double value) noexcept;

    struct Snapshot {
        std::vector<double> upper_bounds;
        std::vector<std::uint64_t> cumulative_counts;  // one per bound, then +Inf
        std::uint64_t count = 0;
        double sum = 0;
    };
    Snapshot snapshot() const;

  private:
    std::vector<double> upper_bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> bucket_counts_;  // per bucket, not cumulative
    std::atomic<std::uint64_t> count_{0};
    std::atomic<double> sum_{0};
};

struct GaugeSample {
    Labels labels;
    double value = 0;
};

class MetricsRegistry {
  public:
    // Out of line, where Family is a complete type (it is only declared here).
    MetricsRegistry();
    ~MetricsRegistry();
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    // The same name and labels always return the same object, which lives as long as the
    // registry. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*;
    // a family's help and type are fixed by its first use (a mismatch throws std::logic_error).
    Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
    Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels,
                         const std::vector<double>& upper_bounds);

    // A gauge family whose samples are computed at every render (e.g. open connections, document
    // age, certificate expiry). Registering the same name again replaces the collector.
    void set_gauge_collector(std::string_view name, std::string_view help,
                             std::function<std::vector<GaugeSample>()> collect);

    // Text format 0.0.4: families sorted by name, "# HELP" and "# TYPE" once per family, label
    // values escaped (backslash, double quote, newline), numbers as Prometheus expects
    // (+Inf, -Inf, NaN; integers without exponent).
    std::string render() const;

  private:
    struct Family;
    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

}  // namespace oidcgw
