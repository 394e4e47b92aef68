// Keeps one issuer's publication fresh: every refresh_interval (with jitter) it fetches the
// discovery document and then the JWKS from one upstream, trying the next upstream on any
// failure, validates the pair, and publishes it only when the bytes changed. A failed round
// leaves the last good pair in place and records why. Upstreams that fail back off
// exponentially (with jitter), so a dead one does not cost a timeout every round.
//
// With `watch`, a second thread long-polls the JWKS with Nomad's blocking query
// (?index=N&wait=…): when it returns bytes that differ from what is published, it asks the
// refresher for a round on that upstream and waits for its outcome, so a rotation is public
// within about a second. Bodies are compared, not indexes (the index also moves on unrelated
// state changes). A WatchPacer spaces the watch's queries and rounds, so an upstream that
// answers every blocking query at once cannot turn it into a busy loop (issuer_watch.cc).
#pragma once

#include "common/logger.h"
#include "common/metrics.h"
#include "config/config.h"
#include "publish/document_cache.h"
#include "publish/published_snapshot.h"
#include "upstream/issuer_status.h"
#include "upstream/upstream_client.h"
#include "upstream/watch_pacer.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

namespace oidcgw {

struct RefreshSettings {
    std::chrono::milliseconds refresh_interval{60'000};
    std::chrono::milliseconds upstream_timeout{10'000};
    std::size_t max_document_bytes = 1024 * 1024;
    std::chrono::seconds max_age{300};
    bool watch = true;
    std::chrono::milliseconds watch_wait{300'000};

    bool operator==(const RefreshSettings&) const = default;
};

RefreshSettings refresh_settings_from(const Config& config);

// Whether two issuer configurations fetch the same way (a reload keeps such a refresher).
bool same_fetching(const IssuerConfig& a, const IssuerConfig& b);

// The shared objects a refresher reports to; they outlive every refresher.
struct RefreshContext {
    PublishedSnapshot& snapshot;
    IssuerStatusBoard& status;
    Logger& logger;
    MetricsRegistry& metrics;
};

class IssuerRefresher {
  public:
    IssuerRefresher(IssuerConfig issuer, std::optional<LoadedUpstreamTls> tls,
                    RefreshSettings settings, DocumentCache cache, RefreshContext context);
    ~IssuerRefresher();
    IssuerRefresher(const IssuerRefresher&) = delete;
    IssuerRefresher& operator=(const IssuerRefresher&) = delete;

    void start();         // first round at once, then every refresh_interval
    void request_stop();  // asks the threads to end (aborting transfers in flight); no wait
    void stop();          // request_stop, then join; idempotent

    // One round over the upstreams (what the thread runs): Published or Unchanged when a valid
    // pair was fetched, Failed when every upstream failed.
    RoundOutcome refresh_once();

    const IssuerConfig& issuer() const { return issuer_; }
    const std::optional<LoadedUpstreamTls>& tls() const { return tls_; }
    const RefreshSettings& settings() const { return settings_; }
    const DocumentCache& cache() const { return cache_; }

  private:
    struct PairAttempt {
        std::optional<AcceptedDocuments> documents;
        std::string failure;  // when !documents: "<document> ...: <reason>"
    };

    struct UpstreamHealth {
        int consecutive_failures = 0;
        std::chrono::steady_clock::time_point retry_after{};
    };

    // Where and against what the watch compares: the JWKS path of the published discovery
    // document, and the published JWKS. Empty path: nothing published yet.
    struct WatchTarget {
        std::string path;
        std::string published_jwks;
    };

    void run();
    void watch();
    WatchTarget watch_target() const;
    // Asks the refresh thread for a round starting with `upstream_index` and waits for it.
    RoundOutcome run_round_for_watch(std::size_t upstream_index);
    void set_watch_state(const std::string& state, const std::string& upstream,
                         const std::string& detail);
    std::vector<std::size_t> upstream_order();
    void record_health(std::size_t index, bool ok);
    bool sleep_unless_stopping(std::chrono::milliseconds duration);
    bool sleep_until_unless_stopping(std::chrono::steady_clock::time_point until);
    PairAttempt fetch_pair(const UpstreamUrl& upstream);
    FetchResult fetch(const UpstreamUrl& upstream, std::string_view path, const char* document);
    void record_upstream(const UpstreamUrl& upstream, const std::string& result,
                         const std::string& detail, std::chrono::milliseconds elapsed);
    bool publish(AcceptedDocuments documents, const UpstreamUrl& upstream);  // true: changed
    bool first_warning_of(const std::string& jwks_body);  // log this set's warnings?
    std::chrono::milliseconds jittered_interval();

    IssuerConfig issuer_;
    std::optional<LoadedUpstreamTls> tls_;
    RefreshSettings settings_;
    DocumentCache cache_;
    RefreshContext context_;
    UpstreamClient client_;        // the refresh rounds'
    UpstreamClient watch_client_;  // the watch's (one transfer in flight per purpose)
    std::atomic<std::size_t> preferred_upstream_{0};  // the last that answered well goes first
    std::vector<UpstreamHealth> health_;              // refresh thread only
    std::mt19937_64 random_;                          // refresh thread only
    bool record_saved_ = false;  // refresh thread only: the cache record holds what is published
    // Refresh thread only: digests of the key sets whose warnings were logged, and when.
    std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> warned_sets_;

    std::atomic<bool> stopping_{false};
    std::mutex wake_mutex_;
    std::condition_variable wake_;
    // Guarded by wake_mutex_: rounds the watch asked for (a ticket each), the last ticket a
    // finished round served, and that round's outcome.
    std::uint64_t rounds_requested_ = 0;
    std::uint64_t rounds_served_ = 0;
    RoundOutcome served_outcome_ = RoundOutcome::Failed;
    std::thread thread_;
    std::thread watch_thread_;
};

}  // namespace oidcgw
