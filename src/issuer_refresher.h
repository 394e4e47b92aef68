// Keeps one issuer's publication fresh: every refresh_interval (with jitter) it fetches the
// discovery document and then the JWKS from one upstream, trying the next upstream on any
// failure, validates the pair, and publishes it only when the bytes changed. A failed round
// leaves the last good pair in place and records why.
#pragma once

#include "config.h"
#include "document_cache.h"
#include "issuer_status.h"
#include "logger.h"
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
};

RefreshSettings refresh_settings_from(const Config& config);

class IssuerRefresher {
  public:
    IssuerRefresher(std::size_t status_index, IssuerConfig issuer, RefreshSettings settings,
                    PublishedSnapshot& snapshot, const DocumentCache& cache,
                    IssuerStatusBoard& status, Logger& logger);
    ~IssuerRefresher();
    IssuerRefresher(const IssuerRefresher&) = delete;
    IssuerRefresher& operator=(const IssuerRefresher&) = delete;

    void start();  // first round at once, then every refresh_interval
    void stop();   // aborts a transfer in flight and joins; idempotent

    // One round over the upstreams (what the thread runs). True when a valid pair was fetched.
    bool refresh_once();

  private:
    struct PairAttempt {
        std::optional<AcceptedDocuments> documents;
        std::string failure;  // when !documents: "<document>: <reason>"
    };

    void run();
    PairAttempt fetch_pair(const UpstreamUrl& upstream);
    void publish(AcceptedDocuments documents, const UpstreamUrl& upstream);
    std::chrono::milliseconds jittered_interval();

    std::size_t status_index_;
    IssuerConfig issuer_;
    RefreshSettings settings_;
    PublishedSnapshot& snapshot_;
    const DocumentCache& cache_;
    IssuerStatusBoard& status_;
    Logger& logger_;
    UpstreamClient client_;
    std::size_t preferred_upstream_ = 0;  // the last one that answered well is asked first
    std::mt19937_64 random_;

    std::atomic<bool> stopping_{false};
    std::mutex wake_mutex_;
    std::condition_variable wake_;
    std::thread thread_;
};

}  // namespace oidcgw
