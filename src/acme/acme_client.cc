// The client's transport side: the directory, nonces, signed POSTs, the account and ARI. The
// order itself (authorizations, challenges, finalize, download) is in acme_order.cc.
#include "acme/acme_client.h"

#include "acme/jose.h"
#include "common/text_escape.h"

#include <algorithm>

namespace oidcgw {
namespace {

constexpr int kMaxNonceRetries = 5;

}  // namespace

std::string AcmeFailure::summary() const {
    std::string text = step + ": ";
    if (!problem.type.empty() || !problem.detail.empty()) {
        text += problem.summary();
    } else if (!detail.empty()) {
        text += escape_untrusted(detail);
    } else {
        text += "HTTP " + std::to_string(problem.status);
    }
    return text;
}

AcmeClient::AcmeClient(AcmeClientSettings settings, EVP_PKEY* account_key,
                       TlsAlpnChallenges& challenges, Logger& logger, const std::atomic<bool>& stop,
                       Sleep sleep)
    : settings_(std::move(settings)),
      account_key_(account_key),
      account_jwk_(account_key != nullptr ? account_jwk(account_key) : nlohmann::json()),
      thumbprint_(account_jwk_.is_null() ? std::string() : jwk_thumbprint(account_jwk_)),
      challenges_(challenges),
      logger_(logger),
      stop_(stop),
      sleep_(std::move(sleep)),
      http_(settings_.http, stop) {}

bool AcmeClient::accepted(const AcmeHttpResponse& response, const std::string& step,
                          AcmeFailure* failure) {
    if (response.success()) return true;
    failure->step = step;
    failure->retry_after = response.retry_after;
    if (!response.answered()) {
        failure->detail = response.error;
        return false;
    }
    failure->problem = parse_acme_problem(response.body, static_cast<int>(response.status));
    if (failure->problem.type.empty() && failure->problem.detail.empty()) {
        failure->detail = "HTTP " + std::to_string(response.status);
    }
    return false;
}

bool AcmeClient::load_directory(AcmeFailure* failure) {
    if (directory_) return true;
    const AcmeHttpResponse response = http_.get(settings_.directory_url);
    if (!accepted(response, "directory", failure)) return false;
    std::string problem;
    directory_ = parse_acme_directory(response.body, &problem);
    if (!directory_) {
        *failure = AcmeFailure{"directory", {}, problem, {}};
        return false;
    }
    return true;
}

bool AcmeClient::take_nonce(std::string* nonce, AcmeFailure* failure, const std::string& step) {
    if (!nonce_.empty()) {
        *nonce = std::move(nonce_);
        nonce_.clear();
        return true;
    }
    const AcmeHttpResponse response = http_.head(directory_->new_nonce);
    if (!accepted(response, step + " (newNonce)", failure)) return false;
    if (response.replay_nonce.empty() || response.replay_nonce.size() > 256) {
        *failure = AcmeFailure{step + " (newNonce)", {}, "the CA sent no usable Replay-Nonce", {}};
        return false;
    }
    *nonce = response.replay_nonce;
    return true;
}

AcmeHttpResponse AcmeClient::signed_post(const std::string& url, const std::string& payload,
                                         bool with_jwk, AcmeFailure* failure,
                                         const std::string& step) {
    AcmeHttpResponse response;
    for (int attempt = 0; attempt <= kMaxNonceRetries; ++attempt) {
        std::string nonce;
        if (!take_nonce(&nonce, failure, step)) return AcmeHttpResponse{};
        nlohmann::json header = {{"alg", "ES256"}, {"nonce", nonce}, {"url", url}};
        if (with_jwk) {
            header["jwk"] = account_jwk_;
        } else {
            header["kid"] = account_url_;
        }
        std::string problem;
        const std::optional<std::string> body =
            flattened_jws(account_key_, header, payload, &problem);
        if (!body) {
            *failure = AcmeFailure{step, {}, "cannot sign the request: " + problem, {}};
            return AcmeHttpResponse{};
        }
        response = http_.post_jose(url, *body);
        if (!response.replay_nonce.empty() && response.replay_nonce.size() <= 256) {
            nonce_ = response.replay_nonce;
        }
        if (response.status != 400) break;
        const AcmeProblem refusal =
            parse_acme_problem(response.body, static_cast<int>(response.status));
        if (refusal.short_type() != "badNonce") break;
        logger_.debug("acme_bad_nonce", {{"step", step}, {"attempt", attempt + 1}});
    }
    return response;
}

std::optional<std::string> AcmeClient::ensure_account(const std::string& known_url,
                                                      AcmeFailure* failure) {
    if (account_jwk_.is_null()) {
        *failure = AcmeFailure{"account", {}, "the account key is not an ECDSA P-256 key", {}};
        return std::nullopt;
    }
    if (!load_directory(failure)) return std::nullopt;
    if (directory_->external_account_required && settings_.eab_key_id.empty()) {
        *failure = AcmeFailure{"newAccount",
                               {},
                               "the CA requires external account binding; set "
                               "tls.acme.external_account_binding",
                               {}};
        return std::nullopt;
    }
    nlohmann::json request = {{"termsOfServiceAgreed", true}};
    if (!settings_.contact.empty()) request["contact"] = settings_.contact;
    if (!settings_.eab_key_id.empty()) {
        request["externalAccountBinding"] = external_account_binding(
            settings_.eab_key_id, settings_.eab_mac_key, account_jwk_, directory_->new_account);
    }
    const AcmeHttpResponse response = signed_post(directory_->new_account, request.dump(),
                                                  /*with_jwk=*/true, failure, "newAccount");
    if (!accepted(response, "newAccount", failure)) return std::nullopt;
    if (!is_acme_url(response.location)) {
        *failure = AcmeFailure{
            "newAccount",
            {},
            "the account URL (Location) is not an https URL: " + quote_untrusted(response.location),
            {}};
        return std::nullopt;
    }
    account_url_ = response.location;
    if (account_url_ != known_url) {
        logger_.info("acme_account",
                     {{"account", account_url_}, {"created", response.status == 201}});
    }
    return account_url_;
}

std::optional<AcmeClient::RenewalInfoAnswer> AcmeClient::renewal_info(
    const std::string& certificate_id, AcmeFailure* failure) {
    if (!load_directory(failure)) return std::nullopt;
    if (directory_->renewal_info.empty()) return std::nullopt;
    std::string url = directory_->renewal_info;
    if (url.back() != '/') url += '/';
    const AcmeHttpResponse response = http_.get(url + certificate_id);
    if (!accepted(response, "renewalInfo", failure)) return std::nullopt;
    return RenewalInfoAnswer{response.body, response.retry_after};
}

std::chrono::milliseconds AcmeClient::poll_delay(int attempt,
                                                 std::chrono::seconds retry_after) const {
    using std::chrono::milliseconds;
    if (retry_after.count() > 0) {
        // Honoured, within what a bounded poll can wait.
        return std::clamp<milliseconds>(retry_after, milliseconds(1'000), milliseconds(60'000));
    }
    // 0.5 s, 1 s, 2 s, then every 5 s: validations take seconds, issuance a moment more.
    const milliseconds delay(500LL << std::min(attempt, 3));
    return std::min(delay, milliseconds(5'000));
}

}  // namespace oidcgw
