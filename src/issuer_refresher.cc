#include "issuer_refresher.h"

#include <ctime>

namespace oidcgw {

RefreshSettings refresh_settings_from(const Config& config) {
    RefreshSettings settings;
    settings.refresh_interval = config.refresh_interval;
    settings.upstream_timeout = config.upstream_timeout;
    settings.max_document_bytes = config.max_document_bytes;
    settings.max_age = std::chrono::duration_cast<std::chrono::seconds>(config.max_age);
    return settings;
}

IssuerRefresher::IssuerRefresher(std::size_t status_index, IssuerConfig issuer,
                                 RefreshSettings settings, PublishedSnapshot& snapshot,
                                 const DocumentCache& cache, IssuerStatusBoard& status,
                                 Logger& logger)
    : status_index_(status_index),
      issuer_(std::move(issuer)),
      settings_(settings),
      snapshot_(snapshot),
      cache_(cache),
      status_(status),
      logger_(logger),
      client_(UpstreamClientSettings{issuer_.upstream_tls, settings.upstream_timeout,
                                     settings.max_document_bytes}),
      random_(std::random_device{}()) {}

IssuerRefresher::~IssuerRefresher() {
    stop();
}

void IssuerRefresher::start() {
    thread_ = std::thread([this] { run(); });
}

void IssuerRefresher::stop() {
    {
        std::lock_guard lock(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::chrono::milliseconds IssuerRefresher::jittered_interval() {
    // ±10% so that several gateways (or issuers) started together do not poll in lockstep.
    std::uniform_real_distribution<double> factor(0.9, 1.1);
    return std::chrono::milliseconds(static_cast<long long>(
        static_cast<double>(settings_.refresh_interval.count()) * factor(random_)));
}

void IssuerRefresher::run() {
    while (!stopping_) {
        refresh_once();
        std::unique_lock lock(wake_mutex_);
        wake_.wait_for(lock, jittered_interval(), [this] { return stopping_.load(); });
    }
}

IssuerRefresher::PairAttempt IssuerRefresher::fetch_pair(const UpstreamUrl& upstream) {
    PairAttempt attempt;
    const auto record_rejection = [&](const char* document, const Rejection& rejection) {
        attempt.failure =
            std::string(document) + " rejected: " + rejection.code + ": " + rejection.detail;
        logger_.warn("document_rejected", {{"issuer", issuer_.issuer.text},
                                           {"upstream", upstream.text},
                                           {"document", document},
                                           {"reason", rejection.code},
                                           {"detail", rejection.detail}});
        status_.modify(status_index_, [&](IssuerStatus& s) {
            s.last_rejection = upstream.text + ": " + attempt.failure;
        });
    };
    const auto record_fetch_failure = [&](const char* document, const FetchResult& fetched) {
        attempt.failure =
            std::string(document) + " fetch failed: " + fetched.error_code + ": " + fetched.error;
        logger_.warn("upstream_fetch_failed", {{"issuer", issuer_.issuer.text},
                                               {"upstream", upstream.text},
                                               {"document", document},
                                               {"reason", fetched.error_code},
                                               {"detail", fetched.error}});
    };

    FetchResult discovery = client_.get(upstream, "/.well-known/openid-configuration", stopping_);
    if (!discovery.ok) {
        record_fetch_failure("discovery", discovery);
        return attempt;
    }
    Rejection rejection;
    auto discovery_info = validate_discovery(discovery.body, issuer_.issuer, &rejection);
    if (!discovery_info) {
        record_rejection("discovery", rejection);
        return attempt;
    }
    FetchResult jwks = client_.get(upstream, discovery_info->jwks_upstream_path, stopping_);
    if (!jwks.ok) {
        record_fetch_failure("jwks", jwks);
        return attempt;
    }
    // Validate the two as the unit that will be published.
    auto accepted =
        accept_document_pair(issuer_.issuer, std::move(discovery.body), std::move(jwks.body),
                             settings_.max_document_bytes, &rejection);
    if (!accepted) {
        record_rejection("jwks", rejection);
        return attempt;
    }
    attempt.documents = std::move(accepted);
    return attempt;
}

bool IssuerRefresher::refresh_once() {
    const std::size_t count = issuer_.upstreams.size();
    std::string failures;
    for (std::size_t tried = 0; tried < count && !stopping_; ++tried) {
        const std::size_t index = (preferred_upstream_ + tried) % count;
        const UpstreamUrl& upstream = issuer_.upstreams[index];
        PairAttempt attempt = fetch_pair(upstream);
        if (attempt.documents) {
            preferred_upstream_ = index;
            publish(std::move(*attempt.documents), upstream);
            return true;
        }
        if (!failures.empty()) failures += "; ";
        failures += upstream.text + ": " + attempt.failure;
    }
    if (stopping_) return false;
    logger_.error("refresh_failed", {{"issuer", issuer_.issuer.text},
                                     {"detail", "every upstream failed; last good kept"},
                                     {"failures", failures}});
    status_.modify(status_index_, [&](IssuerStatus& s) { s.last_error = failures; });
    return false;
}

void IssuerRefresher::publish(AcceptedDocuments documents, const UpstreamUrl& upstream) {
    const std::time_t now = std::time(nullptr);
    documents.confirmed_at = now;
    documents.discovery_modified = now;
    documents.jwks_modified = now;
    bool changed = false;
    std::shared_ptr<const IssuerPublication> published;
    snapshot_.update([&](const Publication& current) -> std::shared_ptr<const Publication> {
        auto next = std::make_shared<Publication>(current);
        for (IssuerSlot& slot : next->issuers) {
            if (slot.issuer.text != issuer_.issuer.text) continue;
            if (const IssuerPublication* previous = slot.published.get()) {
                const bool same_discovery =
                    previous->documents.discovery_body == documents.discovery_body;
                const bool same_jwks = previous->documents.jwks_body == documents.jwks_body;
                // Same bytes keep their Last-Modified (and so their ETag-free validators).
                if (same_discovery)
                    documents.discovery_modified = previous->documents.discovery_modified;
                if (same_jwks) documents.jwks_modified = previous->documents.jwks_modified;
                if (same_discovery && same_jwks) return nullptr;  // nothing to publish
            }
            published = build_issuer_publication(documents, settings_.max_age);
            slot.published = published;
            changed = true;
            return next;
        }
        return nullptr;  // this issuer is no longer configured
    });

    status_.modify(status_index_, [&](IssuerStatus& s) {
        s.source = "upstream";
        s.last_success = now;
        s.last_error.clear();
        if (changed) {
            s.last_change = now;
            s.warnings = documents.jwks.warnings;
        }
    });
    std::string cache_error;
    // Saved even when unchanged, so the record's confirmed_at says when an upstream last vouched
    // for these bytes.
    if (!cache_.save(issuer_.issuer, documents, &cache_error)) {
        logger_.error("cache_write_failed",
                      {{"issuer", issuer_.issuer.text}, {"detail", cache_error}});
    }
    if (!changed) {
        logger_.debug("documents_unchanged",
                      {{"issuer", issuer_.issuer.text}, {"upstream", upstream.text}});
        return;
    }
    nlohmann::json kids = nlohmann::json::array();
    for (const KeySummary& key : documents.jwks.keys) kids.push_back(key.kid);
    logger_.info("documents_published", {{"issuer", issuer_.issuer.text},
                                         {"upstream", upstream.text},
                                         {"jwks_path", documents.discovery.jwks_path},
                                         {"kids", kids}});
    for (const std::string& warning : documents.jwks.warnings) {
        logger_.warn("jwks_warning", {{"issuer", issuer_.issuer.text}, {"warning", warning}});
    }
}

}  // namespace oidcgw
