// The running gateway: the published snapshot (seeded from the disk cache), one refresher per
// issuer, `workers` public event loops and one health loop, each on its own thread (gateway.cc);
// the transactional reload that replaces configuration, certificates, listeners and issuers
// (gateway_reload.cc); its metrics and /status document (gateway_reporting.cc).
#pragma once

#include "acme/acme_manager.h"
#include "acme/tls_alpn_challenges.h"
#include "common/logger.h"
#include "common/metrics.h"
#include "config/config.h"
#include "edge/access_log.h"
#include "edge/public_handler.h"
#include "edge/server_loop.h"
#include "edge/tls_server_context.h"
#include "ops/health_handler.h"
#include "ops/loop_liveness.h"
#include "publish/document_cache.h"
#include "publish/published_snapshot.h"
#include "upstream/issuer_refresher.h"
#include "upstream/issuer_status.h"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace oidcgw {

struct CertificateInfo {
    std::string file;
    std::string subject;
    std::vector<std::string> sans;
    std::time_t not_after = 0;
};

struct ReloadRecord {
    std::time_t time = 0;  // 0: no reload yet
    bool ok = true;
    std::string error;
};

class Gateway {
  public:
    explicit Gateway(Logger& logger);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // Builds TLS, loads the cache, opens every listener, then starts the threads. On failure
    // nothing is left running and *error says why.
    bool start(Config config, std::string* error);

    // SIGHUP: re-reads the configuration file and everything it names, builds the new state off
    // to the side, and swaps it in only when all of it is valid. On failure nothing changes.
    bool reload(std::string* error);
    bool reload_with(Config config, std::string* error);

    // Graceful: stop accepting, finish requests in flight, stop fetching; returns when every
    // thread has ended (at most about drain_timeout plus one upstream transfer abort).
    void stop(std::chrono::milliseconds drain_timeout);

    std::chrono::milliseconds shutdown_timeout() const;
    // The main thread, a few times a second: logs loops that stalled or recovered; true while
    // every loop is live (and while stopping), i.e. when systemd's watchdog may be fed.
    bool check_liveness();
    std::string render_metrics() const;
    std::string render_status() const;

  private:
    struct Worker {
        std::unique_ptr<PublicRequestHandler> handler;
        std::unique_ptr<ServerLoop> loop;
        std::thread thread;
    };

    std::shared_ptr<const Config> current_config() const;
    // The pair the disk cache holds for `issuer` (logged and shown in the status), or nullopt.
    std::optional<AcceptedDocuments> load_cached(const IssuerUrl& issuer, const Config& config);
    std::vector<CertificateInfo> describe_certificates(const Config& config) const;
    using IssuerTls = std::vector<std::optional<LoadedUpstreamTls>>;  // one per issuer
    static bool load_issuer_tls(const Config& config, IssuerTls* loaded, std::string* error);
    void start_refresher(const IssuerConfig& issuer, const std::optional<LoadedUpstreamTls>& tls,
                         const Config& config);
    void register_collectors();
    void log_certificate_warnings(const std::vector<std::string>& warnings);
    void log_withdrawn(const std::vector<std::string>& withdrawn);
    void record_reload(bool ok, const std::string& error);
    // tls.acme: a manager for `config` (not started), and what the TLS context takes from ACME.
    // *generation identifies it; it becomes acme_generation_ when the manager becomes acme_.
    std::shared_ptr<AcmeManager> make_acme_manager(const Config& config, std::uint64_t* generation);
    AcmeTlsInputs acme_inputs(const Config& config,
                              std::shared_ptr<const CertificateMaterial> certificate) const;
    // The ACME thread's callback: the swap runs on the health loop's thread, so the ACME thread
    // never waits for a reload (which may be stopping it).
    void on_acme_certificate(std::uint64_t generation,
                             std::shared_ptr<const CertificateMaterial> certificate);
    void install_tls(const SharedSslCtx& tls);  // every worker's listeners, for new handshakes
    // /readyz with tls.acme: an ACME certificate for every name is what new handshakes get.
    bool acme_certificate_served(std::string* reason) const;

    Logger& logger_;
    MetricsRegistry metrics_;
    std::unique_ptr<AdmissionControl> admission_;  // shared by the public loops
    std::unique_ptr<AdmissionControl> health_admission_;
    AccessLog access_log_;
    std::time_t started_at_ = 0;

    mutable std::mutex state_mutex_;  // guards the members read by the health thread
    std::shared_ptr<const Config> config_;
    std::vector<CertificateInfo> certificates_;
    ReloadRecord last_reload_;
    // tls.acme: the manager, the certificate it gave (served first for its names), and which
    // manager is current (a replaced one's late certificate is ignored).
    std::shared_ptr<AcmeManager> acme_;
    std::shared_ptr<const CertificateMaterial> acme_certificate_;
    std::uint64_t acme_generation_ = 0;
    std::uint64_t acme_managers_made_ = 0;  // the main thread's
    // Pending TLS-ALPN-01 answers, shared by every context the gateway builds.
    std::shared_ptr<TlsAlpnChallenges> acme_challenges_;
    // One public TLS context swap at a time: a reload's, or an ACME certificate's.
    std::mutex tls_mutex_;

    SharedSslCtx tls_;
    // Owned here, not by a context, so session tickets keep resuming across reloads.
    std::shared_ptr<SessionTicketKeys> ticket_keys_;
    std::unique_ptr<PublishedSnapshot> snapshot_;
    IssuerStatusBoard status_;
    std::vector<Worker> workers_;
    std::unique_ptr<HealthRequestHandler> health_handler_;
    std::unique_ptr<ServerLoop> health_loop_;
    std::thread health_thread_;
    std::mutex liveness_mutex_;  // check_liveness() against stop() tearing the loops down
    std::unique_ptr<LoopLiveness> liveness_;
    bool stopping_ = false;
    std::vector<std::unique_ptr<IssuerRefresher>> refreshers_;
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace oidcgw
