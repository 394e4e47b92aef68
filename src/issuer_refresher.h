// Keeps one issuer's publication fresh: every refresh_interval (with jitter) it fetches the
// discovery document and then the JWKS from one upstream, trying the next upstream on any
// failure, validates the pair, and publishes it only when the bytes changed. A failed round
// leaves the last good pair in place and records why. Upstreams that fail back off
// exponentially (with jitter), so a dead one does not cost a timeout every round.
//
// With `watch`, a second thread long-polls the JWKS with Nomad's blocking query
// (?index=N&wait=…): when it returns bytes that differ from what is published, it wakes the
// refresher for an immediate round on that upstream, so a rotation is public within about a
// second. Bodies are compared, not indexes (the index also moves on unrelated state changes).
#pragma once

#include "config.h"
#include "document_cache.h"
#include "issuer_status.h"
#include "logger.h"
#include "metrics.h"
#include "published_snapshot.h"
#include "upstream_client.h"

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
    IssuerRefresher(IssuerConfig issuer, std::optional<UpstreamTlsMaterial> tls,
                    RefreshSettings settings, DocumentCache cache, RefreshContext context);
    ~IssuerRefresher();
    IssuerRefresher(const IssuerRefresher&) = delete;
    IssuerRefresher& operator=(const IssuerRefresher&) = delete;

    void start();         // first round at once, then every refresh_interval
    void request_stop();  // asks the threads to end (aborting transfers in flight); no wait
    void stop();          // request_stop, then join; idempotent

    // One round over the upstreams (what the thread runs). True when a valid pair was fetched.
    bool refresh_once();

    const IssuerConfig& issuer() const { return issuer_; }
    const std::optional<UpstreamTlsMaterial>& tls() const { return tls_; }
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

    void run();
    void watch();
    std::vector<std::size_t> upstream_order();
    void record_health(std::size_t index, bool ok);
    void request_refresh(std::size_t upstream_index);
    bool sleep_unless_stopping(std::chrono::milliseconds duration);
    PairAttempt fetch_pair(const UpstreamUrl& upstream);
    FetchResult fetch(const UpstreamUrl& upstream, std::string_view path, const char* document);
    void record_upstream(const UpstreamUrl& upstream, const std::string& result,
                         const std::string& detail, std::chrono::milliseconds elapsed);
    void publish(AcceptedDocuments documents, const UpstreamUrl& upstream);
    bool first_warning_of(const std::string& jwks_body);  // log this set's warnings?
    std::chrono::milliseconds jittered_interval();

    IssuerConfig issuer_;
    std::optional<UpstreamTlsMaterial> tls_;
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
    bool refresh_requested_ = false;  // guarded by wake_mutex_
    std::thread thread_;
    std::thread watch_thread_;
};

}  // namespace oidcgw
