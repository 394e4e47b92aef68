// The running gateway: the published snapshot (seeded from the disk cache), one refresher per
// issuer, `workers` public event loops and one health loop, each on its own thread.
#pragma once

#include "config.h"
#include "document_cache.h"
#include "issuer_refresher.h"
#include "issuer_status.h"
#include "logger.h"
#include "published_snapshot.h"
#include "request_handlers.h"
#include "server_loop.h"
#include "tls_server_context.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace oidcgw {

class Gateway {
  public:
    Gateway(Config config, Logger& logger);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // Builds TLS, loads the cache, opens every listener, then starts the threads. On failure
    // nothing is left running and *error says why.
    bool start(std::string* error);

    // Graceful: stop accepting, finish requests in flight, stop fetching; returns when every
    // thread has ended (at most about drain_timeout plus one upstream transfer abort).
    void stop(std::chrono::milliseconds drain_timeout);

  private:
    struct Worker {
        std::unique_ptr<PublicRequestHandler> handler;
        std::unique_ptr<ServerLoop> loop;
        std::thread thread;
    };

    std::shared_ptr<const Publication> initial_publication();

    Config config_;
    Logger& logger_;
    DocumentCache cache_;
    SharedSslCtx tls_;
    std::unique_ptr<PublishedSnapshot> snapshot_;
    std::unique_ptr<IssuerStatusBoard> status_;
    std::vector<Worker> workers_;
    std::unique_ptr<HealthRequestHandler> health_handler_;
    std::unique_ptr<ServerLoop> health_loop_;
    std::thread health_thread_;
    std::vector<std::unique_ptr<IssuerRefresher>> refreshers_;
    bool stopped_ = false;
};

}  // namespace oidcgw
