// Keeps the gateway's ACME certificate (tls.acme): served from cache_dir/acme at start when it is
// still good, ordered when missing or due, renewed in the background with jittered exponential
// backoff on failure (and at least the CA's Retry-After), and handed to the gateway, which swaps
// it into the public TLS context as a reload would. One thread; every wait ends on stop.
#pragma once

#include "acme/acme_client.h"
#include "acme/acme_files.h"
#include "acme/tls_alpn_challenges.h"
#include "common/logger.h"
#include "common/metrics.h"
#include "config/config.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace oidcgw {

// What /status shows of the ACME certificate.
struct AcmeReport {
    std::vector<std::string> names;
    std::string directory_url;
    // "valid", "ordering", "waiting_for_lock" (another gateway sharing cache_dir orders),
    // "retrying" (the last attempt failed), "stopped".
    std::string state = "ordering";
    std::time_t not_after = 0;     // 0: no certificate yet
    std::time_t next_renewal = 0;  // when the next order starts (0: at once)
    std::time_t next_attempt = 0;  // after a failure: when it is tried again
    std::string last_error;        // "" since the last success
    std::string last_error_type;   // the CA's problem type, e.g. "rateLimited"
    int consecutive_failures = 0;
    std::time_t last_issued = 0;
};

class AcmeManager {
  public:
    using CertificateReady = std::function<void(std::shared_ptr<const CertificateMaterial>)>;

    AcmeManager(AcmeConfig config, std::string cache_dir,
                std::shared_ptr<TlsAlpnChallenges> challenges, Logger& logger,
                MetricsRegistry& metrics, CertificateReady on_certificate);
    ~AcmeManager();
    AcmeManager(const AcmeManager&) = delete;
    AcmeManager& operator=(const AcmeManager&) = delete;

    // The certificate in cache_dir/acme when it is valid for the names (logged either way); the
    // thread then starts from it. Call before start(); the callback is not called for it.
    std::shared_ptr<const CertificateMaterial> load_cached();
    void start();
    void stop();  // aborts a transfer in flight, then joins; idempotent

    const AcmeConfig& config() const { return config_; }
    AcmeReport report() const;
    // True once a certificate covering every name is being served; otherwise *reason says why.
    bool ready(std::string* reason) const;

    // When a certificate from `not_before` to `not_after` is due for renewal: `renew_before`
    // ahead of notAfter, else when a third of its lifetime is left; never sooner than half its
    // lifetime (then *too_soon is set: renew_before is longer than the CA's lifetime).
    static std::time_t renewal_time(std::time_t not_before, std::time_t not_after,
                                    std::optional<std::chrono::seconds> renew_before,
                                    bool* too_soon);
    // The pause after `failures` failed attempts in a row: 1 min doubling to 6 h (the first step
    // can be shortened by the e2e tests' hooks), scaled by 75-100% (`jitter` in [0, 1)), and at
    // least `retry_after`.
    static std::chrono::milliseconds retry_delay(int failures, double jitter,
                                                 std::chrono::seconds retry_after);

  private:
    void run();
    // One order, from the lock to the swap. False with the failure recorded.
    bool order_once();
    bool prepare_account(std::string* error);
    std::optional<AcmeClientSettings> client_settings(std::string* error) const;
    // With ARI (RFC 9773): the CA's window sets the renewal time; looked at again after its
    // Retry-After (1 h - 1 day).
    void consult_renewal_info();
    void adopt(std::shared_ptr<const CertificateMaterial> material, bool issued_now,
               bool notify = true);
    void record_failure(const std::string& error, const std::string& type,
                        std::chrono::seconds retry_after);
    bool sleep_for(std::chrono::milliseconds duration);
    void set_state(const std::string& state);

    AcmeConfig config_;
    AcmeFiles files_;
    std::shared_ptr<TlsAlpnChallenges> challenges_;
    Logger& logger_;
    MetricsRegistry& metrics_;
    CertificateReady on_certificate_;

    EvpPkeyPtr account_key_;  // the thread's
    std::string account_url_;
    std::mt19937_64 random_;
    std::chrono::steady_clock::time_point ari_next_check_{};  // the thread's
    bool ari_offered_ = true;                                 // until the directory says otherwise

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    AcmeReport report_;
    // Written only by the ACME thread (and by load_cached, before the thread starts), under
    // mutex_; so the thread may read it without the lock, and every other thread takes it.
    std::shared_ptr<const CertificateMaterial> current_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace oidcgw
