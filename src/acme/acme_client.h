// The ACME protocol (RFC 8555) as the gateway needs it: the directory, one account (ES256 key,
// optionally bound with EAB), and orders proved with TLS-ALPN-01 (RFC 8737) on the public
// listeners, ending in the certificate chain as the CA gives it. Every POST is a JWS with a fresh
// nonce; a badNonce is retried with the nonce that came with it. Polls are bounded and honour
// Retry-After. Blocking: the ACME thread (acme_manager.h) runs it.
#pragma once

#include "acme/acme_http.h"
#include "acme/acme_messages.h"
#include "acme/tls_alpn_challenges.h"
#include "common/logger.h"
#include "common/raii.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

// Why an ACME step failed: the step ("newOrder", "challenge for oidc.example.com"), the CA's
// problem when it sent one, and how long it asked us to wait.
struct AcmeFailure {
    std::string step;
    AcmeProblem problem;  // type "" when the CA sent no problem document
    std::string detail;   // what went wrong when there is no problem document
    std::chrono::seconds retry_after{0};

    std::string summary() const;  // "newOrder: rateLimited: too many orders", escaped
};

struct AcmeClientSettings {
    std::string directory_url;
    std::vector<std::string> contact;
    std::string eab_key_id;   // "" without external account binding
    std::string eab_mac_key;  // raw bytes
    AcmeHttpSettings http;
    // How long the CA may take to validate the challenges, and then to issue.
    std::chrono::milliseconds validation_timeout{120'000};
    std::chrono::milliseconds issuance_timeout{120'000};
};

// A certificate the CA issued: the PEM chain exactly as downloaded (leaf first).
struct AcmeIssued {
    std::string chain_pem;
};

class AcmeClient {
  public:
    // `sleep` waits for the given time and returns false once the gateway is stopping.
    // `account_key` may be null for renewal_info alone (an unauthenticated GET).
    using Sleep = std::function<bool(std::chrono::milliseconds)>;

    AcmeClient(AcmeClientSettings settings, EVP_PKEY* account_key, TlsAlpnChallenges& challenges,
               Logger& logger, const std::atomic<bool>& stop, Sleep sleep);

    // The directory, then the account for the key (newAccount answers an existing one too).
    // `known_url` (from the cache) is kept when the CA confirms it. Returns the account URL.
    std::optional<std::string> ensure_account(const std::string& known_url, AcmeFailure* failure);

    // One order for `names`, answered by TLS-ALPN-01, finalized with a CSR of `certificate_key`.
    // `replaces` (an ARI certificate ID) is sent only when the CA offers renewalInfo.
    std::optional<AcmeIssued> order_certificate(const std::vector<std::string>& names,
                                                EVP_PKEY* certificate_key,
                                                const std::string& replaces, AcmeFailure* failure);

    // The CA's renewalInfo answer for `certificate_id` (RFC 9773); nullopt with failure->step
    // empty when the CA offers no ARI.
    struct RenewalInfoAnswer {
        std::string body;
        std::chrono::seconds retry_after{0};
    };
    std::optional<RenewalInfoAnswer> renewal_info(const std::string& certificate_id,
                                                  AcmeFailure* failure);
    bool offers_renewal_info() const { return directory_ && !directory_->renewal_info.empty(); }

  private:
    bool load_directory(AcmeFailure* failure);
    // A JWS POST of `payload` to `url`, signed with the account's kid (or, for newAccount, its
    // JWK); retried on badNonce with the nonce the refusal carried.
    AcmeHttpResponse signed_post(const std::string& url, const std::string& payload, bool with_jwk,
                                 AcmeFailure* failure, const std::string& step);
    bool take_nonce(std::string* nonce, AcmeFailure* failure, const std::string& step);
    // Fails with the CA's problem when the answer is not a success.
    bool accepted(const AcmeHttpResponse& response, const std::string& step, AcmeFailure* failure);
    // The order's authorizations answered: true once every one is valid.
    bool authorize(const AcmeOrder& order, AcmeFailure* failure);
    std::optional<AcmeAuthorization> fetch_authorization(const std::string& url,
                                                         AcmeFailure* failure);
    // Polls `url` (an order) until its status is not one of `waiting`, within `timeout`.
    std::optional<AcmeOrder> poll_order(const std::string& url,
                                        std::initializer_list<std::string_view> waiting,
                                        std::chrono::milliseconds timeout, AcmeFailure* failure);
    std::chrono::milliseconds poll_delay(int attempt, std::chrono::seconds retry_after) const;

    AcmeClientSettings settings_;
    EVP_PKEY* account_key_;
    nlohmann::json account_jwk_;
    std::string thumbprint_;
    TlsAlpnChallenges& challenges_;
    Logger& logger_;
    const std::atomic<bool>& stop_;
    Sleep sleep_;
    AcmeHttp http_;
    std::optional<AcmeDirectory> directory_;
    std::string account_url_;
    std::string nonce_;
};

}  // namespace oidcgw
