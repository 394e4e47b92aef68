#include "issuer_refresher.h"

#include <ctime>

namespace oidcgw {
namespace {

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
    return settings;
}

bool same_fetching(const IssuerConfig& a, const IssuerConfig& b) {
    if (a.issuer.text != b.issuer.text || a.upstreams.size() != b.upstreams.size()) return false;
    for (std::size_t i = 0; i < a.upstreams.size(); ++i) {
        if (a.upstreams[i].text != b.upstreams[i].text) return false;
    }
    return same_tls(a.upstream_tls, b.upstream_tls);
}

IssuerRefresher::IssuerRefresher(IssuerConfig issuer, std::optional<UpstreamTlsMaterial> tls,
                                 RefreshSettings settings, DocumentCache cache,
                                 RefreshContext context)
    : issuer_(std::move(issuer)),
      tls_(std::move(tls)),
      settings_(settings),
      cache_(std::move(cache)),
      context_(context),
      client_(UpstreamClientSettings{tls_, settings.upstream_timeout, settings.max_document_bytes}),
      random_(std::random_device{}()) {}

IssuerRefresher::~IssuerRefresher() {
    stop();
}

void IssuerRefresher::start() {
    thread_ = std::thread([this] { run(); });
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
    record_upstream(upstream, "ok", "", discovery.elapsed + jwks.elapsed);
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
    context_.logger.error("refresh_failed", {{"issuer", issuer_.issuer.text},
                                             {"detail", "every upstream failed; last good kept"},
                                             {"failures", failures}});
    context_.status.modify(issuer_.issuer.text,
                           [&](IssuerStatus& status) { status.last_error = failures; });
    return false;
}

void IssuerRefresher::publish(AcceptedDocuments documents, const UpstreamUrl& upstream) {
    const std::time_t now = std::time(nullptr);
    documents.confirmed_at = now;
    documents.discovery_modified = now;
    documents.jwks_modified = now;
    bool changed = false;
    context_.snapshot.update([&](const Publication& current) -> std::shared_ptr<const Publication> {
        auto next = std::make_shared<Publication>(current);
        for (IssuerSlot& slot : next->issuers) {
            if (slot.issuer.text != issuer_.issuer.text) continue;
            if (const IssuerPublication* previous = slot.published.get()) {
                const bool same_discovery =
                    previous->documents.discovery_body == documents.discovery_body;
                const bool same_jwks = previous->documents.jwks_body == documents.jwks_body;
                // Same bytes keep their Last-Modified, so caches see no change.
                if (same_discovery) {
                    documents.discovery_modified = previous->documents.discovery_modified;
                }
                if (same_jwks) documents.jwks_modified = previous->documents.jwks_modified;
                if (same_discovery && same_jwks) return nullptr;  // nothing to publish
            }
            slot.published = build_issuer_publication(documents, settings_.max_age);
            changed = true;
            return next;
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
    std::string cache_error;
    // Saved even when unchanged, so the record's confirmed_at says when an upstream last vouched
    // for these bytes.
    if (!cache_.save(issuer_.issuer, documents, &cache_error)) {
        context_.logger.error("cache_write_failed",
                              {{"issuer", issuer_.issuer.text}, {"detail", cache_error}});
    }
    if (!changed) {
        context_.logger.debug("documents_unchanged",
                              {{"issuer", issuer_.issuer.text}, {"upstream", upstream.text}});
        return;
    }
    context_.metrics
        .counter("oidc_gateway_publications_total",
                 "Document pairs published (bytes changed), by issuer.",
                 {{"issuer", issuer_.issuer.text}})
        .increment();
    nlohmann::json kids = nlohmann::json::array();
    for (const KeySummary& key : documents.jwks.keys) kids.push_back(key.kid);
    context_.logger.info("documents_published", {{"issuer", issuer_.issuer.text},
                                                 {"upstream", upstream.text},
                                                 {"jwks_path", documents.discovery.jwks_path},
                                                 {"kids", kids}});
    for (const std::string& warning : documents.jwks.warnings) {
        context_.logger.warn("jwks_warning",
                             {{"issuer", issuer_.issuer.text}, {"warning", warning}});
    }
}

}  // namespace oidcgw
