#include "acme/acme_manager.h"

#include "acme/acme_client.h"
#include "acme/certificate_request.h"
#include "acme/renewal_info.h"
#include "common/certificate_chain.h"
#include "common/text_escape.h"
#include "common/utc_time.h"
#include "ops/test_hooks.h"

#include <openssl/pem.h>

#include <algorithm>

namespace oidcgw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kFirstRetry{60'000};
constexpr milliseconds kMaxRetry{6 * 3600'000};
// Even with nothing due, the thread looks again this often: a gateway sharing cache_dir may have
// renewed, and an ARI window may have moved.
constexpr milliseconds kRecheck{3600'000};
// While another gateway holds the lock it is ordering; its certificate is looked for this often.
constexpr milliseconds kLockPoll{5'000};

std::string names_text(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
    return text;
}

}  // namespace

AcmeManager::AcmeManager(AcmeConfig config, std::string cache_dir,
                         std::shared_ptr<TlsAlpnChallenges> challenges, Logger& logger,
                         MetricsRegistry& metrics, CertificateReady on_certificate)
    : config_(std::move(config)),
      files_(cache_dir),
      challenges_(std::move(challenges)),
      logger_(logger),
      metrics_(metrics),
      on_certificate_(std::move(on_certificate)),
      random_(std::random_device{}()) {
    report_.names = config_.names;
    report_.directory_url = config_.directory_url;
    // Both series exist from the start, so a rate over them is defined before the first order.
    for (const char* result : {"success", "failure"}) {
        metrics_.counter("oidc_gateway_acme_orders_total", "ACME certificate orders, by result.",
                         {{"result", result}});
    }
}

AcmeManager::~AcmeManager() {
    stop();
}

std::time_t AcmeManager::renewal_time(std::time_t not_before, std::time_t not_after,
                                      std::optional<seconds> renew_before, bool* too_soon) {
    *too_soon = false;
    const std::time_t lifetime = std::max<std::time_t>(not_after - not_before, 0);
    const std::time_t at = renew_before
                               ? not_after - static_cast<std::time_t>(renew_before->count())
                               : not_after - lifetime / 3;
    const std::time_t earliest = not_before + lifetime / 2;
    if (renew_before && at < earliest) {
        *too_soon = true;
        return earliest;
    }
    return at;
}

milliseconds AcmeManager::retry_delay(int failures, double jitter, seconds retry_after) {
    milliseconds first = kFirstRetry;
#ifdef OIDCGW_TEST_HOOKS
    if (const auto hooked = test_hooks::acme_first_retry()) first = *hooked;
#endif
    milliseconds delay = first;
    for (int step = 1; step < failures && delay < kMaxRetry; ++step) delay *= 2;
    delay = std::min(delay, kMaxRetry);
    const auto scaled = milliseconds(static_cast<long long>(
        static_cast<double>(delay.count()) * (0.75 + 0.25 * std::clamp(jitter, 0.0, 1.0))));
    return std::max<milliseconds>(scaled, retry_after);
}

std::shared_ptr<const CertificateMaterial> AcmeManager::load_cached() {
    bool missing = false;
    std::string error;
    auto material = files_.load_certificate(config_.names, std::time(nullptr), &missing, &error);
    if (!material) {
        if (!missing) {
            logger_.error("acme_cache_refused",
                          {{"file", files_.certificate_path()}, {"detail", error}});
            std::lock_guard lock(mutex_);
            report_.last_error = "cache: " + error;
        }
        return nullptr;
    }
    logger_.info("acme_cache_loaded", {{"file", files_.certificate_path()},
                                       {"names", config_.names},
                                       {"not_after", utc_iso8601(material->not_after)}});
    adopt(material, /*issued_now=*/false, /*notify=*/false);
    return material;
}

void AcmeManager::start() {
    thread_ = std::thread([this] { run(); });
}

void AcmeManager::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    // The order in flight takes its answers down as it ends (PendingAnswers).
    if (thread_.joinable()) thread_.join();
}

bool AcmeManager::sleep_for(milliseconds duration) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, duration, [this] { return stopping_.load(); });
    return !stopping_;
}

void AcmeManager::set_state(const std::string& state) {
    std::lock_guard lock(mutex_);
    report_.state = state;
}

AcmeReport AcmeManager::report() const {
    std::lock_guard lock(mutex_);
    return report_;
}

bool AcmeManager::ready(std::string* reason) const {
    std::lock_guard lock(mutex_);
    if (current_ && current_->not_after > std::time(nullptr)) return true;
    *reason = "no ACME certificate for " + names_text(config_.names) + " yet";
    if (!report_.last_error.empty()) *reason += " (" + report_.last_error + ")";
    return false;
}

void AcmeManager::adopt(std::shared_ptr<const CertificateMaterial> material, bool issued_now,
                        bool notify) {
    bool too_soon = false;
    const std::time_t renew_at =
        renewal_time(material->not_before, material->not_after, config_.renew_before, &too_soon);
    if (too_soon) {
        logger_.warn("acme_renew_before_too_long",
                     {{"detail",
                       "tls.acme.renew_before is longer than the certificate's "
                       "lifetime; it is renewed at half its lifetime instead"},
                      {"next_renewal", utc_iso8601(renew_at)}});
    }
    ari_next_check_ = {};  // a new certificate: the CA's window for it is asked at once
    {
        std::lock_guard lock(mutex_);
        current_ = material;
        report_.not_after = material->not_after;
        report_.next_renewal = renew_at;
        if (issued_now) {
            report_.last_issued = std::time(nullptr);
            report_.last_error.clear();
            report_.last_error_type.clear();
            report_.consecutive_failures = 0;
            report_.next_attempt = 0;
        }
    }
    if (notify && on_certificate_) on_certificate_(std::move(material));
}

void AcmeManager::record_failure(const std::string& error, const std::string& type,
                                 seconds retry_after) {
    metrics_
        .counter("oidc_gateway_acme_orders_total", "ACME certificate orders, by result.",
                 {{"result", "failure"}})
        .increment();
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    int failures = 0;
    {
        std::lock_guard lock(mutex_);
        failures = ++report_.consecutive_failures;
    }
    const milliseconds delay = retry_delay(failures, uniform(random_), retry_after);
    const std::time_t next =
        std::time(nullptr) + std::chrono::duration_cast<seconds>(delay).count();
    {
        std::lock_guard lock(mutex_);
        report_.state = "retrying";
        report_.last_error = error;
        report_.last_error_type = type;
        report_.next_attempt = next;
    }
    logger_.error("acme_order_failed", {{"names", config_.names},
                                        {"detail", error},
                                        {"problem", type},
                                        {"failures", failures},
                                        {"retry_at", utc_iso8601(next)}});
}

bool AcmeManager::prepare_account(std::string* error) {
    if (account_key_) return true;
    bool missing = false;
    account_key_ = files_.load_account_key(&missing, error);
    if (!account_key_ && !missing) {
        // An account key is an identity: one that cannot be read is reported, never replaced.
        *error = "account key: " + *error + "; remove it to register a new account";
        return false;
    }
    if (!account_key_) {
        account_key_ = generate_private_key(CertificateKeyType::EcdsaP256);
        if (!account_key_ || !files_.save_account_key(account_key_.get(), error)) {
            account_key_.reset();
            if (error->empty()) *error = "cannot make an account key";
            return false;
        }
        logger_.info("acme_account_key_created", {{"file", files_.account_key_path()}});
    }
    account_url_ = files_.load_account_url(config_.directory_url);
    return true;
}

std::optional<AcmeClientSettings> AcmeManager::client_settings(std::string* error) const {
    if (config_.external_account_binding && config_.eab_mac_key.empty()) {
        *error = "external_account_binding: the MAC key was not read with the configuration";
        return std::nullopt;
    }
    AcmeClientSettings settings;
    settings.directory_url = config_.directory_url;
    settings.contact = config_.contact;
    settings.http.ca_pem = config_.ca_pem;
    if (const auto& binding = config_.external_account_binding) {
        settings.eab_key_id = binding->key_id;
        settings.eab_mac_key = config_.eab_mac_key;
    }
    return settings;
}

void AcmeManager::consult_renewal_info() {
    const auto now = std::chrono::steady_clock::now();
    if (!ari_offered_ || !current_ || now < ari_next_check_) return;
    ari_next_check_ = now + std::chrono::hours(6);  // RFC 9773 section 4.3, after errors too
    const std::optional<std::string> certificate_id = ari_certificate_id(current_->leaf());
    std::string error;
    std::optional<AcmeClientSettings> settings = client_settings(&error);
    if (!certificate_id || !settings) {
        ari_offered_ = certificate_id.has_value();
        return;
    }
    AcmeClient client(std::move(*settings), account_key_.get(), *challenges_, logger_, stopping_,
                      [this](milliseconds duration) { return sleep_for(duration); });
    AcmeFailure failure;
    const auto answer = client.renewal_info(*certificate_id, &failure);
    if (!answer) {
        if (failure.step.empty()) {
            ari_offered_ = false;  // the directory has no renewalInfo
        } else {
            logger_.warn("acme_renewal_info_failed", {{"detail", failure.summary()}});
        }
        return;
    }
    const std::optional<RenewalWindow> window = parse_renewal_info(answer->body, &error);
    if (!window) {
        logger_.warn("acme_renewal_info_refused", {{"detail", error}});
        return;
    }
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const std::time_t renew_at = pick_renewal_time(*window, uniform(random_));
    const seconds retry_after = std::clamp<seconds>(
        answer->retry_after.count() > 0 ? answer->retry_after : seconds(6 * 3600), seconds(3600),
        seconds(24 * 3600));
    ari_next_check_ = now + retry_after;
    {
        std::lock_guard lock(mutex_);
        report_.next_renewal = renew_at;
    }
    logger_.info("acme_renewal_window", {{"start", utc_iso8601(window->start)},
                                         {"end", utc_iso8601(window->end)},
                                         {"next_renewal", utc_iso8601(renew_at)}});
}

bool AcmeManager::order_once() {
    std::string error;
    if (!files_.ensure_directory(&error)) {
        record_failure(error, "", seconds(0));
        return false;
    }
    // A gateway sharing cache_dir may have renewed meanwhile: its certificate, when newer and not
    // due, is taken instead of ordering.
    bool missing = false;
    const auto adopt_newer_from_disk = [&] {
        auto fresh = files_.load_certificate(config_.names, std::time(nullptr), &missing, &error);
        bool too_soon = false;
        if (!fresh || (current_ && fresh->not_after <= current_->not_after) ||
            std::time(nullptr) >= renewal_time(fresh->not_before, fresh->not_after,
                                               config_.renew_before, &too_soon)) {
            return false;
        }
        logger_.info("acme_certificate_shared", {{"file", files_.certificate_path()},
                                                 {"not_after", utc_iso8601(fresh->not_after)}});
        adopt(std::move(fresh), /*issued_now=*/true);
        return true;
    };
    bool busy = false;
    const UniqueFd lock = files_.try_lock(&busy, &error);
    if (lock.get() < 0) {
        if (!busy) {
            record_failure(error, "", seconds(0));
            return false;
        }
        if (adopt_newer_from_disk()) return true;
        set_state("waiting_for_lock");
        return false;  // looked for again after kLockPoll
    }
    set_state("ordering");
    if (adopt_newer_from_disk()) return true;
    // Under the lock: gateways sharing cache_dir make one account key between them.
    if (!prepare_account(&error)) {
        record_failure(error, "", seconds(0));
        return false;
    }

    std::optional<AcmeClientSettings> settings = client_settings(&error);
    if (!settings) {
        record_failure(error, "", seconds(0));
        return false;
    }
    AcmeClient client(std::move(*settings), account_key_.get(), *challenges_, logger_, stopping_,
                      [this](milliseconds duration) { return sleep_for(duration); });
    AcmeFailure failure;
    const std::optional<std::string> account = client.ensure_account(account_url_, &failure);
    if (!account) {
        record_failure(failure.summary(), failure.problem.short_type(), failure.retry_after);
        return false;
    }
    if (*account != account_url_) {
        account_url_ = *account;
        if (!files_.save_account_url(config_.directory_url, account_url_, &error)) {
            logger_.warn("acme_account_not_saved", {{"detail", error}});
        }
    }
    const auto key_type = config_.key_type == AcmeKeyType::Rsa2048 ? CertificateKeyType::Rsa2048
                                                                   : CertificateKeyType::EcdsaP256;
    EvpPkeyPtr certificate_key = generate_private_key(key_type);
    if (!certificate_key) {
        record_failure("cannot make a certificate key", "", seconds(0));
        return false;
    }
    std::string replaces;
    if (current_) replaces = ari_certificate_id(current_->leaf()).value_or("");
    const std::optional<AcmeIssued> issued =
        client.order_certificate(config_.names, certificate_key.get(), replaces, &failure);
    if (!issued) {
        if (stopping_) return false;
        record_failure(failure.summary(), failure.problem.short_type(), failure.retry_after);
        return false;
    }
    if (!files_.save_certificate(issued->chain_pem, certificate_key.get(), &error)) {
        record_failure("cannot keep the certificate: " + error, "", seconds(0));
        return false;
    }
    // Read back through every check a cached certificate gets: what is served is what was kept.
    auto material = files_.load_certificate(config_.names, std::time(nullptr), &missing, &error);
    if (!material) {
        record_failure("the issued certificate was refused: " + error, "", seconds(0));
        return false;
    }
    metrics_
        .counter("oidc_gateway_acme_orders_total", "ACME certificate orders, by result.",
                 {{"result", "success"}})
        .increment();
    logger_.info("acme_certificate_issued", {{"names", config_.names},
                                             {"not_after", utc_iso8601(material->not_after)},
                                             {"renewal", current_ ? "renewal" : "first"}});
    adopt(std::move(material), /*issued_now=*/true);
    return true;
}

void AcmeManager::run() {
    while (!stopping_) {
        std::time_t due = 0;
        {
            std::lock_guard lock(mutex_);
            if (current_) due = report_.next_renewal;
        }
        const std::time_t now = std::time(nullptr);
        if (current_ && now < due) {
            consult_renewal_info();  // may bring the renewal forward (or back), at the CA's word
            {
                std::lock_guard lock(mutex_);
                due = report_.next_renewal;
            }
            if (std::time(nullptr) >= due) continue;
            set_state("valid");
            const milliseconds until(static_cast<long long>(due - std::time(nullptr)) * 1000);
            if (!sleep_for(std::min(until, kRecheck))) break;
            continue;
        }
        if (order_once()) continue;
        if (stopping_) break;
        if (report().state == "waiting_for_lock") {
            if (!sleep_for(kLockPoll)) break;
            continue;
        }
        const std::time_t retry_at = report().next_attempt;
        const milliseconds wait(std::max<long long>(retry_at - std::time(nullptr), 1) * 1000);
        if (!sleep_for(wait)) break;
    }
    set_state("stopped");
}

}  // namespace oidcgw
