#include "prometheus_text.h"

#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace oidcgw::testing {
namespace {

// What a scrape of a busy gateway might look like, with the format's optional bits: comments,
// blank lines, extra blanks, timestamps, a trailing comma, escapes, a summary, untyped samples.
constexpr const char* kRealisticDocument =
    "# Scraped from the health listener.\n"
    "# HELP oidc_gateway_requests_total Requests answered, by host, path and status.\n"
    "# TYPE oidc_gateway_requests_total counter\n"
    "oidc_gateway_requests_total{host=\"oidc.example.com\",path=\"/.well-known/jwks.json\","
    "status=\"200\"} 1027 1700000000000\n"
    "oidc_gateway_requests_total{host=\"oidc.example.com\",path=\"/.well-known/jwks.json\","
    "status=\"304\"} 311 1700000000000\n"
    "oidc_gateway_requests_total{ host = \"oidc.example.com\" , path=\"/other\",status=\"404\", } "
    "3\n"
    "\n"
    "# HELP oidc_gateway_document_age_seconds Seconds since the documents were last confirmed.\n"
    "# TYPE oidc_gateway_document_age_seconds gauge\n"
    "oidc_gateway_document_age_seconds{issuer=\"https://a.example\"}\t12.5\n"
    "oidc_gateway_document_age_seconds{issuer=\"https://b.example\"} +Inf\n"
    "oidc_gateway_document_age_seconds{issuer=\"c\\\\d \\\"e\\\"\\nf\"} NaN\n"
    "oidc_gateway_document_age_seconds{issuer=\"\xC3\xA9t\xC3\xA9\"} -1.5e-3\n"
    "# HELP oidc_gateway_upstream_fetch_duration_seconds Fetch time; \\\\ and \\n escaped.\n"
    "# TYPE oidc_gateway_upstream_fetch_duration_seconds histogram\n"
    "oidc_gateway_upstream_fetch_duration_seconds_bucket{upstream=\"n1\",le=\"0.05\"} 4\n"
    "oidc_gateway_upstream_fetch_duration_seconds_bucket{upstream=\"n1\",le=\"0.5\"} 9\n"
    "oidc_gateway_upstream_fetch_duration_seconds_bucket{upstream=\"n1\",le=\"+Inf\"} 10\n"
    "oidc_gateway_upstream_fetch_duration_seconds_sum{upstream=\"n1\"} 2.75\n"
    "oidc_gateway_upstream_fetch_duration_seconds_count{upstream=\"n1\"} 10\n"
    "oidc_gateway_upstream_fetch_duration_seconds_bucket{upstream=\"n2\",le=\"0.05\"} 0\n"
    "oidc_gateway_upstream_fetch_duration_seconds_bucket{upstream=\"n2\",le=\"0.5\"} 0\n"
    "oidc_gateway_upstream_fetch_duration_seconds_bucket{upstream=\"n2\",le=\"+Inf\"} 0\n"
    "oidc_gateway_upstream_fetch_duration_seconds_sum{upstream=\"n2\"} 0\n"
    "oidc_gateway_upstream_fetch_duration_seconds_count{upstream=\"n2\"} 0\n"
    "# TYPE rpc_duration_seconds summary\n"
    "rpc_duration_seconds{quantile=\"0.5\"} 0.012\n"
    "rpc_duration_seconds{quantile=\"0.99\"} 0.3\n"
    "rpc_duration_seconds_sum 17.25\n"
    "rpc_duration_seconds_count 900\n"
    "  process_open_fds 9   \n"
    "build_info{version=\"0.1.0\"} 1\n";

TEST(PrometheusTextTest, AcceptsRealisticDocument) {
    const PrometheusParse parse = parse_prometheus_text(kRealisticDocument);
    ASSERT_TRUE(parse.ok) << parse.error;
    EXPECT_EQ(parse.samples.size(), 23u);
    EXPECT_EQ(parse.types, (std::map<std::string, std::string>{
                               {"oidc_gateway_document_age_seconds", "gauge"},
                               {"oidc_gateway_requests_total", "counter"},
                               {"oidc_gateway_upstream_fetch_duration_seconds", "histogram"},
                               {"rpc_duration_seconds", "summary"}}));

    EXPECT_EQ(find_sample(parse, "oidc_gateway_requests_total", {{"status", "304"}}), 311);
    EXPECT_EQ(find_sample(parse, "oidc_gateway_requests_total",
                          {{"host", "oidc.example.com"}, {"path", "/other"}}),
              3);
    EXPECT_EQ(find_sample(parse, "oidc_gateway_requests_total"), 1027) << "first match wins";
    EXPECT_EQ(
        find_sample(parse, "oidc_gateway_document_age_seconds", {{"issuer", "https://a.example"}}),
        12.5);
    EXPECT_EQ(
        find_sample(parse, "oidc_gateway_document_age_seconds", {{"issuer", "https://b.example"}}),
        std::numeric_limits<double>::infinity());
    const std::optional<double> escaped =
        find_sample(parse, "oidc_gateway_document_age_seconds", {{"issuer", "c\\d \"e\"\nf"}});
    ASSERT_TRUE(escaped);
    EXPECT_TRUE(std::isnan(*escaped));
    EXPECT_EQ(
        find_sample(parse, "oidc_gateway_document_age_seconds", {{"issuer", "\xC3\xA9t\xC3\xA9"}}),
        -0.0015);
    EXPECT_EQ(find_sample(parse, "oidc_gateway_upstream_fetch_duration_seconds_bucket",
                          {{"upstream", "n1"}, {"le", "0.5"}}),
              9);
    EXPECT_EQ(find_sample(parse, "rpc_duration_seconds_count"), 900);
    EXPECT_EQ(find_sample(parse, "process_open_fds"), 9);

    EXPECT_FALSE(find_sample(parse, "oidc_gateway_requests_total", {{"status", "500"}}));
    EXPECT_FALSE(find_sample(parse, "oidc_gateway_requests_total", {{"colour", "200"}}));
    EXPECT_FALSE(find_sample(parse, "no_such_metric"));
}

TEST(PrometheusTextTest, AcceptsEmptyAndCommentOnlyDocuments) {
    EXPECT_TRUE(parse_prometheus_text("").ok);
    EXPECT_TRUE(parse_prometheus_text("\n").ok);
    EXPECT_TRUE(parse_prometheus_text("# just a comment\n# HELPER is not HELP\n").ok);
    const PrometheusParse header_only = parse_prometheus_text("# HELP a A.\n# TYPE a gauge\n");
    ASSERT_TRUE(header_only.ok) << header_only.error;
    EXPECT_TRUE(header_only.samples.empty());
    EXPECT_EQ(header_only.types.at("a"), "gauge");
}

TEST(PrometheusTextTest, AcceptsRegistryOutput) {
    MetricsRegistry registry;
    registry.counter("oidc_gateway_publications_total", "Publications.", {{"issuer", "a"}})
        .increment(2);
    registry.counter("oidc_gateway_publications_total", "Publications.", {{"issuer", "b\"\\\n"}})
        .increment(5);
    Histogram& histogram =
        registry.histogram("oidc_gateway_upstream_fetch_duration_seconds", "Fetch time.",
                           {{"upstream", "n1"}}, {0.005, 0.01, 0.1, 1, 10});
    for (double value : {0.001, 0.02, 0.02, 3.0, 30.0}) histogram.observe(value);
    registry.set_gauge_collector("oidc_gateway_open_connections", "Open\\connections\n.", [] {
        return std::vector<GaugeSample>{{{{"listener", "public"}}, 3},
                                        {{{"listener", "health"}}, 0}};
    });

    const std::string text = registry.render();
    const PrometheusParse parse = parse_prometheus_text(text);
    ASSERT_TRUE(parse.ok) << parse.error << "\n" << text;
    EXPECT_EQ(parse.types.at("oidc_gateway_upstream_fetch_duration_seconds"), "histogram");
    EXPECT_EQ(parse.types.at("oidc_gateway_publications_total"), "counter");
    EXPECT_EQ(parse.types.at("oidc_gateway_open_connections"), "gauge");
    EXPECT_EQ(find_sample(parse, "oidc_gateway_publications_total", {{"issuer", "b\"\\\n"}}), 5);
    EXPECT_EQ(
        find_sample(parse, "oidc_gateway_upstream_fetch_duration_seconds_bucket", {{"le", "0.1"}}),
        3);
    EXPECT_EQ(
        find_sample(parse, "oidc_gateway_upstream_fetch_duration_seconds_bucket", {{"le", "10"}}),
        4);
    EXPECT_EQ(find_sample(parse, "oidc_gateway_upstream_fetch_duration_seconds_count"), 5);
    EXPECT_EQ(find_sample(parse, "oidc_gateway_open_connections", {{"listener", "public"}}), 3);
}

struct BrokenDocument {
    const char* what;
    std::string text;
    std::size_t line;      // the line the error must name
    const char* fragment;  // and a word of its explanation
};

class PrometheusTextRejectTest : public ::testing::TestWithParam<BrokenDocument> {};

TEST_P(PrometheusTextRejectTest, RejectsNamingTheLine) {
    const BrokenDocument& broken = GetParam();
    const PrometheusParse parse = parse_prometheus_text(broken.text);
    ASSERT_FALSE(parse.ok) << broken.what;
    EXPECT_EQ(parse.error.rfind("line " + std::to_string(broken.line) + ": ", 0), 0u)
        << broken.what << ": " << parse.error;
    EXPECT_NE(parse.error.find(broken.fragment), std::string::npos)
        << broken.what << ": " << parse.error;
}

// A histogram that passes; the broken cases below change one thing in it.
const std::string kGoodHistogram =
    "# TYPE h histogram\n"
    "h_bucket{le=\"1\"} 1\n"
    "h_bucket{le=\"2\"} 3\n"
    "h_bucket{le=\"+Inf\"} 4\n"
    "h_sum 5.5\n"
    "h_count 4\n";

TEST(PrometheusTextTest, BaselineForBrokenHistogramsIsAccepted) {
    const PrometheusParse parse = parse_prometheus_text(kGoodHistogram);
    EXPECT_TRUE(parse.ok) << parse.error;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
    const std::size_t at = text.find(from);
    if (at == std::string::npos) throw std::logic_error("test text lacks " + from);
    return text.replace(at, from.size(), to);
}

INSTANTIATE_TEST_SUITE_P(
    BrokenDocuments, PrometheusTextRejectTest,
    ::testing::Values(
        BrokenDocument{"no final newline", "a 1\nb 2", 2, "newline"},
        BrokenDocument{"bad metric name", "a 1\n1abc 2\n", 2, "metric name"},
        BrokenDocument{"dash in metric name", "a-b 2\n", 1, "metric name"},
        BrokenDocument{"bad label name", "a{1x=\"y\"} 1\n", 1, "label name"},
        BrokenDocument{"colon in label name", "a{x:y=\"y\"} 1\n", 1, "label name"},
        BrokenDocument{"unknown escape", "a 1\na{x=\"\\t\"} 1\n", 2, "escape"},
        BrokenDocument{"unterminated value", "a{x=\"y} 1\n", 1, "unterminated"},
        BrokenDocument{"unquoted value", "a{x=y} 1\n", 1, "'\"'"},
        BrokenDocument{"missing separator", "a{x=\"1\" y=\"2\"} 1\n", 1, "','"},
        BrokenDocument{"unterminated label set", "a{x=\"1\"\n", 1, "unterminated"},
        BrokenDocument{"label twice", "a{x=\"1\",x=\"2\"} 1\n", 1, "twice"},
        BrokenDocument{"invalid UTF-8 value", "a{x=\"\xC3\x28\"} 1\n", 1, "UTF-8"},
        BrokenDocument{"missing value", "a{x=\"1\"}\n", 1, "no value"},
        BrokenDocument{"word as value", "a abc\n", 1, "invalid value"},
        BrokenDocument{"lower-case inf", "a inf\n", 1, "invalid value"},
        BrokenDocument{"hex value", "a 0x10\n", 1, "invalid value"},
        BrokenDocument{"value out of range", "a 1e999\n", 1, "invalid value"},
        BrokenDocument{"fractional timestamp", "a 1 1.5\n", 1, "timestamp"},
        BrokenDocument{"extra token", "a 1 2 3\n", 1, "unexpected"},
        BrokenDocument{"carriage return", "a 1\r\n", 1, "invalid value"},
        BrokenDocument{"HELP twice", "# HELP a A.\n# HELP a Again.\na 1\n", 2, "second HELP"},
        BrokenDocument{"bad HELP escape", "# HELP a A \\t tab.\n", 1, "escape"},
        BrokenDocument{"HELP without name", "# HELP\n", 1, "without a metric name"},
        BrokenDocument{"TYPE twice", "# TYPE a gauge\n# TYPE a gauge\n", 2, "second TYPE"},
        BrokenDocument{"unknown type", "# TYPE a meter\n", 1, "unknown type"},
        BrokenDocument{"TYPE with extra text", "# TYPE a gauge now\n", 1, "unexpected"},
        BrokenDocument{"TYPE after samples", "a 1\n# TYPE a gauge\n", 2, "after its samples"},
        BrokenDocument{"histogram TYPE after samples", "h_count 1\n# TYPE h histogram\n", 2,
                       "after its samples"},
        BrokenDocument{"interleaved families", "a{x=\"1\"} 1\nb 2\na{x=\"2\"} 3\n", 3,
                       "not together"},
        BrokenDocument{"HELP after family moved on", "a 1\nb 2\n# HELP a A.\n", 3, "not together"},
        BrokenDocument{"duplicate series", "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 1\n", 2,
                       "duplicate series"},
        BrokenDocument{"negative counter", "# TYPE c counter\nc{x=\"1\"} 1\nc{x=\"2\"} -1\n", 3,
                       "negative"},
        BrokenDocument{"NaN counter", "# TYPE c counter\nc NaN\n", 2, "NaN"},
        BrokenDocument{"histogram without +Inf",
                       replace_once(kGoodHistogram, "h_bucket{le=\"+Inf\"} 4\n", ""), 3, "+Inf"},
        BrokenDocument{"decreasing buckets",
                       replace_once(kGoodHistogram, "h_bucket{le=\"2\"} 3", "h_bucket{le=\"2\"} 0"),
                       3, "decrease"},
        BrokenDocument{"count differs from +Inf",
                       replace_once(kGoodHistogram, "h_count 4", "h_count 5"), 6, "+Inf bucket"},
        BrokenDocument{"buckets out of order",
                       replace_once(kGoodHistogram, "le=\"2\"", "le=\"0.5\""), 3, "increasing"},
        BrokenDocument{"same bound written twice",
                       replace_once(kGoodHistogram, "le=\"2\"", "le=\"1.0\""), 3, "increasing"},
        BrokenDocument{"no _count", replace_once(kGoodHistogram, "h_count 4\n", ""), 4, "_count"},
        BrokenDocument{"no _sum", replace_once(kGoodHistogram, "h_sum 5.5\n", ""), 4, "_sum"},
        BrokenDocument{"bucket without le",
                       replace_once(kGoodHistogram, "h_bucket{le=\"1\"}", "h_bucket"), 2, "le"},
        BrokenDocument{"bad le", replace_once(kGoodHistogram, "le=\"1\"", "le=\"one\""), 2,
                       "invalid le"},
        BrokenDocument{"le on _sum", replace_once(kGoodHistogram, "h_sum", "h_sum{le=\"1\"}"), 5,
                       "le label"},
        BrokenDocument{"bare histogram sample", kGoodHistogram + "h 1\n", 7, "_bucket"},
        BrokenDocument{"histogram with only _count", "# TYPE h histogram\nh_sum 0\nh_count 0\n", 2,
                       "no _bucket"},
        BrokenDocument{"summary without quantile", "# TYPE s summary\ns 1\n", 2, "quantile"},
        BrokenDocument{"summary quantiles out of order",
                       "# TYPE s summary\ns{quantile=\"0.9\"} 1\ns{quantile=\"0.5\"} 1\n"
                       "s_sum 2\ns_count 2\n",
                       3, "increasing"}),
    [](const ::testing::TestParamInfo<BrokenDocument>& param_info) {
        std::string name;
        for (const char* c = param_info.param.what; *c != '\0'; ++c) {
            name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
        }
        return name;
    });

}  // namespace
}  // namespace oidcgw::testing
