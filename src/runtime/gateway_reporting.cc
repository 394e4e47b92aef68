// What the gateway tells operators on the health listener: the /metrics collectors that read
// its state, and /status.
#include "common/certificate_chain.h"
#include "common/utc_time.h"
#include "runtime/gateway.h"
#include "version.h"

#include <algorithm>
#include <set>

namespace oidcgw {
namespace {

nlohmann::json time_or_null(std::time_t when) {
    return when == 0 ? nlohmann::json(nullptr) : nlohmann::json(utc_iso8601_or_empty(when));
}

bool expiring_soon(const CertificateInfo& info, std::time_t now) {
    return info.not_after - now <
           std::chrono::duration_cast<std::chrono::seconds>(kCertificateExpiryWarning).count();
}

}  // namespace

void Gateway::register_collectors() {
    metrics_.set_gauge_collector(
        "oidc_gateway_build_info", "Version of the running gateway (value is always 1).", [] {
            return std::vector<GaugeSample>{{{{"version", OIDCGW_VERSION}}, 1}};
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_start_time_seconds", "When the process started, as a Unix time.", [this] {
            return std::vector<GaugeSample>{{{}, static_cast<double>(started_at_)}};
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_connections_open", "Connections open now, by side.", [this] {
            double open = 0;
            for (const Worker& worker : workers_)
                open += static_cast<double>(worker.loop->open_connections());
            const double health =
                health_loop_ ? static_cast<double>(health_loop_->open_connections()) : 0;
            return std::vector<GaugeSample>{{{{"side", "public"}}, open},
                                            {{{"side", "health"}}, health}};
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_issuer_ready",
        "1 when the issuer has a validated document pair to serve, else 0.", [this] {
            std::vector<GaugeSample> samples;
            for (const IssuerSlot& slot : snapshot_->load()->issuers) {
                samples.push_back({{{"issuer", slot.issuer.text}}, slot.published ? 1.0 : 0.0});
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_snapshot_from_cache",
        "1 while the served pair was loaded from cache_dir and no upstream has confirmed it since.",
        [this] {
            std::vector<GaugeSample> samples;
            for (const IssuerStatus& status : status_.all()) {
                samples.push_back(
                    {{{"issuer", status.issuer}}, status.source == "cache" ? 1.0 : 0.0});
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_watch_state",
        "1 for the state the issuer's JWKS watch is in (off, starting, watching, polling, "
        "failing), 0 for the others.",
        [this] {
            std::vector<GaugeSample> samples;
            for (const IssuerStatus& status : status_.all()) {
                for (const char* state : {"off", "starting", "watching", "polling", "failing"}) {
                    samples.push_back({{{"issuer", status.issuer}, {"state", state}},
                                       status.watch.state == state ? 1.0 : 0.0});
                }
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_watch_round_backoff_seconds",
        "Pause after a watch-triggered round before the next may start (5 when calm).", [this] {
            std::vector<GaugeSample> samples;
            for (const IssuerStatus& status : status_.all()) {
                samples.push_back({{{"issuer", status.issuer}},
                                   static_cast<double>(status.watch.round_backoff_ms) / 1000.0});
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_last_refresh_success_timestamp_seconds",
        "When an upstream last answered with a valid pair, as a Unix time (absent: never).",
        [this] {
            std::vector<GaugeSample> samples;
            for (const IssuerStatus& status : status_.all()) {
                if (status.last_success != 0) {
                    samples.push_back(
                        {{{"issuer", status.issuer}}, static_cast<double>(status.last_success)});
                }
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_document_age_seconds",
        "Seconds since an upstream last confirmed the served documents (from the cache record "
        "after a restart).",
        [this] {
            std::vector<GaugeSample> samples;
            const std::time_t now = std::time(nullptr);
            const auto statuses = status_.all();
            for (const IssuerSlot& slot : snapshot_->load()->issuers) {
                if (!slot.published) continue;
                std::time_t confirmed = slot.published->documents.confirmed_at;
                for (const IssuerStatus& status : statuses) {
                    if (status.issuer == slot.issuer.text) {
                        confirmed = std::max(confirmed, status.last_success);
                    }
                }
                samples.push_back(
                    {{{"issuer", slot.issuer.text}}, static_cast<double>(now - confirmed)});
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_published_keys", "Keys in the served JWKS, by issuer.", [this] {
            std::vector<GaugeSample> samples;
            for (const IssuerSlot& slot : snapshot_->load()->issuers) {
                if (!slot.published) continue;
                samples.push_back(
                    {{{"issuer", slot.issuer.text}},
                     static_cast<double>(slot.published->documents.jwks.keys.size())});
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_certificate_expiry_timestamp_seconds",
        "notAfter of each public certificate, as a Unix time.", [this] {
            std::vector<GaugeSample> samples;
            std::lock_guard lock(state_mutex_);
            for (const CertificateInfo& info : certificates_) {
                samples.push_back({{{"file", info.file}, {"subject", info.subject}},
                                   static_cast<double>(info.not_after)});
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_certificate_expiring_soon",
        "1 when a public certificate expires within 14 days (a warning at load), else 0.", [this] {
            std::vector<GaugeSample> samples;
            std::lock_guard lock(state_mutex_);
            const std::time_t now = std::time(nullptr);
            for (const CertificateInfo& info : certificates_) {
                samples.push_back({{{"file", info.file}, {"subject", info.subject}},
                                   expiring_soon(info, now) ? 1.0 : 0.0});
            }
            return samples;
        });
    metrics_.set_gauge_collector(
        "oidc_gateway_last_reload_successful",
        "1 when the last reload succeeded (or none was tried), 0 when it failed.", [this] {
            std::lock_guard lock(state_mutex_);
            return std::vector<GaugeSample>{{{}, last_reload_.ok ? 1.0 : 0.0}};
        });
}

std::string Gateway::render_metrics() const {
    return metrics_.render();
}

std::string Gateway::render_status() const {
    const auto config = current_config();
    const auto publication = snapshot_->load();
    const auto statuses = status_.all();
    nlohmann::ordered_json status;
    status["version"] = OIDCGW_VERSION;
    status["started_at"] = utc_iso8601_or_empty(started_at_);
    status["config_file"] = config->path;
    status["workers"] = workers_.size();
    std::size_t open = 0;
    for (const Worker& worker : workers_) open += worker.loop->open_connections();
    status["connections_open"] = open;

    nlohmann::ordered_json issuers = nlohmann::ordered_json::array();
    for (const IssuerSlot& slot : publication->issuers) {
        nlohmann::ordered_json entry;
        entry["issuer"] = slot.issuer.text;
        entry["ready"] = slot.published != nullptr;
        entry["discovery_path"] = slot.discovery_path;
        const IssuerStatus* found = nullptr;
        for (const IssuerStatus& candidate : statuses) {
            if (candidate.issuer == slot.issuer.text) found = &candidate;
        }
        if (slot.published) {
            const AcceptedDocuments& documents = slot.published->documents;
            entry["jwks_path"] = slot.published->jwks_path;
            nlohmann::ordered_json keys = nlohmann::ordered_json::array();
            std::set<std::string> algorithms;
            for (const KeySummary& key : documents.jwks.keys) {
                keys.push_back(
                    {{"kid", key.kid}, {"kty", key.kty}, {"alg", key.alg}, {"crv", key.crv}});
                if (!key.alg.empty()) algorithms.insert(key.alg);
            }
            entry["keys"] = keys;
            entry["algorithms"] = algorithms;
            entry["discovery_etag"] = slot.published->discovery.etag;
            entry["jwks_etag"] = slot.published->jwks.etag;
            entry["jwks_last_modified"] = time_or_null(documents.jwks_modified);
            entry["confirmed_at"] =
                time_or_null(static_cast<std::time_t>(slot.confirmed_at->load()));
            entry["stale"] = publication->stale(slot, std::time(nullptr));
        }
        if (found != nullptr) {
            entry["source"] = found->source;
            entry["last_change"] = time_or_null(found->last_change);
            entry["last_success"] = time_or_null(found->last_success);
            entry["last_error"] = found->last_error;
            entry["last_rejection"] = {{"time", time_or_null(found->last_rejection_time)},
                                       {"detail", found->last_rejection}};
            entry["warnings"] = found->warnings;
            entry["cache_error"] = found->cache_error;
            nlohmann::ordered_json upstreams = nlohmann::ordered_json::object();
            for (const auto& [url, result] : found->upstreams) {
                upstreams[url] = {{"time", time_or_null(result.time)},
                                  {"result", result.result},
                                  {"detail", result.detail},
                                  {"duration_ms", result.duration_ms}};
            }
            entry["upstreams"] = upstreams;
            entry["watch"] = {{"state", found->watch.state},
                              {"since", time_or_null(found->watch.since)},
                              {"upstream", found->watch.upstream},
                              {"detail", found->watch.detail},
                              {"round_backoff_ms", found->watch.round_backoff_ms}};
        }
        issuers.push_back(entry);
    }
    status["issuers"] = issuers;

    nlohmann::ordered_json certificates = nlohmann::ordered_json::array();
    {
        std::lock_guard lock(state_mutex_);
        const std::time_t now = std::time(nullptr);
        for (const CertificateInfo& info : certificates_) {
            certificates.push_back({{"file", info.file},
                                    {"subject", info.subject},
                                    {"sans", info.sans},
                                    {"not_after", time_or_null(info.not_after)},
                                    {"expires_in_days", (info.not_after - now) / 86400},
                                    {"expiring_soon", expiring_soon(info, now)}});
        }
        status["certificates"] = certificates;
        if (acme_) {
            const AcmeReport report = acme_->report();
            status["acme"] = {
                {"directory_url", report.directory_url},
                {"certificates", nlohmann::ordered_json::array(
                                     {{{"names", report.names},
                                       {"state", report.state},
                                       {"not_after", time_or_null(report.not_after)},
                                       {"next_renewal", time_or_null(report.next_renewal)},
                                       {"next_attempt", time_or_null(report.next_attempt)},
                                       {"last_issued", time_or_null(report.last_issued)},
                                       {"consecutive_failures", report.consecutive_failures},
                                       {"last_error", report.last_error},
                                       {"last_error_type", report.last_error_type}}})}};
        }
        status["last_reload"] = {{"time", time_or_null(last_reload_.time)},
                                 {"result", last_reload_.time == 0 ? "none"
                                            : last_reload_.ok      ? "success"
                                                                   : "failure"},
                                 {"error", last_reload_.error}};
    }
    return status.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace oidcgw
