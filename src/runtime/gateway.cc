#include "runtime/gateway.h"

#include "common/certificate_chain.h"
#include "common/utc_time.h"
#include "edge/listen_socket.h"
#include "ops/privileges.h"
#include "publish/publication_assembly.h"
#include "runtime/gateway_settings.h"
#include "version.h"

#include <unistd.h>

#include <algorithm>

namespace oidcgw {

Gateway::Gateway(Logger& logger)
    : logger_(logger),
      access_log_(logger),
      acme_challenges_(std::make_shared<TlsAlpnChallenges>()),
      ticket_keys_(std::make_shared<SessionTicketKeys>()) {}

std::shared_ptr<AcmeManager> Gateway::make_acme_manager(const Config& config, std::uint64_t* made) {
    const std::uint64_t generation = ++acme_managers_made_;
    *made = generation;
    return std::make_shared<AcmeManager>(
        *config.acme, config.cache_dir, acme_challenges_, logger_, metrics_,
        [this, generation](std::shared_ptr<const CertificateMaterial> certificate) {
            on_acme_certificate(generation, std::move(certificate));
        });
}

AcmeTlsInputs Gateway::acme_inputs(const Config& config,
                                   std::shared_ptr<const CertificateMaterial> certificate) const {
    if (!config.acme) return {};
    return AcmeTlsInputs{std::move(certificate), acme_challenges_};
}

bool Gateway::acme_certificate_served(std::string* reason) const {
    std::shared_ptr<AcmeManager> manager;
    bool served = false;
    {
        std::lock_guard lock(state_mutex_);
        manager = acme_;
        served = acme_certificate_ && acme_certificate_->not_after > std::time(nullptr);
    }
    if (!manager || served) return true;
    // The manager may hold one that the health loop is still swapping in.
    if (manager->ready(reason)) *reason = "the ACME certificate is being installed";
    return false;
}

void Gateway::install_tls(const SharedSslCtx& tls) {
    tls_ = tls;
    for (Worker& worker : workers_) {
        ServerLoop* loop = worker.loop.get();
        loop->post([loop, tls] { loop->replace_tls_context(tls); });
    }
}

void Gateway::on_acme_certificate(std::uint64_t generation,
                                  std::shared_ptr<const CertificateMaterial> certificate) {
    health_loop_->post([this, generation, certificate] {
        const std::lock_guard swap(tls_mutex_);
        std::shared_ptr<const Config> config;
        {
            std::lock_guard lock(state_mutex_);
            if (generation != acme_generation_ || stopped_) return;  // a replaced manager's
            config = config_;
        }
        std::string error;
        std::vector<std::string> warnings;
        SharedSslCtx tls = public_tls_context(*config, ticket_keys_,
                                              acme_inputs(*config, certificate), &warnings, &error);
        if (!tls) {
            logger_.error("acme_certificate_not_served", {{"detail", error}});
            return;
        }
        log_certificate_warnings(warnings);
        install_tls(tls);
        {
            std::lock_guard lock(state_mutex_);
            acme_certificate_ = certificate;
            certificates_ = describe_certificates(*config);
        }
        logger_.info("acme_certificate_served",
                     {{"subject", certificate->subject},
                      {"names", certificate->dns_names},
                      {"not_after", utc_iso8601(certificate->not_after)}});
    });
}

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

std::optional<AcceptedDocuments> Gateway::load_cached(const IssuerUrl& issuer,
                                                      const Config& config) {
    const DocumentCache cache(config.cache_dir);
    std::string error;
    auto cached = cache.load(issuer, config.max_document_bytes, &error);
    if (!cached) {
        if (!error.empty()) {
            logger_.warn("cache_ignored", {{"issuer", issuer.text}, {"detail", error}});
        }
        return std::nullopt;
    }
    status_.modify(issuer.text, [&](IssuerStatus& status) {
        status.source = "cache";
        status.last_change = std::max(cached->discovery_modified, cached->jwks_modified);
        status.warnings = cached->jwks.warnings;
    });
    logger_.info("cache_loaded", {{"issuer", issuer.text},
                                  {"file", cache.file_for(issuer)},
                                  {"confirmed_at", utc_iso8601_or_empty(cached->confirmed_at)}});
    return cached;
}

void Gateway::log_withdrawn(const std::vector<std::string>& withdrawn) {
    for (const std::string& line : withdrawn) {
        logger_.error("jwks_path_conflict",
                      {{"detail", line + "; the pair is not published, the upstream is asked"}});
    }
}

std::vector<CertificateInfo> Gateway::describe_certificates(const Config& config) const {
    std::vector<CertificateInfo> described;
    // The caller holds state_mutex_.
    if (config.acme && acme_certificate_) {
        const CertificateMaterial& acme = *acme_certificate_;
        described.push_back(CertificateInfo{acme.certificate_path, acme.subject,
                                            certificate_sans(acme.leaf()), acme.not_after});
    }
    if (has_loaded_certificates(config)) {  // what was checked and is served: no second read
        for (const auto& material : config.public_certificates) {
            described.push_back(CertificateInfo{material->certificate_path, material->subject,
                                                certificate_sans(material->leaf()),
                                                material->not_after});
        }
        return described;
    }
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
                              const std::optional<LoadedUpstreamTls>& tls, const Config& config) {
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
    std::shared_ptr<AcmeManager> acme;
    std::shared_ptr<const CertificateMaterial> acme_certificate;
    std::uint64_t acme_generation = 0;
    if (config->acme) {
        acme = make_acme_manager(*config, &acme_generation);
        acme_certificate = acme->load_cached();
    }
    tls_ = public_tls_context(*config, ticket_keys_, acme_inputs(*config, acme_certificate),
                              &tls_warnings, error);
    if (!tls_) return false;
    log_certificate_warnings(tls_warnings);
    IssuerTls issuer_tls;
    if (!load_issuer_tls(*config, &issuer_tls, error)) return false;

    status_.set_issuers(issuer_names(*config));
    std::vector<std::string> withdrawn;
    auto publication = assemble_publication(
        issuer_urls(*config), publication_settings(*config), nullptr,
        [&](const IssuerUrl& issuer) { return load_cached(issuer, *config); }, &withdrawn);
    log_withdrawn(withdrawn);
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
        rejected("public", "max_connections"),
        rejected("public", "max_connections_per_ip"),
        rejected("public", "new_connections_per_ip_per_second"),
        nullptr,
        rejected("public", "proxy_untrusted_source"),
        rejected("public", "proxy_header_missing"),
        rejected("public", "proxy_header_malformed"),
        rejected("public", "proxy_header_too_long"),
        rejected("public", "proxy_header_timeout")};
    const LoopPolicy public_policy{
        admission_.get(), config->limits.max_requests_per_connection, false,
        std::make_shared<const std::vector<IpPrefix>>(config->proxy_protocol_from)};
    const ListenSocketOptions socket_options = public_socket_options(deadlines);
    for (unsigned w = 0; w < config->resolved_workers(); ++w) {
        Worker worker;
        worker.handler = std::make_unique<PublicRequestHandler>(*snapshot_, metrics_, access_log_);
        worker.loop = std::make_unique<ServerLoop>("worker-" + std::to_string(w), deadlines, limits,
                                                   logger_, public_counters, public_policy);
        for (const ListenAddress& address : config->listen) {
            const int fd = open_listen_socket(address, socket_options, error);
            if (fd < 0 ||
                !worker.loop->add_listener(
                    address.text, fd,
                    ListenerRole{tls_, worker.handler.get(), address.proxy_protocol}, error)) {
                *error = "listen: " + *error;
                workers_.clear();
                return false;
            }
        }
        workers_.push_back(std::move(worker));
    }
    health_handler_ = std::make_unique<HealthRequestHandler>(
        *snapshot_, status_,
        HealthRequestHandler::Renderers{
            [this] { return render_metrics(); }, [this] { return render_status(); },
            [this] { return liveness_->stalled(); },
            &metrics_.counter("oidc_gateway_health_renders_total",
                              "Renders of /metrics and /status (at "
                              "most one each per second)."),
            [this](std::string* reason) { return acme_certificate_served(reason); }});
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
                   /*keep_descriptor_reserve=*/true, nullptr});
    if (config->health_listen) {
        const int fd = open_listen_socket(*config->health_listen, {}, error);
        if (fd < 0 ||
            !health_loop_->add_listener(config->health_listen->text, fd,
                                        ListenerRole{nullptr, health_handler_.get()}, error)) {
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
        acme_ = acme;
        acme_generation_ = acme_generation;
        acme_certificate_ = acme_certificate;
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
    if (acme) acme->start();  // after the loops: its certificates are swapped in on them

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

bool Gateway::check_liveness() {
    const std::lock_guard lock(liveness_mutex_);
    // While stopping, loops that drained have ended their last pass on purpose.
    if (!liveness_ || stopping_) return true;
    return liveness_->check(logger_);
}

void Gateway::stop(std::chrono::milliseconds drain_timeout) {
    if (stopped_) return;
    {
        std::lock_guard lock(state_mutex_);  // a queued ACME swap checks it
        stopped_ = true;
    }
    {
        const std::lock_guard lock(liveness_mutex_);
        stopping_ = true;
    }
    // The ACME thread first: a certificate it finishes is not swapped into stopping loops.
    std::shared_ptr<AcmeManager> acme;
    {
        std::lock_guard lock(state_mutex_);
        acme = acme_;
    }
    if (acme) acme->stop();
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
