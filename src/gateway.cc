#include "gateway.h"

#include "listen_socket.h"

#include <ctime>

namespace oidcgw {

Gateway::Gateway(Config config, Logger& logger)
    : config_(std::move(config)), logger_(logger), cache_(config_.cache_dir) {}

Gateway::~Gateway() {
    stop(std::chrono::milliseconds(0));
}

std::shared_ptr<const Publication> Gateway::initial_publication() {
    auto publication = std::make_shared<Publication>();
    const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(config_.max_age);
    for (std::size_t i = 0; i < config_.issuers.size(); ++i) {
        const IssuerUrl& issuer = config_.issuers[i].issuer;
        IssuerSlot slot(issuer);
        std::string error;
        auto cached = cache_.load(issuer, config_.max_document_bytes, &error);
        if (cached) {
            status_->modify(i, [&](IssuerStatus& s) {
                s.source = "cache";
                s.last_change = std::max(cached->discovery_modified, cached->jwks_modified);
                s.warnings = cached->jwks.warnings;
            });
            logger_.info("cache_loaded", {{"issuer", issuer.text},
                                          {"file", cache_.file_for(issuer)},
                                          {"confirmed_at", cached->confirmed_at}});
            slot.published = build_issuer_publication(std::move(*cached), max_age);
        } else if (!error.empty()) {
            logger_.warn("cache_ignored", {{"issuer", issuer.text}, {"detail", error}});
        }
        publication->issuers.push_back(std::move(slot));
    }
    return publication;
}

bool Gateway::start(std::string* error) {
    for (const std::string& warning : config_.warnings) {
        logger_.warn("config_warning", {{"detail", warning}});
    }
    tls_ = build_public_tls_context(config_.certificates, error);
    if (!tls_) return false;

    std::vector<std::string> issuer_names;
    for (const IssuerConfig& issuer : config_.issuers) issuer_names.push_back(issuer.issuer.text);
    status_ = std::make_unique<IssuerStatusBoard>(issuer_names);
    snapshot_ = std::make_unique<PublishedSnapshot>(initial_publication());

    const ConnectionDeadlines deadlines;
    const RequestLimits limits;
    const unsigned worker_count = config_.resolved_workers();
    ListenSocketOptions public_options;
    public_options.reuse_port = true;
    public_options.defer_accept_seconds = static_cast<int>(
        std::chrono::duration_cast<std::chrono::seconds>(deadlines.handshake).count());
    for (unsigned w = 0; w < worker_count; ++w) {
        Worker worker;
        worker.handler = std::make_unique<PublicRequestHandler>(*snapshot_);
        worker.loop =
            std::make_unique<ServerLoop>("worker-" + std::to_string(w), deadlines, limits, logger_);
        for (const ListenAddress& address : config_.listen) {
            const int fd = open_listen_socket(address, public_options, error);
            if (fd < 0) {
                *error = "listen: " + *error;
                workers_.clear();
                return false;
            }
            if (!worker.loop->add_listener(fd, tls_, worker.handler.get(), error)) {
                workers_.clear();
                return false;
            }
        }
        workers_.push_back(std::move(worker));
    }
    if (config_.health_listen) {
        health_handler_ = std::make_unique<HealthRequestHandler>(*snapshot_, *status_);
        health_loop_ = std::make_unique<ServerLoop>("health", deadlines, limits, logger_);
        const int fd = open_listen_socket(*config_.health_listen, {}, error);
        if (fd < 0) {
            *error = "health_listen: " + *error;
            workers_.clear();
            return false;
        }
        if (!health_loop_->add_listener(fd, nullptr, health_handler_.get(), error)) {
            workers_.clear();
            return false;
        }
    }

    for (Worker& worker : workers_) {
        ServerLoop* loop = worker.loop.get();
        worker.thread = std::thread([loop] { loop->run(); });
    }
    if (health_loop_) {
        ServerLoop* loop = health_loop_.get();
        health_thread_ = std::thread([loop] { loop->run(); });
    }
    const RefreshSettings settings = refresh_settings_from(config_);
    for (std::size_t i = 0; i < config_.issuers.size(); ++i) {
        refreshers_.push_back(std::make_unique<IssuerRefresher>(
            i, config_.issuers[i], settings, *snapshot_, cache_, *status_, logger_));
        refreshers_.back()->start();
    }

    nlohmann::json listen = nlohmann::json::array();
    for (const ListenAddress& address : config_.listen) listen.push_back(address.text);
    nlohmann::json issuers = nlohmann::json::array();
    for (const auto& issuer : config_.issuers) issuers.push_back(issuer.issuer.text);
    logger_.info("started", {{"listen", listen},
                             {"health_listen",
                              config_.health_listen ? config_.health_listen->text : std::string()},
                             {"workers", worker_count},
                             {"issuers", issuers}});
    return true;
}

void Gateway::stop(std::chrono::milliseconds drain_timeout) {
    if (stopped_) return;
    stopped_ = true;
    for (Worker& worker : workers_) worker.loop->request_stop(drain_timeout);
    if (health_loop_) health_loop_->request_stop(std::chrono::milliseconds(0));
    for (auto& refresher : refreshers_) refresher->stop();
    for (Worker& worker : workers_) {
        if (worker.thread.joinable()) worker.thread.join();
    }
    if (health_thread_.joinable()) health_thread_.join();
    refreshers_.clear();
    workers_.clear();
    health_loop_.reset();
}

}  // namespace oidcgw
