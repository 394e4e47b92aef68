#include "common/metrics.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace oidcgw {
namespace {

// Integers up to 2^53 are exact in a double, so they can be printed as plain integers.
constexpr double kLargestExactInteger = 9007199254740992.0;

// A histogram snapshot retries this often to catch a moment without in-flight observations.
constexpr int kSnapshotAttempts = 16;

// Suffixes a histogram family adds to its name; no other family may own those names.
constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};

re2::StringPiece piece(std::string_view text) {
    return re2::StringPiece(text.data(), text.size());
}

bool is_valid_metric_name(std::string_view name) {
    static const RE2 metric_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
    return RE2::FullMatch(piece(name), metric_name);
}

bool is_valid_label_name(std::string_view name) {
    static const RE2 label_name("[a-zA-Z_][a-zA-Z0-9_]*");
    return RE2::FullMatch(piece(name), label_name);
}

void require_metric_name(std::string_view name) {
    if (!is_valid_metric_name(name)) {
        throw std::invalid_argument("invalid metric name \"" + std::string(name) + "\"");
    }
}

// The identity of a series: its labels sorted by name, so that the same set given in another
// order finds the same series. Throws std::invalid_argument on a bad or repeated label name.
Labels canonical_labels(const Labels& labels, bool for_histogram) {
    Labels sorted = labels;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        const std::string& label_name = sorted[i].first;
        if (!is_valid_label_name(label_name)) {
            throw std::invalid_argument("invalid label name \"" + label_name + "\"");
        }
        if (for_histogram && label_name == "le") {
            throw std::invalid_argument("label \"le\" is reserved for histogram buckets");
        }
        if (i > 0 && sorted[i - 1].first == label_name) {
            throw std::invalid_argument("label \"" + label_name + "\" given twice");
        }
    }
    return sorted;
}

void require_valid_upper_bounds(const std::vector<double>& upper_bounds) {
    for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
        if (!std::isfinite(upper_bounds[i])) {
            throw std::invalid_argument("histogram bounds must be finite (+Inf is implied)");
        }
        if (i > 0 && !(upper_bounds[i - 1] < upper_bounds[i])) {
            throw std::invalid_argument("histogram bounds must be strictly ascending");
        }
    }
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == std::trunc(value) && std::fabs(value) <= kLargestExactInteger) {
        // Also turns -0 into "0".
        return std::to_string(static_cast<long long>(value));
    }
    // Shortest text that reads back as the same double.
    char buffer[64];
    const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

void append_escaped_help(std::string& out, std::string_view help) {
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

void append_escaped_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

// `{a="1",b="2"}`, with an optional extra label last (the `le` of a bucket); nothing at all when
// there are no labels.
void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    if (labels.empty() && extra_name.empty()) return;
    out += '{';
    bool first = true;
    const auto append_one = [&](std::string_view label_name, std::string_view label_value) {
        if (!first) out += ',';
        first = false;
        out += label_name;
        out += "=\"";
        append_escaped_label_value(out, label_value);
        out += '"';
    };
    for (const auto& [label_name, label_value] : labels) append_one(label_name, label_value);
    if (!extra_name.empty()) append_one(extra_name, extra_value);
    out += '}';
}

void append_sample(std::string& out, std::string_view name, const Labels& labels,
                   const std::string& value, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    out += name;
    append_labels(out, labels, extra_name, extra_value);
    out += ' ';
    out += value;
    out += '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
    require_valid_upper_bounds(upper_bounds_);
    bucket_counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_.size() + 1);
}

void Histogram::observe(double value) noexcept {
    // The first bound not below the value ("le"); NaN and values above every bound go to +Inf.
    std::size_t bucket = upper_bounds_.size();
    if (!std::isnan(value)) {
        bucket = static_cast<std::size_t>(
            std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
            upper_bounds_.begin());
    }
    bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    // Last, and releasing: a reader that sees this count also sees the bucket and the sum.
    count_.fetch_add(1, std::memory_order_release);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot snapshot;
    snapshot.upper_bounds = upper_bounds_;
    snapshot.cumulative_counts.resize(upper_bounds_.size() + 1);
    // Without a lock, an observation may be half done while we read. Retry until the count did
    // not move and matches the buckets; under constant load settle for the last reading. The
    // count always comes from the buckets so that _count equals the +Inf bucket. Acquire loads
    // keep the second read of the count after the reads of the buckets and the sum.
    for (int attempt = 0; attempt < kSnapshotAttempts; ++attempt) {
        const std::uint64_t count_before = count_.load(std::memory_order_acquire);
        std::uint64_t running = 0;
        for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
            running += bucket_counts_[i].load(std::memory_order_acquire);
            snapshot.cumulative_counts[i] = running;
        }
        snapshot.sum = sum_.load(std::memory_order_acquire);
        const std::uint64_t count_after = count_.load(std::memory_order_acquire);
        if (count_before == count_after && running == count_after) break;
    }
    snapshot.count = snapshot.cumulative_counts.back();
    return snapshot;
}

struct MetricsRegistry::Family {
    enum class Type { Counter, Gauge, Histogram };
    using Collector = std::function<std::vector<GaugeSample>()>;

    struct CounterSeries {
        Labels labels;  // as first given, which is the rendered order
        std::unique_ptr<Counter> counter;
    };
    struct HistogramSeries {
        Labels labels;
        std::unique_ptr<Histogram> histogram;
    };

    Type type = Type::Counter;
    std::string help;
    std::vector<double> upper_bounds;              // histograms: the same for every series
    std::map<Labels, CounterSeries> counters;      // keyed by canonical labels
    std::map<Labels, HistogramSeries> histograms;  // keyed by canonical labels
    std::shared_ptr<const Collector> collect;      // gauges; shared so render can call it unlocked

    static std::string_view type_name(Type type) {
        switch (type) {
            case Type::Counter:
                return "counter";
            case Type::Gauge:
                return "gauge";
            case Type::Histogram:
                return "histogram";
        }
        return "untyped";
    }

    // The family called `name`, created on first use. Returns whether it was just created.
    // Callers hold the registry mutex.
    static std::pair<Family&, bool> obtain(
        std::map<std::string, std::unique_ptr<Family>, std::less<>>& families,
        std::string_view name, std::string_view help, Type type) {
        if (auto found = families.find(name); found != families.end()) {
            Family& existing = *found->second;
            if (existing.type != type) {
                throw std::logic_error("metric \"" + std::string(name) + "\" is a " +
                                       std::string(type_name(existing.type)) + ", not a " +
                                       std::string(type_name(type)));
            }
            if (existing.help != help) {
                throw std::logic_error("metric \"" + std::string(name) +
                                       "\" was registered with a different help text");
            }
            return {existing, false};
        }
        // A histogram owns name_bucket, name_sum and name_count; two families rendering the same
        // series name would make the exposition ambiguous.
        for (std::string_view suffix : kHistogramSuffixes) {
            if (type == Type::Histogram &&
                families.count(std::string(name) + std::string(suffix))) {
                throw std::logic_error("histogram \"" + std::string(name) + "\" would clash with " +
                                       "metric \"" + std::string(name) + std::string(suffix) +
                                       "\"");
            }
            if (ends_with(name, suffix)) {
                const auto base = families.find(name.substr(0, name.size() - suffix.size()));
                if (base != families.end() && base->second->type == Type::Histogram) {
                    throw std::logic_error("metric \"" + std::string(name) +
                                           "\" would clash with histogram \"" + base->first + "\"");
                }
            }
        }
        auto created = std::make_unique<Family>();
        created->type = type;
        created->help = std::string(help);
        Family& family = *created;
        families.emplace(std::string(name), std::move(created));
        return {family, true};
    }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                  const Labels& labels) {
    require_metric_name(name);
    Labels key = canonical_labels(labels, /*for_histogram=*/false);
    std::lock_guard lock(mutex_);
    Family& family = Family::obtain(families_, name, help, Family::Type::Counter).first;
    auto [series, inserted] = family.counters.try_emplace(std::move(key));
    if (inserted) {
        series->second.labels = labels;
        series->second.counter = std::make_unique<Counter>();
    }
    return *series->second.counter;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      const Labels& labels,
                                      const std::vector<double>& upper_bounds) {
    require_metric_name(name);
    Labels key = canonical_labels(labels, /*for_histogram=*/true);
    require_valid_upper_bounds(upper_bounds);
    std::lock_guard lock(mutex_);
    auto [family, created] = Family::obtain(families_, name, help, Family::Type::Histogram);
    if (created) {
        family.upper_bounds = upper_bounds;
    } else if (family.upper_bounds != upper_bounds) {
        throw std::logic_error("histogram \"" + std::string(name) +
                               "\" was registered with different bucket bounds");
    }
    auto [series, inserted] = family.histograms.try_emplace(std::move(key));
    if (inserted) {
        series->second.labels = labels;
        series->second.histogram = std::make_unique<Histogram>(upper_bounds);
    }
    return *series->second.histogram;
}

void MetricsRegistry::set_gauge_collector(std::string_view name, std::string_view help,
                                          std::function<std::vector<GaugeSample>()> collect) {
    require_metric_name(name);
    if (!collect)
        throw std::invalid_argument("empty gauge collector for \"" + std::string(name) + "\"");
    auto shared = std::make_shared<const Family::Collector>(std::move(collect));
    std::lock_guard lock(mutex_);
    Family& family = Family::obtain(families_, name, help, Family::Type::Gauge).first;
    family.collect = std::move(shared);
}

std::string MetricsRegistry::render() const {
    // What one family looks like at this moment. Series objects never go away, so the pointers
    // stay valid once the lock is released; values are read, and collectors called, unlocked,
    // so a slow or re-entrant collector cannot stall the threads that register series.
    struct FamilyView {
        std::string_view name;
        const Family* family = nullptr;
        std::vector<std::pair<const Labels*, const Counter*>> counters;
        std::vector<std::pair<const Labels*, const Histogram*>> histograms;
        std::shared_ptr<const Family::Collector> collect;
    };
    std::vector<FamilyView> views;
    {
        std::lock_guard lock(mutex_);
        views.reserve(families_.size());
        for (const auto& [name, family] : families_) {
            FamilyView& view = views.emplace_back();
            view.name = name;
            view.family = family.get();
            for (const auto& [key, series] : family->counters) {
                view.counters.emplace_back(&series.labels, series.counter.get());
            }
            for (const auto& [key, series] : family->histograms) {
                view.histograms.emplace_back(&series.labels, series.histogram.get());
            }
            view.collect = family->collect;
        }
    }

    std::string out;
    for (const FamilyView& view : views) {
        // Family names, help texts and types never change once created, so reading them
        // unlocked is safe.
        std::string text = "# HELP ";
        text += view.name;
        if (!view.family->help.empty()) {
            text += ' ';
            append_escaped_help(text, view.family->help);
        }
        text += "\n# TYPE ";
        text += view.name;
        text += ' ';
        text += Family::type_name(view.family->type);
        text += '\n';

        switch (view.family->type) {
            case Family::Type::Counter:
                for (const auto& [labels, counter] : view.counters) {
                    append_sample(text, view.name, *labels, std::to_string(counter->value()));
                }
                break;
            case Family::Type::Histogram: {
                const std::string bucket_name = std::string(view.name) + "_bucket";
                const std::string sum_name = std::string(view.name) + "_sum";
                const std::string count_name = std::string(view.name) + "_count";
                for (const auto& [labels, histogram] : view.histograms) {
                    const Histogram::Snapshot snapshot = histogram->snapshot();
                    for (std::size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
                        append_sample(text, bucket_name, *labels,
                                      std::to_string(snapshot.cumulative_counts[i]), "le",
                                      format_value(snapshot.upper_bounds[i]));
                    }
                    append_sample(text, bucket_name, *labels,
                                  std::to_string(snapshot.cumulative_counts.back()), "le", "+Inf");
                    append_sample(text, sum_name, *labels, format_value(snapshot.sum));
                    append_sample(text, count_name, *labels, std::to_string(snapshot.count));
                }
                break;
            }
            case Family::Type::Gauge: {
                if (!view.collect) break;
                // A collector that throws, or hands back bad labels or the same series twice,
                // loses its family from this scrape; the rest of the document stays valid.
                try {
                    std::vector<GaugeSample> samples = (*view.collect)();
                    std::vector<std::pair<Labels, const GaugeSample*>> sorted;
                    sorted.reserve(samples.size());
                    for (const GaugeSample& sample : samples) {
                        sorted.emplace_back(canonical_labels(sample.labels, false), &sample);
                    }
                    std::sort(sorted.begin(), sorted.end(),
                              [](const auto& a, const auto& b) { return a.first < b.first; });
                    for (std::size_t i = 1; i < sorted.size(); ++i) {
                        if (sorted[i - 1].first == sorted[i].first) {
                            throw std::invalid_argument("gauge series given twice");
                        }
                    }
                    for (const auto& [key, sample] : sorted) {
                        append_sample(text, view.name, sample->labels, format_value(sample->value));
                    }
                } catch (...) {
                    continue;
                }
                break;
            }
        }
        out += text;
    }
    return out;
}

}  // namespace oidcgw
