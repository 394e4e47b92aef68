#include "common/metrics.h"

#include "prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace oidcgw::testing {
namespace {

// Renders and insists the result is a document Prometheus would ingest.
std::string render_checked(const MetricsRegistry& registry) {
    const std::string text = registry.render();
    const PrometheusParse parse = parse_prometheus_text(text);
    EXPECT_TRUE(parse.ok) << parse.error << "\n" << text;
    return text;
}

TEST(MetricsRegistryTest, EmptyRegistryRendersNothing) {
    MetricsRegistry registry;
    EXPECT_EQ(render_checked(registry), "");
}

TEST(MetricsRegistryTest, CounterWithoutLabels) {
    MetricsRegistry registry;
    Counter& requests = registry.counter("requests_total", "Requests served.");
    EXPECT_EQ(render_checked(registry),
              "# HELP requests_total Requests served.\n"
              "# TYPE requests_total counter\n"
              "requests_total 0\n");
    requests.increment();
    requests.increment(11);
    EXPECT_EQ(requests.value(), 12u);
    EXPECT_EQ(render_checked(registry),
              "# HELP requests_total Requests served.\n"
              "# TYPE requests_total counter\n"
              "requests_total 12\n");
}

TEST(MetricsRegistryTest, CounterSeriesSortedByLabelSetAndLabelsInGivenOrder) {
    MetricsRegistry registry;
    registry.counter("hits_total", "Hits.", {{"path", "/b"}, {"code", "200"}}).increment(2);
    registry.counter("hits_total", "Hits.", {{"path", "/a"}, {"code", "404"}}).increment(1);
    registry.counter("hits_total", "Hits.", {{"path", "/a"}, {"code", "200"}}).increment(5);
    EXPECT_EQ(render_checked(registry),
              "# HELP hits_total Hits.\n"
              "# TYPE hits_total counter\n"
              "hits_total{path=\"/a\",code=\"200\"} 5\n"
              "hits_total{path=\"/b\",code=\"200\"} 2\n"
              "hits_total{path=\"/a\",code=\"404\"} 1\n");
}

TEST(MetricsRegistryTest, FamiliesSortedByName) {
    MetricsRegistry registry;
    registry.counter("zeta", "Z.");
    registry.counter("alpha_b", "AB.");
    registry.counter("alpha", "A.");
    EXPECT_EQ(render_checked(registry),
              "# HELP alpha A.\n# TYPE alpha counter\nalpha 0\n"
              "# HELP alpha_b AB.\n# TYPE alpha_b counter\nalpha_b 0\n"
              "# HELP zeta Z.\n# TYPE zeta counter\nzeta 0\n");
}

TEST(MetricsRegistryTest, EscapesHelpAndLabelValues) {
    MetricsRegistry registry;
    registry
        .counter("odd_total", "Back\\slash, \"quotes\" and\na newline.",
                 {{"value", "a\\b \"c\"\nd"}})
        .increment(3);
    const std::string text = render_checked(registry);
    EXPECT_EQ(text,
              "# HELP odd_total Back\\\\slash, \"quotes\" and\\na newline.\n"
              "# TYPE odd_total counter\n"
              "odd_total{value=\"a\\\\b \\\"c\\\"\\nd\"} 3\n");
    // And the checker reads the original value back.
    const PrometheusParse parse = parse_prometheus_text(text);
    EXPECT_EQ(find_sample(parse, "odd_total", {{"value", "a\\b \"c\"\nd"}}), 3.0);
}

TEST(MetricsRegistryTest, HistogramBucketsSumAndCount) {
    MetricsRegistry registry;
    Histogram& latency = registry.histogram("latency_seconds", "Latency.", {{"route", "jwks"}},
                                            {0.005, 0.5, 1, 2.5});
    // Exactly representable values, so the sum is exact; 0.5 lands in its own bound ("le").
    for (double value : {0.00390625, 0.25, 0.5, 1.5, 4.0}) latency.observe(value);
    EXPECT_EQ(render_checked(registry),
              "# HELP latency_seconds Latency.\n"
              "# TYPE latency_seconds histogram\n"
              "latency_seconds_bucket{route=\"jwks\",le=\"0.005\"} 1\n"
              "latency_seconds_bucket{route=\"jwks\",le=\"0.5\"} 3\n"
              "latency_seconds_bucket{route=\"jwks\",le=\"1\"} 3\n"
              "latency_seconds_bucket{route=\"jwks\",le=\"2.5\"} 4\n"
              "latency_seconds_bucket{route=\"jwks\",le=\"+Inf\"} 5\n"
              "latency_seconds_sum{route=\"jwks\"} 6.25390625\n"
              "latency_seconds_count{route=\"jwks\"} 5\n");

    const Histogram::Snapshot snapshot = latency.snapshot();
    EXPECT_EQ(snapshot.cumulative_counts, (std::vector<std::uint64_t>{1, 3, 3, 4, 5}));
    EXPECT_EQ(snapshot.count, 5u);
    EXPECT_EQ(snapshot.sum, 6.25390625);
}

TEST(MetricsRegistryTest, HistogramWithoutLabelsOrBounds) {
    MetricsRegistry registry;
    Histogram& sizes = registry.histogram("sizes", "Sizes.", {}, {});
    sizes.observe(7);
    sizes.observe(std::numeric_limits<double>::quiet_NaN());  // counted in +Inf only
    const std::string text = render_checked(registry);
    EXPECT_EQ(text,
              "# HELP sizes Sizes.\n"
              "# TYPE sizes histogram\n"
              "sizes_bucket{le=\"+Inf\"} 2\n"
              "sizes_sum NaN\n"
              "sizes_count 2\n");
}

TEST(MetricsRegistryTest, NumbersAsPrometheusExpects) {
    MetricsRegistry registry;
    const std::vector<std::pair<std::string, double>> values = {
        {"integer", 12},
        {"negative", -3},
        {"negative_zero", -0.0},
        {"fraction", 0.1},
        {"third", 1.0 / 3},
        {"huge", 1e20},
        {"tiny", 1e-300},
        {"big_integer", 9007199254740992.0},
        {"plus_infinity", std::numeric_limits<double>::infinity()},
        {"minus_infinity", -std::numeric_limits<double>::infinity()},
        {"not_a_number", std::numeric_limits<double>::quiet_NaN()},
    };
    registry.set_gauge_collector("value", "Values.", [&values] {
        std::vector<GaugeSample> samples;
        for (const auto& [name, value] : values) samples.push_back({{{"name", name}}, value});
        return samples;
    });
    const std::string text = render_checked(registry);
    for (const char* line :
         {"value{name=\"integer\"} 12\n", "value{name=\"negative\"} -3\n",
          "value{name=\"negative_zero\"} 0\n", "value{name=\"fraction\"} 0.1\n",
          "value{name=\"big_integer\"} 9007199254740992\n", "value{name=\"huge\"} 1e+20\n",
          "value{name=\"tiny\"} 1e-300\n", "value{name=\"third\"} 0.3333333333333333\n",
          "value{name=\"plus_infinity\"} +Inf\n", "value{name=\"minus_infinity\"} -Inf\n",
          "value{name=\"not_a_number\"} NaN\n"}) {
        EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
    }
    // Every value reads back as exactly the double that was set.
    const PrometheusParse parse = parse_prometheus_text(text);
    for (const auto& [name, value] : values) {
        const std::optional<double> read = find_sample(parse, "value", {{"name", name}});
        ASSERT_TRUE(read) << name;
        if (std::isnan(value)) {
            EXPECT_TRUE(std::isnan(*read)) << name;
        } else {
            EXPECT_EQ(*read, value) << name;
        }
    }
}

TEST(MetricsRegistryTest, GaugeCollectorRunsAtEveryRenderAndIsReplaced) {
    MetricsRegistry registry;
    int renders = 0;
    registry.set_gauge_collector("open_connections", "Open connections.", [&renders] {
        ++renders;
        return std::vector<GaugeSample>{{{{"listener", "public"}}, 4.0 * renders},
                                        {{{"listener", "health"}}, 1}};
    });
    EXPECT_EQ(render_checked(registry),
              "# HELP open_connections Open connections.\n"
              "# TYPE open_connections gauge\n"
              "open_connections{listener=\"health\"} 1\n"
              "open_connections{listener=\"public\"} 4\n");
    EXPECT_NE(render_checked(registry).find("open_connections{listener=\"public\"} 8\n"),
              std::string::npos);

    registry.set_gauge_collector("open_connections", "Open connections.", [] {
        return std::vector<GaugeSample>{{{}, 42}};
    });
    EXPECT_EQ(render_checked(registry),
              "# HELP open_connections Open connections.\n"
              "# TYPE open_connections gauge\n"
              "open_connections 42\n");
    EXPECT_EQ(renders, 2);
}

TEST(MetricsRegistryTest, GaugeCollectorWithNoSamplesRendersHeaderOnly) {
    MetricsRegistry registry;
    registry.set_gauge_collector("certificate_expiry_seconds", "Expiry.",
                                 [] { return std::vector<GaugeSample>{}; });
    EXPECT_EQ(render_checked(registry),
              "# HELP certificate_expiry_seconds Expiry.\n"
              "# TYPE certificate_expiry_seconds gauge\n");
}

TEST(MetricsRegistryTest, FailingGaugeCollectorLeavesTheRestIntact) {
    MetricsRegistry registry;
    registry.counter("a_total", "A.").increment();
    registry.set_gauge_collector("b_throws", "Throws.", []() -> std::vector<GaugeSample> {
        throw std::runtime_error("collector broke");
    });
    registry.set_gauge_collector("c_bad_label", "Bad label.", [] {
        return std::vector<GaugeSample>{{{{"bad-name", "x"}}, 1}};
    });
    registry.set_gauge_collector("d_duplicate", "Same series twice.", [] {
        return std::vector<GaugeSample>{{{{"a", "1"}, {"b", "2"}}, 1},
                                        {{{"b", "2"}, {"a", "1"}}, 2}};
    });
    registry.set_gauge_collector("e_fine", "Fine.", [] {
        return std::vector<GaugeSample>{{{}, 1.5}};
    });
    EXPECT_EQ(render_checked(registry),
              "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
              "# HELP e_fine Fine.\n# TYPE e_fine gauge\ne_fine 1.5\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsReturnSameObject) {
    MetricsRegistry registry;
    Counter& first = registry.counter("x_total", "X.", {{"a", "1"}, {"b", "2"}});
    EXPECT_EQ(&registry.counter("x_total", "X.", {{"a", "1"}, {"b", "2"}}), &first);
    EXPECT_EQ(&registry.counter("x_total", "X.", {{"b", "2"}, {"a", "1"}}), &first)
        << "the same label set in another order is the same series";
    EXPECT_NE(&registry.counter("x_total", "X.", {{"a", "1"}, {"b", "3"}}), &first);
    EXPECT_NE(&registry.counter("x_total", "X.", {{"a", "1"}}), &first);

    Histogram& histogram = registry.histogram("h", "H.", {{"a", "1"}}, {1, 2});
    EXPECT_EQ(&registry.histogram("h", "H.", {{"a", "1"}}, {1, 2}), &histogram);
    EXPECT_NE(&registry.histogram("h", "H.", {{"a", "2"}}, {1, 2}), &histogram);

    first.increment();
    const std::string text = render_checked(registry);
    EXPECT_NE(text.find("x_total{a=\"1\",b=\"2\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsRegistryTest, HelpOrTypeMismatchThrows) {
    MetricsRegistry registry;
    registry.counter("c_total", "C.");
    registry.histogram("h", "H.", {}, {1});
    registry.set_gauge_collector("g", "G.", [] { return std::vector<GaugeSample>{}; });

    EXPECT_THROW(registry.counter("c_total", "Other help."), std::logic_error);
    EXPECT_THROW(registry.histogram("c_total", "C.", {}, {1}), std::logic_error);
    EXPECT_THROW(
        registry.set_gauge_collector("c_total", "C.", [] { return std::vector<GaugeSample>{}; }),
        std::logic_error);
    EXPECT_THROW(registry.counter("h", "H."), std::logic_error);
    EXPECT_THROW(registry.histogram("h", "H.", {}, {1, 2}), std::logic_error) << "other bounds";
    EXPECT_THROW(registry.counter("g", "G."), std::logic_error);
    EXPECT_THROW(
        registry.set_gauge_collector("g", "Other.", [] { return std::vector<GaugeSample>{}; }),
        std::logic_error);
    // Names a histogram renders are taken, in either order of registration.
    EXPECT_THROW(registry.counter("h_count", "Clash."), std::logic_error);
    EXPECT_THROW(registry.set_gauge_collector("h_bucket", "Clash.",
                                              [] { return std::vector<GaugeSample>{}; }),
                 std::logic_error);
    registry.counter("k_sum", "K.");
    EXPECT_THROW(registry.histogram("k", "Clash.", {}, {1}), std::logic_error);

    // The failed calls left nothing behind.
    EXPECT_EQ(render_checked(registry),
              "# HELP c_total C.\n# TYPE c_total counter\nc_total 0\n"
              "# HELP g G.\n# TYPE g gauge\n"
              "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n"
              "h_sum 0\nh_count 0\n"
              "# HELP k_sum K.\n# TYPE k_sum counter\nk_sum 0\n");
}

TEST(MetricsRegistryTest, InvalidNamesThrow) {
    MetricsRegistry registry;
    for (const char* name : {"", "1abc", "a-b", "a b", "a.b", "é"}) {
        EXPECT_THROW(registry.counter(name, "Bad."), std::invalid_argument) << name;
        EXPECT_THROW(
            registry.set_gauge_collector(name, "Bad.", [] { return std::vector<GaugeSample>{}; }),
            std::invalid_argument)
            << name;
    }
    EXPECT_NO_THROW(registry.counter("ok:name_1", "Colons are allowed in metric names."));
    for (const char* label : {"", "1a", "a:b", "a-b"}) {
        EXPECT_THROW(registry.counter("x_total", "X.", {{label, "v"}}), std::invalid_argument)
            << label;
    }
    EXPECT_THROW(registry.counter("x_total", "X.", {{"a", "1"}, {"a", "2"}}),
                 std::invalid_argument);
    EXPECT_THROW(registry.histogram("h", "H.", {{"le", "1"}}, {1}), std::invalid_argument);
    EXPECT_NO_THROW(
        registry.counter("le_ok_total", "le is fine outside histograms.", {{"le", "1"}}));
    EXPECT_THROW(registry.set_gauge_collector("g", "G.", nullptr), std::invalid_argument);
}

TEST(MetricsRegistryTest, InvalidBucketBoundsThrow) {
    MetricsRegistry registry;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (const std::vector<double>& bounds :
         std::vector<std::vector<double>>{{2, 1}, {1, 1}, {1, nan}, {1, inf}, {-inf, 1}}) {
        EXPECT_THROW(registry.histogram("h", "H.", {}, bounds), std::invalid_argument);
        EXPECT_THROW(Histogram rejected(bounds), std::invalid_argument);
    }
    EXPECT_EQ(render_checked(registry), "");
}

TEST(MetricsRegistryTest, ConcurrentUpdatesFromFourThreadsAddUp) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 50000;
    MetricsRegistry registry;
    Counter& shared = registry.counter("shared_total", "Shared.");
    Histogram& histogram = registry.histogram("observed", "Observed.", {}, {0.5, 1.5});

    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&registry, &shared, &histogram, t] {
            const std::string mine = std::to_string(t);
            for (int i = 0; i < kPerThread; ++i) {
                shared.increment();
                histogram.observe(i % 2 == 0 ? 1.0 : 2.0);
                // Looking a series up concurrently must find the same object every time.
                registry.counter("per_thread_total", "Per thread.", {{"thread", mine}}).increment();
                if (i % 5000 == 0) {
                    const std::string text = registry.render();
                    const PrometheusParse parse = parse_prometheus_text(text);
                    EXPECT_TRUE(parse.ok) << parse.error;
                }
            }
        });
    }
    for (std::thread& thread : threads) thread.join();

    EXPECT_EQ(shared.value(), static_cast<std::uint64_t>(kThreads * kPerThread));
    const Histogram::Snapshot snapshot = histogram.snapshot();
    EXPECT_EQ(snapshot.count, static_cast<std::uint64_t>(kThreads * kPerThread));
    EXPECT_EQ(snapshot.cumulative_counts,
              (std::vector<std::uint64_t>{0, kThreads * kPerThread / 2, kThreads * kPerThread}));
    EXPECT_EQ(snapshot.sum, 1.5 * kThreads * kPerThread);

    const PrometheusParse parse = parse_prometheus_text(render_checked(registry));
    ASSERT_TRUE(parse.ok) << parse.error;
    EXPECT_EQ(find_sample(parse, "shared_total"), kThreads * kPerThread);
    for (int t = 0; t < kThreads; ++t) {
        EXPECT_EQ(find_sample(parse, "per_thread_total", {{"thread", std::to_string(t)}}),
                  kPerThread);
    }
    EXPECT_EQ(find_sample(parse, "observed_count"), kThreads * kPerThread);
}

}  // namespace
}  // namespace oidcgw::testing
