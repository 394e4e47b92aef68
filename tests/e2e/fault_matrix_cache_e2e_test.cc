// The fault matrix, continued: a name that does not resolve as the first of two upstreams, and
// the cache directory (a damaged record at start, a directory that stops being writable).
#include "fault_matrix_fixture.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace oidcgw::testing {
namespace {

// ---- A name that does not resolve, as the first of two upstreams -----------------------------

class FaultMatrixTwoUpstreams : public FaultMatrixBase {};

TEST_F(FaultMatrixTwoUpstreams, UnresolvableNameIsRecordedWhileTheSecondKeepsItFresh) {
    // .invalid never resolves (RFC 6761); the machine's resolver must answer NXDOMAIN promptly
    // (one that cannot be reached makes the lookup itself time out). Making the name resolve
    // later would mean changing that resolver, so recovery here is the second upstream keeping
    // the pair fresh.
    const std::string unresolvable = "https://nonexistent.invalid:4646";
    const std::string working = nomad_->base_url();
    start_gateway({unresolvable, working});
    ASSERT_TRUE(wait_ready()) << gateway_->log();

    ASSERT_TRUE(wait_until(
        [&] {
            return log_line_with({field("event", "upstream_fetch_failed"),
                                  field("upstream", unresolvable), field("reason", "dns")});
        },
        kBound))
        << gateway_->log();
    EXPECT_GE(metric("oidc_gateway_upstream_fetches_total",
                     {{"issuer", issuer_}, {"upstream", unresolvable}, {"result", "dns"}})
                  .value_or(0),
              1.0);
    nlohmann::json dead;
    ASSERT_NO_FATAL_FAILURE(wait_upstream_result(unresolvable, "dns", &dead));
    EXPECT_FALSE(dead.value("detail", "").empty());
    EXPECT_LT(dead.value("duration_ms", -1LL), 1900) << "a failed lookup is not a timeout";

    const Served before = served();
    EXPECT_EQ(before.discovery.body, nomad_discovery_document(issuer_));
    EXPECT_EQ(before.jwks.body, jwks_);
    EXPECT_EQ(health("/readyz").status, 200);

    // Round after round the second upstream vouches for the pair.
    nlohmann::json first;
    ASSERT_NO_FATAL_FAILURE(wait_upstream_result(working, "ok", &first));
    nlohmann::json later;
    ASSERT_NO_FATAL_FAILURE(
        wait_upstream_result(working, "ok", &later, [&](const nlohmann::json& entry) {
            return entry.value("time", "") > first.value("time", "");
        }));
    expect_still_serving(before);

    // And a rotation at the second upstream is published.
    EvpPkeyPtr next_key = generate_rsa_key();
    const std::string rotated = jwks_with(
        {nomad_rsa_jwk(signing_key_.get(), kKid), nomad_rsa_jwk(next_key.get(), kRotatedKid)});
    nomad_->set_document(kJwksPath, rotated);
    EXPECT_TRUE(wait_until([&] { return get(kJwksPath).body == rotated; }, kBound))
        << gateway_->log();
    expect_clean_exit();
}

// ---- The cache directory --------------------------------------------------------------------

class FaultMatrixCache : public FaultMatrixBase {
  protected:
    // The one record in cache_dir, once the gateway has written it.
    std::string wait_cache_record() {
        std::string found;
        wait_until(
            [&] {
                for (const auto& entry : std::filesystem::directory_iterator(cache_dir())) {
                    const std::string name = entry.path().filename().string();
                    if (name.rfind("issuer-", 0) == 0) found = entry.path().string();
                }
                return !found.empty();
            },
            kBound);
        return found;
    }

    // Writes a good record, damages it with `damage` while gateway and upstream are down, and
    // restarts the gateway on it: the record is ignored with `expected_detail`, nothing is
    // served, and the pair comes back once the upstream does.
    void restart_on_damaged_cache(const std::function<void(std::string&)>& damage,
                                  const std::string& expected_detail,
                                  const std::string& never_served) {
        const std::string upstream_url = nomad_->base_url();
        start_gateway({upstream_url});
        ASSERT_TRUE(wait_ready()) << gateway_->log();
        const Served before = served();
        ASSERT_EQ(before.jwks.body, jwks_);
        const std::string record = wait_cache_record();
        ASSERT_FALSE(record.empty()) << gateway_->log();
        ASSERT_EQ(gateway_->stop(SIGTERM), 0);
        stop_upstream();

        std::string text = read_file(record);
        damage(text);
        write_file(record, text);
        start_gateway({upstream_url});
        ASSERT_TRUE(wait_until(
            [&] {
                return log_line_with(
                    {field("event", "cache_ignored"), field("issuer", issuer_), expected_detail});
            },
            kBound))
            << gateway_->log();
        ASSERT_TRUE(wait_until([&] { return health("/healthz").status == 200; }, kBound));

        // Never served: not at start and not across the next refresh rounds either.
        const auto until = std::chrono::steady_clock::now() + 1500ms;
        do {
            const HttpResponse ready = health("/readyz");
            EXPECT_EQ(ready.status, 503);
            const Served now = served();
            EXPECT_EQ(now.discovery.status, 503);
            EXPECT_EQ(now.jwks.status, 503);
            EXPECT_EQ(now.discovery.body.find('{'), std::string::npos) << now.discovery.body;
            EXPECT_EQ(now.jwks.body.find('{'), std::string::npos) << now.jwks.body;
            std::this_thread::sleep_for(250ms);
        } while (std::chrono::steady_clock::now() < until && !HasFailure());
        EXPECT_EQ(gateway_->log().find("cache_loaded"), std::string::npos);
        EXPECT_FALSE(issuer_status().value("ready", true));
        if (!never_served.empty()) {
            expect_not_public(never_served);
            EXPECT_EQ(health("/status").body.find(never_served), std::string::npos);
        }

        // The upstream answers again: the pair is fetched, validated and served.
        replace_upstream(healthy_server_certificate(), healthy_upstream_ca());
        serve_documents(jwks_);
        ASSERT_TRUE(wait_ready()) << gateway_->log();
        nlohmann::json recovered;
        ASSERT_NO_FATAL_FAILURE(wait_upstream_result(upstream_url, "ok", &recovered));
        const Served after = served();
        EXPECT_EQ(after.discovery.body, before.discovery.body);
        EXPECT_EQ(after.jwks.body, before.jwks.body);
        EXPECT_EQ(issuer_status().value("source", ""), "upstream");
        if (!never_served.empty()) expect_not_public(never_served);
        expect_clean_exit();
    }
};

TEST_F(FaultMatrixCache, TruncatedRecordAtStartIsIgnoredNeverServed) {
    restart_on_damaged_cache([](std::string& text) { text.resize(text.size() / 2); },
                             "not a cache record", "");
}

TEST_F(FaultMatrixCache, TamperedRecordAtStartIsIgnoredNeverServed) {
    // One character of the kid inside the recorded JWKS: the altered set would still pass
    // validation, so only the record's checksum can tell.
    std::string tampered_kid = kKid;
    tampered_kid[0] = tampered_kid[0] == '3' ? '4' : '3';
    restart_on_damaged_cache(
        [&](std::string& text) {
            const std::size_t at = text.find(kKid);
            ASSERT_NE(at, std::string::npos) << text;
            text.replace(at, tampered_kid.size(), tampered_kid);
        },
        "fails its checksum", tampered_kid);
}

TEST_F(FaultMatrixCache, UnwritableCacheDirIsReportedWhileServingGoesOn) {
    // Root ignores permissions, so the gateway must run as an unprivileged user for a
    // directory it cannot write.
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the gateway as nobody";
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    const uid_t nobody_uid = nobody->pw_uid;
    const gid_t nobody_gid = nobody->pw_gid;
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
    const std::string cache = cache_dir();
    ASSERT_EQ(::chown(cache.c_str(), nobody_uid, nobody_gid), 0);
    nlohmann::json config = base_config({nomad_->base_url()});
    config["user"] = "nobody";
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    const std::string record = wait_cache_record();
    ASSERT_FALSE(record.empty()) << gateway_->log();
    EXPECT_EQ(issuer_status().value("cache_error", "x"), "");
    const Served before = served();

    // Owned by root, mode 0755: nobody can no longer create the record's temporary file.
    ASSERT_EQ(::chown(cache.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(cache.c_str(), 0755), 0);
    ASSERT_TRUE(wait_until(
        [&] {
            return log_line_with({field("event", "cache_write_failed"), field("issuer", issuer_)});
        },
        kBound))
        << gateway_->log();
    EXPECT_TRUE(wait_until(
        [&] {
            return metric("oidc_gateway_cache_write_failures_total", {{"issuer", issuer_}})
                       .value_or(0) >= 1;
        },
        kBound));
    std::string cache_error;
    EXPECT_TRUE(wait_until(
        [&] {
            cache_error = issuer_status().value("cache_error", "");
            return !cache_error.empty();
        },
        kBound))
        << health("/status").body;
    EXPECT_NE(cache_error.find(cache), std::string::npos) << cache_error;
    expect_still_serving(before);
    // Unchanged rounds confirm the record through a side file rather than rewriting it: the
    // later of the two says when an upstream last vouched for the pair.
    const auto confirmed_at = [&] {
        std::time_t latest =
            nlohmann::json::parse(read_file(record)).value("confirmed_at", std::time_t{0});
        for (const auto& entry : std::filesystem::directory_iterator(cache)) {
            if (!entry.path().filename().string().starts_with("confirmed-")) continue;
            const auto confirmation = nlohmann::json::parse(read_file(entry.path().string()),
                                                            nullptr, /*allow_exceptions=*/false);
            if (!confirmation.is_object()) continue;
            latest = std::max(latest, confirmation.value("confirmed_at", std::time_t{0}));
        }
        return latest;
    };
    const std::time_t confirmed_before = confirmed_at();

    // Writable again: the next refresh confirms the record and clears the error.
    ASSERT_EQ(::chown(cache.c_str(), nobody_uid, nobody_gid), 0);
    EXPECT_TRUE(
        wait_until([&] { return issuer_status().value("cache_error", "x").empty(); }, kBound))
        << health("/status").body;
    EXPECT_TRUE(wait_until([&] { return confirmed_at() > confirmed_before; }, kBound));
    expect_still_serving(before);
    expect_clean_exit();
}

}  // namespace
}  // namespace oidcgw::testing
