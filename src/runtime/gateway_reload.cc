// The transactional reload (SIGHUP): everything new is built off to the side, then swapped in
// when all of it is valid. Start and stop are in gateway.cc.
#include "runtime/gateway.h"

#include "edge/listen_socket.h"
#include "publish/publication_assembly.h"
#include "runtime/gateway_settings.h"

#include <algorithm>
#include <set>
#include <utility>

namespace oidcgw {

void Gateway::record_reload(bool ok, const std::string& error) {
    metrics_
        .counter("oidc_gateway_reloads_total", "Configuration reloads (SIGHUP), by result.",
                 {{"result", ok ? "success" : "failure"}})
        .increment();
    std::lock_guard lock(state_mutex_);
    last_reload_ = ReloadRecord{std::time(nullptr), ok, error};
}

bool Gateway::reload(std::string* error) {
    const std::string path = current_config()->path;
    ConfigResult loaded = load_config_file(path);
    if (!loaded.config) {
        *error = path + ": " + loaded.error.to_string();
        logger_.error("reload_failed", {{"detail", *error}});
        record_reload(false, *error);
        return false;
    }
    return reload_with(std::move(*loaded.config), error);
}

bool Gateway::reload_with(Config next_config, std::string* error) {
    if (!started_ || stopped_) {
        *error = "the gateway is not running";
        return false;
    }
    const auto next = std::make_shared<const Config>(std::move(next_config));
    const auto previous = current_config();
    const auto fail = [&](const std::string& message) {
        *error = message;
        logger_.error("reload_failed", {{"detail", message}});
        record_reload(false, message);
        return false;
    };

    // No ACME certificate is swapped in while this reload builds and commits its own context.
    const std::lock_guard tls_swap(tls_mutex_);

    // 1. Build everything new off to the side. Any failure here leaves the running state as it
    //    was; sockets opened so far close with their UniqueFd.
    std::string problem;
    std::vector<std::string> tls_warnings;
    // tls.acme changed (another CA, other names, ...): a new manager starts from what cache_dir
    // holds for the new names and orders what is missing; an unchanged one carries on.
    const bool acme_changed = previous->acme != next->acme ||
                              (next->acme.has_value() && previous->cache_dir != next->cache_dir);
    std::shared_ptr<AcmeManager> next_acme;
    std::shared_ptr<const CertificateMaterial> next_acme_certificate;
    std::uint64_t next_acme_generation = 0;
    {
        std::lock_guard lock(state_mutex_);
        next_acme = acme_;
        next_acme_certificate = acme_certificate_;
    }
    if (acme_changed) {
        next_acme = next->acme ? make_acme_manager(*next, &next_acme_generation) : nullptr;
        next_acme_certificate = next_acme ? next_acme->load_cached() : nullptr;
    }
    SharedSslCtx next_tls = public_tls_context(
        *next, ticket_keys_, acme_inputs(*next, next_acme_certificate), &tls_warnings, &problem);
    if (!next_tls) return fail(problem);
    IssuerTls next_issuer_tls;
    if (!load_issuer_tls(*next, &next_issuer_tls, &problem)) return fail(problem);

    std::set<std::string> previous_listen, next_listen;
    for (const ListenAddress& address : previous->listen) previous_listen.insert(address.text);
    for (const ListenAddress& address : next->listen) next_listen.insert(address.text);
    const ConnectionDeadlines next_deadlines = deadlines_from(*next);
    const ListenSocketOptions socket_options = public_socket_options(next_deadlines);
    // Per worker: the sockets it adopts for added addresses.
    std::vector<std::vector<std::pair<std::string, UniqueFd>>> added(workers_.size());
    for (const ListenAddress& address : next->listen) {
        if (previous_listen.count(address.text) != 0) continue;
        for (auto& worker_added : added) {
            const int fd = open_listen_socket(address, socket_options, &problem);
            if (fd < 0) return fail("listen: " + problem);
            worker_added.emplace_back(address.text, UniqueFd(fd));
        }
    }
    std::vector<std::string> removed;
    for (const std::string& text : previous_listen) {
        if (next_listen.count(text) == 0) removed.push_back(text);
    }
    const std::string previous_health =
        previous->health_listen ? previous->health_listen->text : std::string();
    const std::string next_health = next->health_listen ? next->health_listen->text : std::string();
    UniqueFd health_fd;
    if (next_health != previous_health && next->health_listen) {
        const int fd = open_listen_socket(*next->health_listen, {}, &problem);
        if (fd < 0) return fail("health_listen: " + problem);
        health_fd = UniqueFd(fd);
    }

    // 2. Commit. Nothing below can fail.
    if (next->resolved_workers() != previous->resolved_workers()) {
        logger_.warn("reload_ignored_change",
                     {{"key", "workers"}, {"detail", "the number of workers changes on restart"}});
    }
    if (next->user != previous->user || next->group != previous->group) {
        logger_.warn("reload_ignored_change",
                     {{"key", "user"}, {"detail", "the account changes on restart"}});
    }
    if (next->sandbox != previous->sandbox) {
        logger_.warn("reload_ignored_change",
                     {{"key", "sandbox"}, {"detail", "the sandbox changes on restart"}});
    }
    logger_.configure(next->log_format, next->log_level);
    access_log_.configure(next->access_log.enabled, next->access_log.max_per_second);
    admission_->set_limits(next->limits);
    health_admission_->set_limits(health_limits(next->limits));
    liveness_->set_threshold(next->timeouts.worker_stall);
    tls_ = next_tls;
    const auto proxy_sources =
        std::make_shared<const std::vector<IpPrefix>>(next->proxy_protocol_from);
    auto proxy_listeners = std::make_shared<std::vector<std::pair<std::string, bool>>>();
    for (const ListenAddress& address : next->listen) {
        proxy_listeners->emplace_back(address.text, address.proxy_protocol);
    }
    for (std::size_t w = 0; w < workers_.size(); ++w) {
        ServerLoop* loop = workers_[w].loop.get();
        RequestHandler* handler = workers_[w].handler.get();
        auto adopted =
            std::make_shared<std::vector<std::pair<std::string, UniqueFd>>>(std::move(added[w]));
        loop->post([this, loop, handler, adopted, removed, tls = next_tls, next_deadlines,
                    max_requests = next->limits.max_requests_per_connection, proxy_sources,
                    proxy_listeners] {
            for (const std::string& key : removed) loop->remove_listener(key);
            for (auto& [key, fd] : *adopted) {
                std::string listen_error;
                if (!loop->add_listener(key, fd.release(), ListenerRole{tls, handler},
                                        &listen_error)) {
                    logger_.error("listener_failed", {{"listen", key}, {"detail", listen_error}});
                }
            }
            loop->set_proxy_sources(proxy_sources);
            for (const auto& [key, enabled] : *proxy_listeners) {
                loop->set_proxy_protocol(key, enabled);
            }
            loop->replace_tls_context(tls);
            loop->set_deadlines(next_deadlines);
            loop->set_max_requests_per_connection(max_requests);
        });
    }
    if (health_loop_) {
        ServerLoop* loop = health_loop_.get();
        loop->post([loop, next_deadlines, max_requests = next->limits.max_requests_per_connection] {
            loop->set_deadlines(next_deadlines);
            loop->set_max_requests_per_connection(max_requests);
        });
    }
    if (next_health != previous_health) {
        auto adopted = std::make_shared<UniqueFd>(std::move(health_fd));
        ServerLoop* loop = health_loop_.get();
        loop->post([this, loop, adopted, previous_health, next_health] {
            if (!previous_health.empty()) loop->remove_listener(previous_health);
            if (!next_health.empty()) {
                std::string listen_error;
                if (!loop->add_listener(next_health, adopted->release(),
                                        ListenerRole{nullptr, health_handler_.get()},
                                        &listen_error)) {
                    logger_.error("listener_failed",
                                  {{"listen", next_health}, {"detail", listen_error}});
                }
            }
        });
    }

    // Issuers: kept ones keep their publication (rebuilt only when max_age changed) and, when
    // they fetch the same way, their refresher; new ones start from the cache and fetch at once.
    status_.set_issuers(issuer_names(*next));
    snapshot_->update([&](const Publication& current) -> std::shared_ptr<const Publication> {
        std::vector<std::string> withdrawn;
        auto publication = assemble_publication(
            issuer_urls(*next), publication_settings(*next), &current,
            [&](const IssuerUrl& issuer) { return load_cached(issuer, *next); }, &withdrawn);
        log_withdrawn(withdrawn);
        return publication;
    });

    const RefreshSettings next_settings = refresh_settings_from(*next);
    std::vector<std::unique_ptr<IssuerRefresher>> kept, dropped;
    for (auto& refresher : refreshers_) {
        bool keep = false;
        for (std::size_t i = 0; i < next->issuers.size(); ++i) {
            keep = keep || (same_fetching(refresher->issuer(), next->issuers[i]) &&
                            refresher->tls() == next_issuer_tls[i] &&
                            refresher->settings() == next_settings &&
                            refresher->cache().directory() == next->cache_dir);
        }
        (keep ? kept : dropped).push_back(std::move(refresher));
    }
    for (auto& refresher : dropped) refresher->request_stop();  // abort all at once, then join
    dropped.clear();
    refreshers_ = std::move(kept);
    for (std::size_t i = 0; i < next->issuers.size(); ++i) {
        const bool running =
            std::any_of(refreshers_.begin(), refreshers_.end(), [&](const auto& refresher) {
                return refresher->issuer().issuer.text == next->issuers[i].issuer.text;
            });
        if (!running) start_refresher(next->issuers[i], next_issuer_tls[i], *next);
    }

    std::shared_ptr<AcmeManager> replaced_acme;
    {
        std::lock_guard lock(state_mutex_);
        config_ = next;
        if (acme_changed) {
            replaced_acme = std::exchange(acme_, next_acme);
            acme_generation_ = next_acme_generation;
            acme_certificate_ = next_acme_certificate;
        }
        certificates_ = describe_certificates(*next);
    }
    if (acme_changed) {
        if (replaced_acme) replaced_acme->stop();  // its late certificate is ignored (generation)
        if (next_acme) next_acme->start();
        logger_.info("acme_reconfigured",
                     {{"names", next->acme ? next->acme->names : std::vector<std::string>{}}});
    }
    for (const std::string& warning : next->warnings) {
        logger_.warn("config_warning", {{"detail", warning}});
    }
    log_certificate_warnings(tls_warnings);
    record_reload(true, "");
    nlohmann::json added_listen = nlohmann::json::array();
    for (const std::string& text : next_listen) {
        if (previous_listen.count(text) == 0) added_listen.push_back(text);
    }
    logger_.info("reloaded", {{"issuers", issuer_names(*next)},
                              {"listen_added", added_listen},
                              {"listen_removed", removed}});
    return true;
}

}  // namespace oidcgw
