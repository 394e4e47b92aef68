// conf/grafana/oidc-gateway.json: every metric its queries name is present in a real /metrics
// scrape of a running gateway (so no panel is silently empty from a typo or a renamed metric),
// every query is PromQL that promtool accepts, and the panels are well formed.
#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <filesystem>
#include <regex>
#include <set>

namespace oidcgw::testing {
namespace {

const char* const kPromtool = "/usr/bin/promtool";

nlohmann::json load_dashboard() {
    return nlohmann::json::parse(
        read_file(std::string(OIDCGW_SOURCE_DIR) + "/conf/grafana/oidc-gateway.json"));
}

// Every PromQL text of the dashboard: the panels' targets (rows' nested panels too) and the
// template variables' queries.
void collect_queries(const nlohmann::json& panels, std::vector<std::string>* queries) {
    for (const auto& panel : panels) {
        for (const auto& target : panel.value("targets", nlohmann::json::array())) {
            queries->push_back(target.at("expr").get<std::string>());
        }
        if (panel.contains("panels")) collect_queries(panel.at("panels"), queries);
    }
}

std::vector<std::string> dashboard_queries(const nlohmann::json& dashboard) {
    std::vector<std::string> queries;
    collect_queries(dashboard.at("panels"), &queries);
    for (const auto& variable : dashboard.at("templating").at("list")) {
        if (variable.value("type", "") == "query") {
            queries.push_back(variable.at("query").at("query").get<std::string>());
        }
    }
    return queries;
}

std::set<std::string> metric_names(const std::vector<std::string>& queries) {
    static const std::regex name("oidc_gateway_[a-z0-9_]+");
    std::set<std::string> names;
    for (const std::string& query : queries) {
        for (auto it = std::sregex_iterator(query.begin(), query.end(), name);
             it != std::sregex_iterator(); ++it) {
            names.insert(it->str());
        }
    }
    return names;
}

// Grafana's variables replaced by what they stand for, so promtool can parse the query.
std::string as_promql(std::string query) {
    for (const auto& [variable, value] : std::vector<std::pair<std::string, std::string>>{
             {"$__rate_interval", "5m"}, {"$instance", ".*"}, {"$issuer", ".*"}}) {
        for (std::size_t at = query.find(variable); at != std::string::npos;
             at = query.find(variable, at + value.size())) {
            query.replace(at, variable.size(), value);
        }
    }
    return query;
}

TEST(Dashboard, PanelsAreWellFormedAndEveryQueryIsPromql) {
    const nlohmann::json dashboard = load_dashboard();
    EXPECT_EQ(dashboard.at("uid"), "oidc-gateway");
    std::set<int> ids;
    for (const auto& panel : dashboard.at("panels")) {
        EXPECT_TRUE(ids.insert(panel.at("id").get<int>()).second) << panel.dump();
        ASSERT_TRUE(panel.contains("gridPos")) << panel.dump();
        if (panel.at("type") == "row") continue;
        EXPECT_EQ(panel.at("datasource").at("uid"), "${datasource}") << panel.at("title");
        EXPECT_FALSE(panel.value("description", "").empty()) << panel.at("title");
        ASSERT_FALSE(panel.at("targets").empty()) << panel.at("title");
    }
    const std::vector<std::string> queries = dashboard_queries(dashboard);
    ASSERT_GE(queries.size(), 15u);

    // promtool parses each query as a recording rule's expression.
    ASSERT_TRUE(std::filesystem::exists(kPromtool)) << "scripts/setup installs prometheus";
    TempDir dir;
    std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
    for (std::size_t index = 0; index < queries.size(); ++index) {
        const std::string query = as_promql(queries[index]);
        // label_values() is Grafana's, not PromQL: its argument is the series selector.
        const std::string expression =
            query.rfind("label_values(", 0) == 0 ? query.substr(13, query.rfind(',') - 13) : query;
        rules += "      - record: dashboard:query_" + std::to_string(index) +
                 "\n        expr: " + nlohmann::json(expression).dump() + "\n";
    }
    const std::string rules_file = dir.file("dashboard-rules.yml");
    write_file(rules_file, rules);
    ChildProcess promtool({kPromtool, "check", "rules", rules_file}, dir.file("promtool.log"));
    promtool.start();
    EXPECT_EQ(promtool.wait_exit(30s), 0) << promtool.log() << rules;
}

TEST_F(GatewayE2E, EveryMetricTheDashboardNamesIsInARealScrape) {
    const std::set<std::string> names = metric_names(dashboard_queries(load_dashboard()));
    ASSERT_GE(names.size(), 10u);

    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    // What a day of traffic shows: requests, and an upstream document refused.
    ASSERT_EQ(get("/.well-known/jwks.json").status, 200);
    nomad_->set_document("/.well-known/jwks.json", "{\"keys\":[]}");
    std::set<std::string> scraped;
    ASSERT_TRUE(wait_until(
        [&] {
            const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
            if (!metrics.ok) return false;
            scraped.clear();
            for (const PrometheusSample& sample : metrics.samples) scraped.insert(sample.name);
            return scraped.count("oidc_gateway_documents_rejected_total") != 0;
        },
        15s))
        << gateway_->log();
    for (const std::string& name : names) {
        EXPECT_EQ(scraped.count(name), 1u) << name << " is named by the dashboard but not scraped";
    }
}

}  // namespace
}  // namespace oidcgw::testing
