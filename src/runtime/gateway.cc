#include "runtime/gateway.h"

#include "common/certificate_chain.h"
#include "common/utc_time.h"
#include "edge/listen_socket.h"
#include "ops/privileges.h"
#include "version.h"

#include <unistd.h>

#include <algorithm>
#include <set>

namespace oidcgw {
namespace {

std::string iso_time(std::time_t when) {
    return when == 0 ? std::string() : utc_iso8601(when);
}

std::vector<std::string> issuer_names(const Config& config) {
    std::vector<std::string> names;
    for (const IssuerConfig& issuer : config.issuers) names.push_back(issuer.issuer.text);
    return names;
}

PublicTlsProfile tls_profile(const Config& config) {
    return {config.tls_min_version, config.tls_session_resumption};
}

ConnectionDeadlines deadlines_from(const Config& config) {
    ConnectionDeadlines deadlines;
    deadlines.handshake = config.timeouts.handshake;
    deadlines.request_head = config.timeouts.request_head;
    deadlines.keep_alive = config.timeouts.keep_alive;
    deadlines.write = config.timeouts.write;
    return deadlines;
}

// The health listener's admission: its own caps, the public side's rate per address.
ConnectionLimits health_limits(const ConnectionLimits& limits) {
    ConnectionLimits health = limits;
    health.max_connections = limits.health_max_connections;
    health.max_connections_per_ip = limits.health_max_connections_per_ip;
    return health;
}

ListenSocketOptions public_socket_options(const ConnectionDeadlines& deadlines) {
    ListenSocketOptions options;
    options.reuse_port = true;
    options.defer_accept_seconds = static_cast<int>(
        std::chrono::duration_cast<std::chrono::seconds>(deadlines.handshake).count());
    return options;
}

}  // namespace

Gateway::Gateway(Logger& logger)
    : logger_(logger), access_log_(logger), ticket_keys_(std::make_shared<SessionTicketKeys>()) {}

void Gateway::log_certificate_warnings(const std::vector<std::string>& warnings) {
    for (const std::string& warning : warnings) {
        logger_.warn("certificate_warning", {{"detail", warning}});
    }
}

Gateway::~Gateway() {
    stop(std::chrono::milliseconds(0));
}

std::shared_ptr<const Config> Gateway::current_config() const {
    std::lock_guard lock(state_mutex_);
    return config_;
}

std::chrono::milliseconds Gateway::shutdown_timeout() const {
    return current_config()->shutdown_timeout;
}

std::shared_ptr<const IssuerPublication> Gateway::load_cached(const IssuerConfig& issuer,
                                                              const Config& config) {
    const DocumentCache cache(config.cache_dir);
    std::string error;
    auto cached = cache.load(issuer.issuer, config.max_document_bytes, &error);
    if (!cached) {
        if (!error.empty()) {
            logger_.warn("cache_ignored", {{"issuer", issuer.issuer.text}, {"detail", error}});
        }
        return nullptr;
    }
    status_.modify(issuer.issuer.text, [&](IssuerStatus& status) {
        status.source = "cache";
        status.last_change = std::max(cached->discovery_modified, cached->jwks_modified);
        status.warnings = cached->jwks.warnings;
    });
    logger_.info("cache_loaded", {{"issuer", issuer.issuer.text},
                                  {"file", cache.file_for(issuer.issuer)},
                                  {"confirmed_at", iso_time(cached->confirmed_at)}});
    return build_issuer_publication(
        std::move(*cached), std::chrono::duration_cast<std::chrono::seconds>(config.max_age));
}

void Gateway::log_withdrawn(const std::vector<std::string>& withdrawn) {
    for (const std::string& line : withdrawn) {
        logger_.error("jwks_path_conflict",
                      {{"detail", line + "; the pair is not published, the upstream is asked"}});
    }
}

std::vector<CertificateInfo> Gateway::describe_certificates(const Config& config) const {
    std::vector<CertificateInfo> described;
    for (const CertificateFiles& files : config.certificates) {
        std::string error;
        const auto chain = load_certificate_chain(files.certificate, &error);
        if (chain.empty()) continue;
        described.push_back(CertificateInfo{
            files.certificate, certificate_subject(chain.front().get()),
            certificate_sans(chain.front().get()), certificate_not_after(chain.front().get())});
    }
    return described;
}

bool Gateway::load_issuer_tls(const Config& config, IssuerTls* loaded, std::string* error) {
    loaded->clear();
    for (std::size_t i = 0; i < config.issuers.size(); ++i) {
        const IssuerConfig& issuer = config.issuers[i];
        if (!issuer.upstream_tls) {
            loaded->emplace_back();
            continue;
        }
        std::string problem;
        auto material = load_upstream_tls(*issuer.upstream_tls, &problem);
        if (!material) {
            *error = "issuers[" + std::to_string(i) + "].upstream_tls." + problem;
            return false;
        }
        loaded->push_back(std::move(material));
    }
    return true;
}

void Gateway::start_refresher(const IssuerConfig& issuer,
                              const std::optional<UpstreamTlsMaterial>& tls, const Config& config) {
    refreshers_.push_back(std::make_unique<IssuerRefresher>(
        issuer, tls, refresh_settings_from(config), DocumentCache(config.cache_dir),
        RefreshContext{*snapshot_, status_, logger_, metrics_}));
    refreshers_.back()->start();
}

bool Gateway::start(Config initial, std::string* error) {
    started_at_ = std::time(nullptr);
    auto config = std::make_shared<const Config>(std::move(initial));
    for (const std::string& warning : config->warnings) {
        logger_.warn("config_warning", {{"detail", warning}});
    }
    logger_.configure(config->log_format, config->log_level);
    access_log_.configure(config->access_log.enabled, config->access_log.max_per_second);
    std::vector<std::string> tls_warnings;
    tls_ = build_public_tls_context(config->certificates, tls_profile(*config), ticket_keys_,
                                    &tls_warnings, error);
    if (!tls_) return false;
    log_certificate_warnings(tls_warnings);
    IssuerTls issuer_tls;
    if (!load_issuer_tls(*config, &issuer_tls, error)) return false;

    status_.set_issuers(issuer_names(*config));
    auto publication = std::make_shared<Publication>();
    publication->max_stale = std::chrono::duration_cast<std::chrono::seconds>(config->max_stale);
    publication->serve_stale = config->serve_stale;
    for (const IssuerConfig& issuer : config->issuers) {
        IssuerSlot slot(issuer.issuer);
        slot.published = load_cached(issuer, *config);
        if (slot.published) slot.confirmed_at->store(slot.published->documents.confirmed_at);
        publication->issuers.push_back(std::move(slot));
    }
    log_withdrawn(withdraw_conflicting_pairs(*publication));
    snapshot_ = std::make_unique<PublishedSnapshot>(std::move(publication));

    const ConnectionDeadlines deadlines = deadlines_from(*config);
    const RequestLimits limits;
    admission_ = std::make_unique<AdmissionControl>(config->limits);
    const auto rejected = [this](const char* side, const char* reason) {
        return &metrics_.counter("oidc_gateway_connections_rejected_total",
                                 "Connections refused at accept (limits), by side and reason.",
                                 {{"side", side}, {"reason", reason}});
    };
    const LoopCounters public_counters{
        &metrics_.counter("oidc_gateway_connections_accepted_total",
                          "Connections accepted, by side.", {{"side", "public"}}),
        &metrics_.counter("oidc_gateway_tls_handshake_failures_total",
                          "TLS handshakes that failed or timed out on the public side."),
        rejected("public", "max_connections"), rejected("public", "max_connections_per_ip"),
        rejected("public", "new_connections_per_ip_per_second")};
    const LoopPolicy public_policy{admission_.get(), config->limits.max_requests_per_connection};
    const ListenSocketOptions socket_options = public_socket_options(deadlines);
    for (unsigned w = 0; w < config->resolved_workers(); ++w) {
        Worker worker;
        worker.handler = std::make_unique<PublicRequestHandler>(*snapshot_, metrics_, access_log_);
        worker.loop = std::make_unique<ServerLoop>("worker-" + std::to_string(w), deadlines, limits,
                                                   logger_, public_counters, public_policy);
        for (const ListenAddress& address : config->listen) {
            const int fd = open_listen_socket(address, socket_options, error);
            if (fd < 0 ||
                !worker.loop->add_listener(address.text, fd, tls_, worker.handler.get(), error)) {
                *error = "listen: " + *error;
                workers_.clear();
                return false;
            }
        }
        workers_.push_back(std::move(worker));
    }
    health_handler_ = std::make_unique<HealthRequestHandler>(
        *snapshot_, status_,
        HealthRequestHandler::Renderers{[this] { return render_metrics(); },
                                        [this] { return render_status(); },
                                        [this] { return liveness_->stalled(); },
                                        &metrics_.counter("oidc_gateway_health_renders_total",
                                                          "Renders of /metrics and /status (at "
                                                          "most one each per second).")});
    health_admission_ = std::make_unique<AdmissionControl>(health_limits(config->limits));
    health_loop_ = std::make_unique<ServerLoop>(
        "health", deadlines, limits, logger_,
        LoopCounters{&metrics_.counter("oidc_gateway_connections_accepted_total",
                                       "Connections accepted, by side.", {{"side", "health"}}),
                     nullptr, rejected("health", "max_connections"),
                     rejected("health", "max_connections_per_ip"),
                     rejected("health", "new_connections_per_ip_per_second"),
                     rejected("health", "descriptor_reserve")},
        LoopPolicy{health_admission_.get(), config->limits.max_requests_per_connection,
                   /*keep_descriptor_reserve=*/true});
    if (config->health_listen) {
        const int fd = open_listen_socket(*config->health_listen, {}, error);
        if (fd < 0 || !health_loop_->add_listener(config->health_listen->text, fd, nullptr,
                                                  health_handler_.get(), error)) {
            *error = "health_listen: " + *error;
            workers_.clear();
            return false;
        }
    }
    std::vector<ServerLoop*> loops;
    for (const Worker& worker : workers_) loops.push_back(worker.loop.get());
    loops.push_back(health_loop_.get());
    liveness_ = std::make_unique<LoopLiveness>(loops, config->timeouts.worker_stall, metrics_);
    {
        std::lock_guard lock(state_mutex_);
        config_ = config;
        certificates_ = describe_certificates(*config);
    }
    // Everything that needs root (ports under 1024, root-only key files) is done: drop to the
    // configured user before any thread exists, so no thread ever runs as root.
    // drop_privileges also accepts a process already running as that user (systemd's User=).
    if (!config->user.empty()) {
        if (!drop_privileges(config->user, config->group, error)) {
            *error = "user: " + *error;
            workers_.clear();
            return false;
        }
        logger_.info("privileges_dropped",
                     {{"user", config->user}, {"uid", ::getuid()}, {"gid", ::getgid()}});
    } else if (::geteuid() == 0) {
        logger_.warn("running_as_root",
                     {{"detail", "set \"user\" to drop privileges after binding"}});
    }
    std::string no_new_privileges_error;
    if (!set_no_new_privileges(&no_new_privileges_error)) {
        logger_.warn("no_new_privileges_failed", {{"detail", no_new_privileges_error}});
    }
    register_collectors();

    for (Worker& worker : workers_) {
        ServerLoop* loop = worker.loop.get();
        worker.thread = std::thread([loop] { loop->run(); });
    }
    ServerLoop* health = health_loop_.get();
    health_thread_ = std::thread([health] { health->run(); });
    for (std::size_t i = 0; i < config->issuers.size(); ++i) {
        start_refresher(config->issuers[i], issuer_tls[i], *config);
    }
    started_ = true;

    nlohmann::json listen = nlohmann::json::array();
    for (const ListenAddress& address : config->listen) listen.push_back(address.text);
    logger_.info("started", {{"version", OIDCGW_VERSION},
                             {"listen", listen},
                             {"health_listen",
                              config->health_listen ? config->health_listen->text : std::string()},
                             {"workers", workers_.size()},
                             {"issuers", issuer_names(*config)}});
    return true;
}

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

    // 1. Build everything new off to the side. Any failure here leaves the running state as it
    //    was; sockets opened so far close with their UniqueFd.
    std::string problem;
    std::vector<std::string> tls_warnings;
    SharedSslCtx next_tls = build_public_tls_context(next->certificates, tls_profile(*next),
                                                     ticket_keys_, &tls_warnings, &problem);
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
    for (std::size_t w = 0; w < workers_.size(); ++w) {
        ServerLoop* loop = workers_[w].loop.get();
        RequestHandler* handler = workers_[w].handler.get();
        auto adopted =
            std::make_shared<std::vector<std::pair<std::string, UniqueFd>>>(std::move(added[w]));
        loop->post([this, loop, handler, adopted, removed, tls = next_tls, next_deadlines,
                    max_requests = next->limits.max_requests_per_connection] {
            for (const std::string& key : removed) loop->remove_listener(key);
            for (auto& [key, fd] : *adopted) {
                std::string listen_error;
                if (!loop->add_listener(key, fd.release(), tls, handler, &listen_error)) {
                    logger_.error("listener_failed", {{"listen", key}, {"detail", listen_error}});
                }
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
                if (!loop->add_listener(next_health, adopted->release(), nullptr,
                                        health_handler_.get(), &listen_error)) {
                    logger_.error("listener_failed",
                                  {{"listen", next_health}, {"detail", listen_error}});
                }
            }
        });
    }

    // Issuers: kept ones keep their publication (rebuilt only when max_age changed) and, when
    // they fetch the same way, their refresher; new ones start from the cache and fetch at once.
    status_.set_issuers(issuer_names(*next));
    const bool max_age_changed = next->max_age != previous->max_age;
    const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(next->max_age);
    snapshot_->update([&](const Publication& current) -> std::shared_ptr<const Publication> {
        auto publication = std::make_shared<Publication>();
        publication->max_stale = std::chrono::duration_cast<std::chrono::seconds>(next->max_stale);
        publication->serve_stale = next->serve_stale;
        for (const IssuerConfig& issuer : next->issuers) {
            IssuerSlot slot(issuer.issuer);
            for (const IssuerSlot& existing : current.issuers) {
                if (existing.issuer.text != issuer.issuer.text || !existing.published) continue;
                slot.confirmed_at = existing.confirmed_at;  // freshness survives the reload
                slot.published = max_age_changed ? build_issuer_publication(
                                                       existing.published->documents, max_age)
                                                 : existing.published;
            }
            if (!slot.published) {
                slot.published = load_cached(issuer, *next);
                if (slot.published)
                    slot.confirmed_at->store(slot.published->documents.confirmed_at);
            }
            publication->issuers.push_back(std::move(slot));
        }
        log_withdrawn(withdraw_conflicting_pairs(*publication));
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

    {
        std::lock_guard lock(state_mutex_);
        config_ = next;
        certificates_ = describe_certificates(*next);
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

bool Gateway::check_liveness() {
    const std::lock_guard lock(liveness_mutex_);
    // While stopping, loops that drained have ended their last pass on purpose.
    if (!liveness_ || stopping_) return true;
    return liveness_->check(logger_);
}

void Gateway::stop(std::chrono::milliseconds drain_timeout) {
    if (stopped_) return;
    stopped_ = true;
    {
        const std::lock_guard lock(liveness_mutex_);
        stopping_ = true;
    }
    for (Worker& worker : workers_) worker.loop->request_stop(drain_timeout);
    if (health_loop_) health_loop_->request_stop(std::chrono::milliseconds(0));
    for (auto& refresher : refreshers_) refresher->request_stop();
    refreshers_.clear();  // joins
    for (Worker& worker : workers_) {
        if (worker.thread.joinable()) worker.thread.join();
    }
    if (health_thread_.joinable()) health_thread_.join();
    const std::lock_guard lock(liveness_mutex_);
    liveness_.reset();
    workers_.clear();
    health_loop_.reset();
}

}  // namespace oidcgw
