// One ACME order (RFC 8555 section 7.4): newOrder, each authorization answered with TLS-ALPN-01
// on the public listeners, finalize with the CSR, then the certificate chain as the CA gives it.
#include "acme/acme_client.h"
#include "acme/certificate_request.h"
#include "acme/challenge_certificate.h"
#include "acme/jose.h"
#include "common/base64url.h"
#include "common/text_escape.h"

#include <algorithm>

namespace oidcgw {
namespace {

// The answers this order put up; taken down however the order ends.
class PendingAnswers {
  public:
    explicit PendingAnswers(TlsAlpnChallenges& challenges) : challenges_(challenges) {}
    ~PendingAnswers() {
        for (const std::string& name : names_) challenges_.remove(name);
    }
    PendingAnswers(const PendingAnswers&) = delete;
    PendingAnswers& operator=(const PendingAnswers&) = delete;

    void add(const std::string& name, std::shared_ptr<const TlsAlpnAnswer> answer) {
        challenges_.add(name, std::move(answer));
        names_.push_back(name);
    }

  private:
    TlsAlpnChallenges& challenges_;
    std::vector<std::string> names_;
};

bool is_waiting(std::string_view status, std::initializer_list<std::string_view> waiting) {
    return std::find(waiting.begin(), waiting.end(), status) != waiting.end();
}

}  // namespace

std::optional<AcmeAuthorization> AcmeClient::fetch_authorization(const std::string& url,
                                                                 AcmeFailure* failure) {
    const AcmeHttpResponse response =
        signed_post(url, "", /*with_jwk=*/false, failure, "authorization");
    if (!accepted(response, "authorization", failure)) return std::nullopt;
    std::string problem;
    std::optional<AcmeAuthorization> authorization =
        parse_acme_authorization(response.body, &problem);
    if (!authorization) *failure = AcmeFailure{"authorization", {}, problem, {}};
    return authorization;
}

bool AcmeClient::authorize(const AcmeOrder& order, AcmeFailure* failure) {
    EvpPkeyPtr challenge_key = generate_private_key(CertificateKeyType::EcdsaP256);
    if (!challenge_key) {
        *failure = AcmeFailure{"challenge", {}, "cannot make a challenge key", {}};
        return false;
    }
    PendingAnswers answers(challenges_);
    struct Waiting {
        std::string url;
        std::string name;
    };
    std::vector<Waiting> waiting;
    for (const std::string& url : order.authorizations) {
        const std::optional<AcmeAuthorization> authorization = fetch_authorization(url, failure);
        if (!authorization) return false;
        if (authorization->status == "valid") continue;  // reused from an earlier order
        const std::string step = "challenge for " + authorization->identifier;
        if (authorization->status != "pending") {
            *failure = AcmeFailure{step, {}, "the authorization is " + authorization->status, {}};
            return false;
        }
        const AcmeChallenge* challenge = tls_alpn_challenge(*authorization);
        if (challenge == nullptr) {
            *failure = AcmeFailure{step, {}, "the CA offers no tls-alpn-01 challenge", {}};
            return false;
        }
        std::string problem;
        auto answer = std::make_shared<TlsAlpnAnswer>();
        answer->certificate = tls_alpn_challenge_certificate(
            authorization->identifier, key_authorization(challenge->token, thumbprint_),
            challenge_key.get(), &problem);
        if (!answer->certificate) {
            *failure =
                AcmeFailure{step, {}, "cannot make the challenge certificate: " + problem, {}};
            return false;
        }
        EVP_PKEY_up_ref(challenge_key.get());
        answer->private_key.reset(challenge_key.get());
        answers.add(authorization->identifier, std::move(answer));
        // The answer is up before the CA is told to look (RFC 8555 section 7.5.1).
        const AcmeHttpResponse response =
            signed_post(challenge->url, "{}", /*with_jwk=*/false, failure, step);
        if (!accepted(response, step, failure)) return false;
        logger_.info("acme_challenge",
                     {{"name", authorization->identifier}, {"type", "tls-alpn-01"}});
        waiting.push_back(Waiting{url, authorization->identifier});
    }

    const auto deadline = std::chrono::steady_clock::now() + settings_.validation_timeout;
    for (const Waiting& entry : waiting) {
        const std::string step = "challenge for " + entry.name;
        for (int attempt = 0;; ++attempt) {
            const std::optional<AcmeAuthorization> authorization =
                fetch_authorization(entry.url, failure);
            if (!authorization) return false;
            if (authorization->status == "valid") break;
            if (authorization->status != "pending") {
                // The CA's reason is on the challenge it tried.
                failure->step = step;
                failure->detail = "the authorization is " + authorization->status;
                if (const AcmeChallenge* tried = tls_alpn_challenge(*authorization);
                    tried != nullptr && tried->error) {
                    failure->problem = *tried->error;
                }
                return false;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                *failure = AcmeFailure{step, {}, "the CA did not validate in time", {}};
                return false;
            }
            if (!sleep_(poll_delay(attempt, std::chrono::seconds(0)))) {
                *failure = AcmeFailure{step, {}, "stopped", {}};
                return false;
            }
        }
    }
    return true;
}

std::optional<AcmeOrder> AcmeClient::poll_order(const std::string& url,
                                                std::initializer_list<std::string_view> waiting,
                                                std::chrono::milliseconds timeout,
                                                AcmeFailure* failure) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int attempt = 0;; ++attempt) {
        const AcmeHttpResponse response = signed_post(url, "", false, failure, "order");
        if (!accepted(response, "order", failure)) return std::nullopt;
        std::string problem;
        std::optional<AcmeOrder> order = parse_acme_order(response.body, &problem);
        if (!order) {
            *failure = AcmeFailure{"order", {}, problem, {}};
            return std::nullopt;
        }
        if (!is_waiting(order->status, waiting)) return order;
        if (std::chrono::steady_clock::now() >= deadline) {
            *failure = AcmeFailure{"order", {}, "still " + order->status + " after the wait", {}};
            return std::nullopt;
        }
        if (!sleep_(poll_delay(attempt, response.retry_after))) {
            *failure = AcmeFailure{"order", {}, "stopped", {}};
            return std::nullopt;
        }
    }
}

std::optional<AcmeIssued> AcmeClient::order_certificate(const std::vector<std::string>& names,
                                                        EVP_PKEY* certificate_key,
                                                        const std::string& replaces,
                                                        AcmeFailure* failure) {
    if (account_url_.empty()) {
        *failure = AcmeFailure{"newOrder", {}, "no account yet", {}};
        return std::nullopt;
    }
    const AcmeHttpResponse created = signed_post(
        directory_->new_order, new_order_payload(names, replaces, offers_renewal_info()), false,
        failure, "newOrder");
    if (!accepted(created, "newOrder", failure)) return std::nullopt;
    if (!is_acme_url(created.location)) {
        *failure = AcmeFailure{"newOrder", {}, "the CA sent no https order URL (Location)", {}};
        return std::nullopt;
    }
    const std::string order_url = created.location;
    std::string problem;
    std::optional<AcmeOrder> order = parse_acme_order(created.body, &problem);
    if (!order) {
        *failure = AcmeFailure{"newOrder", {}, problem, {}};
        return std::nullopt;
    }
    logger_.info("acme_order", {{"names", names}, {"order", order_url}});

    if (order->status == "pending") {
        if (!authorize(*order, failure)) return std::nullopt;
        order = poll_order(order_url, {"pending"}, settings_.validation_timeout, failure);
        if (!order) return std::nullopt;
    }
    if (order->status != "ready" && order->status != "processing" && order->status != "valid") {
        *failure = AcmeFailure{
            "order", order->error.value_or(AcmeProblem{}), "the order is " + order->status, {}};
        return std::nullopt;
    }
    if (order->status == "ready") {
        const std::optional<std::string> csr =
            certificate_signing_request(names, certificate_key, &problem);
        if (!csr) {
            *failure = AcmeFailure{"finalize", {}, "cannot make the CSR: " + problem, {}};
            return std::nullopt;
        }
        const nlohmann::json finalize = {{"csr", encode_base64url(*csr)}};
        const AcmeHttpResponse finalized =
            signed_post(order->finalize, finalize.dump(), false, failure, "finalize");
        if (!accepted(finalized, "finalize", failure)) return std::nullopt;
    }
    order = poll_order(order_url, {"ready", "processing"}, settings_.issuance_timeout, failure);
    if (!order) return std::nullopt;
    if (order->status != "valid" || order->certificate.empty()) {
        *failure = AcmeFailure{
            "order", order->error.value_or(AcmeProblem{}), "the order is " + order->status, {}};
        return std::nullopt;
    }
    const AcmeHttpResponse download =
        signed_post(order->certificate, "", false, failure, "certificate");
    if (!accepted(download, "certificate", failure)) return std::nullopt;
    if (download.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        *failure = AcmeFailure{"certificate", {}, "the CA sent no PEM certificate chain", {}};
        return std::nullopt;
    }
    return AcmeIssued{download.body};
}

}  // namespace oidcgw
