// An upstream that answers every blocking query at once, with a document that is refused, with
// two valid key sets in turn, or with a large hostile document: whatever it does, the gateway's
// cost stays bounded. Each test lets it run for ten seconds against the real gateway (watch on,
// refresh_interval 60s, so only the watch can trigger rounds), prints what it cost (requests to
// the upstream, the gateway's CPU time, log lines, memory) and asserts generous bounds.
#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace oidcgw::testing {
namespace {

constexpr const char* kDiscoveryPath = "/.well-known/openid-configuration";
constexpr const char* kJwksPath = "/.well-known/jwks.json";
constexpr auto kWindow = 10s;

// The CPU and memory bounds are for an optimised build. AddressSanitizer costs several times the
// CPU and keeps freed memory in quarantine: its build gets three times the room, which the
// defects' costs (ten times and more, before the fix) still exceed.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kCostScale = 3;
#else
constexpr double kCostScale = 1;
#endif

// What the gateway process has used so far, from /proc.
struct ProcessUsage {
    double cpu_seconds = 0;  // user + system
    long rss_kb = 0;         // resident now
    long peak_rss_kb = 0;    // VmHWM: the most it was ever resident
};

ProcessUsage process_usage(pid_t pid) {
    ProcessUsage usage;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15.
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    for (int number = 3; number <= 15 && fields >> field; ++number) {
        if (number >= 14) {
            usage.cpu_seconds += static_cast<double>(std::stoll(field)) /
                                 static_cast<double>(::sysconf(_SC_CLK_TCK));
        }
    }
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        const auto value = [&] { return std::stol(line.substr(line.find(':') + 1)); };
        if (line.starts_with("VmRSS:")) usage.rss_kb = value();
        if (line.starts_with("VmHWM:")) usage.peak_rss_kb = value();
    }
    return usage;
}

// What ten seconds of the hostile upstream cost.
struct WindowCost {
    int upstream_requests = 0;  // discovery and JWKS, watch and rounds together
    double cpu_seconds = 0;
    std::size_t log_lines = 0;
    std::size_t log_bytes = 0;
    long rss_kb = 0;              // at the end
    long peak_rss_growth_kb = 0;  // VmHWM at the end minus VmHWM at the start
    double publications = 0;
};

class HostileUpstreamE2E : public GatewayE2E {
  protected:
    void start_watching_gateway() {
        start_gateway_with(base_config({nomad_->base_url()}, "60s"));
        ASSERT_TRUE(wait_ready()) << gateway_->log();
        // The watch's first query (index 0) returns at once; the next one blocks.
        ASSERT_TRUE(wait_until([&] { return nomad_->request_count(kJwksPath) >= 2; }, 10s));
        std::this_thread::sleep_for(500ms);
    }

    int upstream_requests() {
        return nomad_->request_count(kDiscoveryPath) + nomad_->request_count(kJwksPath);
    }

    double metric(const std::string& name) {
        const PrometheusParse parse = parse_prometheus_text(health("/metrics").body);
        return parse.ok ? find_sample(parse, name, {{"issuer", issuer_}}).value_or(0) : -1;
    }

    // Runs `hostile` (which turns the upstream hostile) and measures the next kWindow.
    WindowCost measure(const std::string& name, const std::function<void()>& hostile) {
        const std::string log_before = gateway_->log();
        const std::size_t lines_before = std::count(log_before.begin(), log_before.end(), '\n');
        const int requests_before = upstream_requests();
        const double publications_before = metric("oidc_gateway_publications_total");
        const ProcessUsage usage_before = process_usage(gateway_->pid());
        hostile();
        std::this_thread::sleep_for(kWindow);
        const ProcessUsage usage_after = process_usage(gateway_->pid());
        const std::string log_after = gateway_->log();
        WindowCost cost;
        cost.upstream_requests = upstream_requests() - requests_before;
        cost.cpu_seconds = usage_after.cpu_seconds - usage_before.cpu_seconds;
        cost.log_lines = std::count(log_after.begin(), log_after.end(), '\n') - lines_before;
        cost.log_bytes = log_after.size() - log_before.size();
        cost.rss_kb = usage_after.rss_kb;
        cost.peak_rss_growth_kb = usage_after.peak_rss_kb - usage_before.peak_rss_kb;
        cost.publications = metric("oidc_gateway_publications_total") - publications_before;
        std::cout << "[ measured ] " << name << " over 10 s: upstream requests "
                  << cost.upstream_requests << ", gateway CPU " << cost.cpu_seconds << " s, log "
                  << cost.log_lines << " lines (" << cost.log_bytes << " bytes), publications "
                  << cost.publications << ", RSS " << cost.rss_kb / 1024 << " MiB (peak grew "
                  << cost.peak_rss_growth_kb / 1024 << " MiB)\n";
        RecordProperty("upstream_requests", cost.upstream_requests);
        RecordProperty("log_lines", static_cast<int>(cost.log_lines));
        return cost;
    }

    nlohmann::json issuer_status() {
        return nlohmann::json::parse(health("/status").body)["issuers"][0];
    }

    // A valid JWKS of `count` RSA keys (one modulus, distinct kids, no "use": every key draws a
    // warning, as in the security issue's measurement).
    std::string many_keys(std::size_t count, const std::string& kid_prefix) {
        auto key = nlohmann::ordered_json::parse(nomad_rsa_jwk(signing_key_.get(), kKid));
        key.erase("use");
        std::vector<std::string> keys;
        for (std::size_t i = 0; i < count; ++i) {
            key["kid"] = kid_prefix + std::to_string(i);
            keys.push_back(key.dump());
        }
        return jwks_with(keys);
    }
};

TEST_F(HostileUpstreamE2E, AnUpstreamWhoseAnswersAreRefusedIsAskedRarely) {
    ASSERT_NO_FATAL_FAILURE(start_watching_gateway());
    auto leaky = nlohmann::ordered_json::parse(nomad_rsa_jwk(signing_key_.get(), "leaky"));
    leaky["d"] = "cHJpdmF0ZS1leHBvbmVudA";
    const std::string refused = jwks_with({nomad_rsa_jwk(signing_key_.get(), kKid), leaky.dump()});

    const WindowCost cost = measure("refused answers at once",
                                    [&] { nomad_->set_churning_documents(kJwksPath, {refused}); });
    // Every answer is a "change" whose round fails. Measured before the fix: 120-140 requests.
    EXPECT_LE(cost.upstream_requests, 20) << gateway_->log();
    EXPECT_LE(cost.log_lines, 30u) << gateway_->log();
    EXPECT_EQ(cost.publications, 0);
    EXPECT_NE(issuer_status()["last_rejection"].value("detail", "").find("private_key_material"),
              std::string::npos);
    EXPECT_EQ(get(kJwksPath).body, jwks_);
    EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log();
}

TEST_F(HostileUpstreamE2E, TwoValidKeySetsInTurnArePublishedRarelyAndWarnedOnce) {
    ASSERT_NO_FATAL_FAILURE(start_watching_gateway());
    const std::string first = many_keys(999, "first-");
    const std::string second = many_keys(999, "second-");

    const WindowCost cost = measure("two valid 999-key sets in turn", [&] {
        nomad_->set_churning_documents(kJwksPath, {first, second});
    });
    // Measured before the fix: 44 publications, 44,154 log lines (9.3 MB), 40% of a core.
    EXPECT_LE(cost.publications, 5) << gateway_->log();
    EXPECT_LE(cost.upstream_requests, 25);
    EXPECT_LE(cost.log_lines, 60u);
    EXPECT_LE(cost.log_bytes, 64u * 1024);
    EXPECT_LT(cost.cpu_seconds, 0.5 * kCostScale);
    // Each set's warnings, grouped, at most once each.
    EXPECT_LE(log_count("\"event\":\"jwks_warning\""), 10u);
    const std::string served = get(kJwksPath).body;
    EXPECT_TRUE(served == first || served == second);
    EXPECT_LE(issuer_status()["warnings"].size(), 10u);
    EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log();
}

TEST_F(HostileUpstreamE2E, ALargeHostileDocumentCostsLittleMemoryOrTime) {
    ASSERT_NO_FATAL_FAILURE(start_watching_gateway());
    // Just under max_document_bytes (1 MiB): a third of a million empty arrays as "keys".
    std::string huge = "{\"keys\":[[]";
    while (huge.size() + 5 < 1024 * 1024) huge += ",[]";
    huge += "]}";

    const WindowCost cost =
        measure("1 MiB of empty keys", [&] { nomad_->set_churning_documents(kJwksPath, {huge}); });
    // Measured before the fix: a quarter of a core and 49 MB resident for this document.
    EXPECT_LE(cost.upstream_requests, 20);
    EXPECT_LT(cost.cpu_seconds, 1.0 * kCostScale);
    EXPECT_LT(static_cast<double>(cost.peak_rss_growth_kb), 16 * 1024 * kCostScale);
    EXPECT_NE(issuer_status()["last_rejection"].value("detail", "").find("too_many_keys"),
              std::string::npos)
        << health("/status").body;
    EXPECT_EQ(get(kJwksPath).body, jwks_);
    EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log();
}

}  // namespace
}  // namespace oidcgw::testing
