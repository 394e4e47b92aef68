#include "upstream/issuer_refresher.h"

#include "common/digest.h"
#include "publish/publication_assembly.h"

#include <algorithm>
#include <ctime>

namespace oidcgw {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxKidsLogged = 20;         // of documents_published; key_count has all
constexpr std::size_t kWarnedSetsRemembered = 16;  // key sets whose warnings were logged

const std::vector<double> kFetchSecondsBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5,   1,    2.5,   5,    10};

bool same_tls(const std::optional<UpstreamTls>& a, const std::optional<UpstreamTls>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    return a->ca == b->ca && a->certificate == b->certificate && a->private_key == b->private_key &&
           a->server_name == b->server_name;
}

}  // namespace

RefreshSettings refresh_settings_from(const Config& config) {
    RefreshSettings settings;
    settings.refresh_interval = config.refresh_interval;
    settings.upstream_timeout = config.upstream_timeout;
    settings.max_document_bytes = config.max_document_bytes;
    settings.max_age = std::chrono::duration_cast<std::chrono::seconds>(config.max_age);
    settings.watch = config.watch;
    settings.watch_wait = config.watch_wait;
    return settings;
}

bool same_fetching(const IssuerConfig& a, const IssuerConfig& b) {
    if (a.issuer.text != b.issuer.text || a.upstreams.size() != b.upstreams.size()) return false;
    for (std::size_t i = 0; i < a.upstreams.size(); ++i) {
        if (a.upstreams[i].text != b.upstreams[i].text) return false;
    }
    return same_tls(a.upstream_tls, b.upstream_tls);
}

IssuerRefresher::IssuerRefresher(IssuerConfig issuer, std::optional<LoadedUpstreamTls> tls,
                                 RefreshSettings settings, DocumentCache cache,
                                 RefreshContext context)
    : issuer_(std::move(issuer)),
      tls_(std::move(tls)),
      settings_(settings),
      cache_(std::move(cache)),
      context_(context),
      client_(UpstreamClientSettings{tls_, settings.upstream_timeout, settings.max_document_bytes}),
      watch_client_(
          UpstreamClientSettings{tls_, settings.upstream_timeout, settings.max_document_bytes}),
      health_(issuer_.upstreams.size()),
      random_(std::random_device{}()) {}

IssuerRefresher::~IssuerRefresher() {
    stop();
}

void IssuerRefresher::start() {
    set_watch_state(settings_.watch ? "starting" : "off", "", "");
    const long long backoff_ms =
        settings_.watch ? watch_pacing_for(settings_.refresh_interval).min_round_interval.count()
                        : 0;
    context_.status.modify(issuer_.issuer.text, [&](IssuerStatus& status) {
        status.watch.round_backoff_ms = backoff_ms;
    });
    thread_ = std::thread([this] { run(); });
    if (settings_.watch) watch_thread_ = std::thread([this] { watch(); });
}

void IssuerRefresher::request_stop() {
    {
        std::lock_guard lock(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
}

void IssuerRefresher::stop() {
    request_stop();
    if (thread_.joinable()) thread_.join();
    if (watch_thread_.joinable()) watch_thread_.join();
}

bool IssuerRefresher::sleep_unless_stopping(std::chrono::milliseconds duration) {
    std::unique_lock lock(wake_mutex_);
    return !wake_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

bool IssuerRefresher::sleep_until_unless_stopping(std::chrono::steady_clock::time_point until) {
    std::unique_lock lock(wake_mutex_);
    return !wake_.wait_until(lock, until, [this] { return stopping_.load(); });
}

std::chrono::milliseconds IssuerRefresher::jittered_interval() {
    // ±10% so that several gateways (or issuers) started together do not poll in lockstep.
    std::uniform_real_distribution<double> factor(0.9, 1.1);
    return std::chrono::milliseconds(static_cast<long long>(
        static_cast<double>(settings_.refresh_interval.count()) * factor(random_)));
}

void IssuerRefresher::run() {
    while (!stopping_) {
        std::uint64_t serving;  // every watch request made before the round starts
        {
            std::lock_guard lock(wake_mutex_);
            serving = rounds_requested_;
        }
        const RoundOutcome outcome = refresh_once();
        std::unique_lock lock(wake_mutex_);
        if (serving > rounds_served_) {
            rounds_served_ = serving;
            served_outcome_ = outcome;
            wake_.notify_all();
        }
        wake_.wait_for(lock, jittered_interval(),
                       [&] { return stopping_.load() || rounds_requested_ > serving; });
    }
}

std::vector<std::size_t> IssuerRefresher::upstream_order() {
    // Healthy upstreams first, starting with the preferred one; then those backing off, soonest
    // first (so that with every upstream failing each round still tries them all).
    const auto now = std::chrono::steady_clock::now();
    const std::size_t count = issuer_.upstreams.size();
    const std::size_t preferred = preferred_upstream_.load() % count;
    std::vector<std::size_t> ready, backing_off;
    for (std::size_t offset = 0; offset < count; ++offset) {
        const std::size_t index = (preferred + offset) % count;
        (health_[index].retry_after <= now ? ready : backing_off).push_back(index);
    }
    std::sort(backing_off.begin(), backing_off.end(), [&](std::size_t a, std::size_t b) {
        return health_[a].retry_after < health_[b].retry_after;
    });
    ready.insert(ready.end(), backing_off.begin(), backing_off.end());
    return ready;
}

void IssuerRefresher::record_health(std::size_t index, bool ok) {
    UpstreamHealth& health = health_[index];
    if (ok) {
        health = {};
        return;
    }
    ++health.consecutive_failures;
    // 1 s, 2 s, 4 s … capped at 5 minutes, each scaled by a random 50–100%.
    const long long base_ms = 1000LL << std::min(health.consecutive_failures - 1, 9);
    std::uniform_real_distribution<double> factor(0.5, 1.0);
    const auto backoff = std::chrono::milliseconds(static_cast<long long>(
        static_cast<double>(std::min<long long>(base_ms, 300'000)) * factor(random_)));
    health.retry_after = std::chrono::steady_clock::now() + backoff;
}

void IssuerRefresher::record_upstream(const UpstreamUrl& upstream, const std::string& result,
                                      const std::string& detail,
                                      std::chrono::milliseconds elapsed) {
    context_.status.modify(issuer_.issuer.text, [&](IssuerStatus& status) {
        status.upstreams[upstream.text] =
            UpstreamResult{std::time(nullptr), result, detail, elapsed.count()};
    });
}

FetchResult IssuerRefresher::fetch(const UpstreamUrl& upstream, std::string_view path,
                                   const char* document) {
    FetchResult fetched = client_.get(upstream, path, stopping_);
    const std::string result = fetched.ok ? "ok" : fetched.error_code;
    context_.metrics
        .counter("oidc_gateway_upstream_fetches_total",
                 "Upstream document fetches by issuer, upstream, document and result.",
                 {{"issuer", issuer_.issuer.text},
                  {"upstream", upstream.text},
                  {"document", document},
                  {"result", result}})
        .increment();
    context_.metrics
        .histogram("oidc_gateway_upstream_fetch_duration_seconds",
                   "Time taken by upstream document fetches.",
                   {{"issuer", issuer_.issuer.text}, {"upstream", upstream.text}},
                   kFetchSecondsBuckets)
        .observe(static_cast<double>(fetched.elapsed.count()) / 1000.0);
    if (!fetched.ok) {
        context_.logger.warn("upstream_fetch_failed", {{"issuer", issuer_.issuer.text},
                                                       {"upstream", upstream.text},
                                                       {"document", document},
                                                       {"reason", fetched.error_code},
                                                       {"detail", fetched.error}});
        record_upstream(upstream, fetched.error_code, fetched.error, fetched.elapsed);
    }
    return fetched;
}

IssuerRefresher::PairAttempt IssuerRefresher::fetch_pair(const UpstreamUrl& upstream) {
    PairAttempt attempt;
    const auto rejected = [&](const char* document, const Rejection& rejection) {
        attempt.failure =
            std::string(document) + " rejected: " + rejection.code + ": " + rejection.detail;
        context_.logger.warn("document_rejected", {{"issuer", issuer_.issuer.text},
                                                   {"upstream", upstream.text},
                                                   {"document", document},
                                                   {"reason", rejection.code},
                                                   {"detail", rejection.detail}});
        context_.metrics
            .counter("oidc_gateway_documents_rejected_total",
                     "Upstream documents refused by validation, by issuer, document and reason.",
                     {{"issuer", issuer_.issuer.text},
                      {"document", document},
                      {"reason", rejection.code}})
            .increment();
        context_.status.modify(issuer_.issuer.text, [&](IssuerStatus& status) {
            status.last_rejection_time = std::time(nullptr);
            status.last_rejection = upstream.text + ": " + attempt.failure;
        });
        record_upstream(upstream, rejection.code, rejection.detail, {});
    };
    const auto failed = [&](const char* document, const FetchResult& fetched) {
        attempt.failure =
            std::string(document) + " fetch failed: " + fetched.error_code + ": " + fetched.error;
    };

    FetchResult discovery = fetch(upstream, "/.well-known/openid-configuration", "discovery");
    if (!discovery.ok) {
        failed("discovery", discovery);
        return attempt;
    }
    Rejection rejection;
    auto discovery_info = validate_discovery(discovery.body, issuer_.issuer, &rejection);
    if (!discovery_info) {
        rejected("discovery", rejection);
        return attempt;
    }
    FetchResult jwks = fetch(upstream, discovery_info->jwks_upstream_path, "jwks");
    if (!jwks.ok) {
        failed("jwks", jwks);
        return attempt;
    }
    // Validate the two as the unit that will be published.
    auto accepted =
        accept_document_pair(issuer_.issuer, std::move(discovery.body), std::move(jwks.body),
                             settings_.max_document_bytes, &rejection);
    if (!accepted) {
        rejected("jwks", rejection);
        return attempt;
    }
    // One issuer's upstream must not place keys where another configured issuer's clients look.
    const std::string conflict = jwks_path_conflict(*context_.snapshot.load(), issuer_.issuer,
                                                    accepted->discovery.jwks_path);
    if (!conflict.empty()) {
        rejected("discovery", Rejection{"jwks_path_conflict", conflict});
        return attempt;
    }
    record_upstream(upstream, "ok", "", discovery.elapsed + jwks.elapsed);
    attempt.documents = std::move(accepted);
    return attempt;
}

RoundOutcome IssuerRefresher::refresh_once() {
    std::string failures;
    // Healthy upstreams come first; one still backing off is asked only when every healthy one
    // failed this round, so a dead upstream costs nothing while another answers.
    for (const std::size_t index : upstream_order()) {
        if (stopping_) break;
        const UpstreamUrl& upstream = issuer_.upstreams[index];
        PairAttempt attempt = fetch_pair(upstream);
        record_health(index, attempt.documents.has_value());
        if (attempt.documents) {
            preferred_upstream_ = index;
            return publish(std::move(*attempt.documents), upstream) ? RoundOutcome::Published
                                                                    : RoundOutcome::Unchanged;
        }
        if (!failures.empty()) failures += "; ";
        failures += upstream.text + ": " + attempt.failure;
    }
    if (stopping_) return RoundOutcome::Failed;
    context_.logger.error("refresh_failed", {{"issuer", issuer_.issuer.text},
                                             {"detail", "every upstream failed; last good kept"},
                                             {"failures", failures}});
    context_.status.modify(issuer_.issuer.text,
                           [&](IssuerStatus& status) { status.last_error = failures; });
    return RoundOutcome::Failed;
}

bool IssuerRefresher::publish(AcceptedDocuments documents, const UpstreamUrl& upstream) {
    const std::time_t now = std::time(nullptr);
    documents.confirmed_at = now;
    documents.discovery_modified = now;
    documents.jwks_modified = now;
    bool changed = false;
    context_.snapshot.update([&](const Publication& current) -> std::shared_ptr<const Publication> {
        auto next = std::make_shared<Publication>(current);
        for (IssuerSlot& slot : next->issuers) {
            if (slot.issuer.text != issuer_.issuer.text) continue;
            // An upstream vouched for the pair now, even if the wall clock stepped back since
            // (the confirmation time is shared by every copy of the slot).
            slot.confirmed_at->store(now, std::memory_order_relaxed);
            changed = publish_pair(slot, documents, settings_.max_age);
            return changed ? next : nullptr;
        }
        return nullptr;  // this issuer is no longer configured
    });

    context_.status.modify(issuer_.issuer.text, [&](IssuerStatus& status) {
        status.source = "upstream";
        status.last_success = now;
        status.last_error.clear();
        if (changed) {
            status.last_change = now;
            status.warnings = documents.jwks.warnings;
        }
    });
    // New bytes (or a record this refresher has not written yet) are saved whole, fsynced; the
    // same bytes again only move the confirmation time, cheaply (document_cache.h).
    std::string cache_error;
    bool cached = false;
    if (!changed && record_saved_) {
        switch (cache_.confirm(issuer_.issuer, documents, &cache_error)) {
            case DocumentCache::ConfirmResult::Confirmed:
                cached = true;
                break;
            case DocumentCache::ConfirmResult::RecordMissing:
                cached = cache_.save(issuer_.issuer, documents, &cache_error);
                break;
            case DocumentCache::ConfirmResult::Failed:
                break;
        }
    } else {
        cached = cache_.save(issuer_.issuer, documents, &cache_error);
        record_saved_ = cached;
    }
    if (!cached) {
        context_.logger.error("cache_write_failed",
                              {{"issuer", issuer_.issuer.text}, {"detail", cache_error}});
        context_.metrics
            .counter("oidc_gateway_cache_write_failures_total",
                     "Failed writes of the last good pair to cache_dir, by issuer.",
                     {{"issuer", issuer_.issuer.text}})
            .increment();
    }
    context_.status.modify(issuer_.issuer.text,
                           [&](IssuerStatus& status) { status.cache_error = cache_error; });
    if (!changed) {
        context_.logger.debug("documents_unchanged",
                              {{"issuer", issuer_.issuer.text}, {"upstream", upstream.text}});
        return false;
    }
    context_.metrics
        .counter("oidc_gateway_publications_total",
                 "Document pairs published (bytes changed), by issuer.",
                 {{"issuer", issuer_.issuer.text}})
        .increment();
    nlohmann::json kids = nlohmann::json::array();
    for (const KeySummary& key : documents.jwks.keys) {
        if (kids.size() == kMaxKidsLogged) break;
        kids.push_back(key.kid);
    }
    context_.logger.info("documents_published", {{"issuer", issuer_.issuer.text},
                                                 {"upstream", upstream.text},
                                                 {"jwks_path", documents.discovery.jwks_path},
                                                 {"key_count", documents.jwks.keys.size()},
                                                 {"kids", kids}});
    if (first_warning_of(documents.jwks_body)) {
        for (const std::string& warning : documents.jwks.warnings) {
            context_.logger.warn("jwks_warning",
                                 {{"issuer", issuer_.issuer.text}, {"warning", warning}});
        }
    }
    return true;
}

bool IssuerRefresher::first_warning_of(const std::string& jwks_body) {
    // A key set's warnings are logged when it is first published, not again when an upstream
    // flips back to it within the hour (the sets it flips between are remembered).
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(warned_sets_, [&](const auto& entry) { return now - entry.second > 1h; });
    const std::string digest = sha256_hex(jwks_body);
    for (const auto& [seen, when] : warned_sets_) {
        if (seen == digest) return false;
    }
    if (warned_sets_.size() == kWarnedSetsRemembered) warned_sets_.erase(warned_sets_.begin());
    warned_sets_.emplace_back(digest, now);
    return true;
}

}  // namespace oidcgw
