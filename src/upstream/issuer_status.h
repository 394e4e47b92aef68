// What operators (and /readyz, /status, /metrics) need to know about each issuer's fetching,
// kept apart from the publication so that recording a failure never disturbs what is served.
#pragma once

#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

struct UpstreamResult {
    std::time_t time = 0;
    std::string result;  // "ok", or a fetch error code / rejection code
    std::string detail;  // "" for ok
    long long duration_ms = 0;
};

// The JWKS watch of one issuer (see issuer_refresher.h).
struct WatchStatus {
    // "off" (watch false), "starting" (nothing published yet), "watching" (blocking queries
    // answered with X-Nomad-Index), "polling" (the last answer had none: compared as a poll, the
    // blocking query retried with backoff), "failing" (the last query failed: retried with
    // backoff; the refresh rounds still poll).
    std::string state = "off";
    std::time_t since = 0;  // when it entered that state
    std::string upstream;   // the upstream watched, or last tried
    std::string detail;     // why polling or failing
    // The pause after a watch-triggered round before the next may start: 5 s when calm, doubled
    // while rounds fail or the upstream keeps changing (see watch_pacer.h).
    long long round_backoff_ms = 0;
};

struct IssuerStatus {
    std::string issuer;
    std::string source;            // "", "cache" or "upstream": where the served pair came from
    std::time_t last_success = 0;  // last round in which an upstream answered with a valid pair
    std::time_t last_change = 0;   // last time the served bytes changed
    std::string last_error;        // last failed round's reason; cleared by a success
    std::time_t last_rejection_time = 0;
    std::string last_rejection;         // last document refused: "<upstream>: <document> ..."
    std::vector<std::string> warnings;  // from the served pair's validation
    std::string cache_error;            // last failed write to cache_dir; cleared by a success
    std::map<std::string, UpstreamResult> upstreams;  // last result per upstream URL
    WatchStatus watch;
};

class IssuerStatusBoard {
  public:
    IssuerStatusBoard() = default;
    explicit IssuerStatusBoard(const std::vector<std::string>& issuers) { set_issuers(issuers); }

    // Keeps the entries of issuers still configured, adds new ones, drops removed ones; the order
    // of `issuers` becomes the order of all().
    void set_issuers(const std::vector<std::string>& issuers);

    std::optional<IssuerStatus> get(const std::string& issuer) const;
    std::vector<IssuerStatus> all() const;

    // Applies `change` to the issuer's entry; nothing when the issuer is no longer configured.
    template <typename Change>
    void modify(const std::string& issuer, Change&& change) {
        std::lock_guard lock(mutex_);
        for (IssuerStatus& status : statuses_) {
            if (status.issuer == issuer) {
                change(status);
                return;
            }
        }
    }

  private:
    mutable std::mutex mutex_;
    std::vector<IssuerStatus> statuses_;
};

}  // namespace oidcgw
