// The fault matrix's shared set-up: what rows use to break (and mend) the upstream, and how
// they observe the gateway. See fault_matrix_e2e_test.cc.
#pragma once

#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <functional>
#include <optional>
#include <sstream>

namespace oidcgw::testing {

inline constexpr const char* kDiscoveryPath = "/.well-known/openid-configuration";
inline constexpr const char* kJwksPath = "/.well-known/jwks.json";
// Every wait for the gateway to notice a fault or a recovery: a handful of refresh rounds.
inline constexpr auto kBound = 15s;
// A value that only ever exists in a rejected document: a leaked private exponent, a symmetric
// secret. It must never come out of the gateway, on any port or in its log.
inline constexpr const char* kSecret = "ZmF1bHQtbWF0cml4LXNlY3JldC12YWx1ZQ";
inline constexpr const char* kLeakyKid = "leaky-7d1c4f0e-key";
inline constexpr const char* kRotatedKid = "rotated-5b2e9a71-key";

enum class Failure { Fetch, Rejection };
enum class Heal {
    SameBytes,  // the upstream serves the old pair again: nothing may change (same ETags)
    NewKeys,    // the upstream serves a rotated key set: it must be published
};

// Both public documents as served at one moment.
struct Served {
    HttpResponse discovery;
    HttpResponse jwks;
};

class FaultMatrixBase : public GatewayE2E {
  public:
    // ---- What rows use to break (and mend) the upstream ----------------------------------

    FakeNomad& upstream() { return *nomad_; }
    const std::string& issuer() const { return issuer_; }
    std::string good_key() { return nomad_rsa_jwk(signing_key_.get(), kKid); }
    const std::string& good_jwks() const { return jwks_; }

    // Another CA, trusted by nobody in this set-up.
    TestPki& foreign_pki() {
        if (!foreign_pki_) foreign_pki_ = std::make_unique<TestPki>(dir_.path(), "foreign");
        return *foreign_pki_;
    }

    IssuedFiles nomad_certificate(const CertificateRequest& request) {
        return nomad_pki_->issue(request);
    }

    // The upstream's port stops answering at all (connection refused).
    void stop_upstream() {
        nomad_->stop();
        replaced_ = true;
    }

    // Another fake takes over the upstream's port (and so its URL), with this certificate and
    // requiring a client certificate from `client_ca`. Documents are the caller's to set.
    void replace_upstream(const IssuedFiles& certificate, const std::string& client_ca) {
        const std::uint16_t port = nomad_->port();
        nomad_->stop();
        FakeNomadOptions options;
        options.port = port;
        options.certificate_file = certificate.certificate;
        options.private_key_file = certificate.private_key;
        options.client_ca_file = client_ca;
        options.chunked_above = 256;
        nomads_.push_back(std::make_unique<FakeNomad>(options));
        // The old listener is closed; a bind can still race its teardown for a moment.
        std::string failure;
        const bool started = wait_until(
            [&] {
                try {
                    nomads_.back()->start();
                    return true;
                } catch (const std::runtime_error& error) {
                    failure = error.what();
                    return false;
                }
            },
            5s);
        ASSERT_TRUE(started) << failure;
        nomad_ = nomads_.back().get();
        replaced_ = true;
    }

    void serve_documents(const std::string& jwks) {
        nomad_->set_document(kDiscoveryPath, nomad_discovery_document(issuer_));
        nomad_->set_document(kJwksPath, jwks);
    }

    // A second, healthy upstream that is not configured: nothing may ever reach it.
    FakeNomad* bystander() {
        if (bystander_ == nullptr) {
            bystander_ = start_nomad(nomad_server_);
            bystander_->set_document(kDiscoveryPath, nomad_discovery_document(issuer_));
            bystander_->set_document(kJwksPath, jwks_);
        }
        return bystander_;
    }

    // ---- Observing the gateway ------------------------------------------------------------

    nlohmann::json status() {
        const HttpResponse response = health("/status");
        if (response.status != 200) return nlohmann::json::object();
        return nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    }

    nlohmann::json issuer_status() {
        const nlohmann::json all = status();
        if (!all.is_object() || !all.contains("issuers") || all["issuers"].empty()) {
            return nlohmann::json::object();
        }
        return all["issuers"][0];
    }

    nlohmann::json upstream_status(const std::string& upstream) {
        const nlohmann::json issuer = issuer_status();
        if (!issuer.contains("upstreams") || !issuer["upstreams"].contains(upstream)) {
            return nlohmann::json::object();
        }
        return issuer["upstreams"][upstream];
    }

    std::optional<double> metric(const std::string& name,
                                 const std::map<std::string, std::string>& labels) {
        const PrometheusParse parse = parse_prometheus_text(health("/metrics").body);
        if (!parse.ok) {
            ADD_FAILURE() << "/metrics does not parse: " << parse.error;
            return std::nullopt;
        }
        return find_sample(parse, name, labels);
    }

    // True when one line of the log holds every fragment.
    bool log_line_with(const std::vector<std::string>& fragments) {
        std::istringstream lines(gateway_->log());
        std::string line;
        while (std::getline(lines, line)) {
            bool all = true;
            for (const std::string& fragment : fragments) {
                all = all && line.find(fragment) != std::string::npos;
            }
            if (all) return true;
        }
        return false;
    }

    static std::string field(const std::string& name, const std::string& value) {
        return "\"" + name + "\":" + nlohmann::json(value).dump();
    }

    Served served() { return {get(kDiscoveryPath), get(kJwksPath)}; }

    // Waits until `upstream`'s /status entry says `result` (and passes `also`); *entry gets it.
    void wait_upstream_result(
        const std::string& upstream, const std::string& result, nlohmann::json* entry,
        const std::function<bool(const nlohmann::json&)>& also = [](const nlohmann::json&) {
            return true;
        }) {
        const bool seen = wait_until(
            [&] {
                const nlohmann::json found = upstream_status(upstream);
                if (found.value("result", "") != result || !also(found)) return false;
                *entry = found;
                return true;
            },
            kBound);
        ASSERT_TRUE(seen) << "/status never showed " << result << " for " << upstream << ":\n"
                          << health("/status").body << "\n"
                          << gateway_->log();
    }

    // The promise of the whole matrix: still running, still ready, the same bytes and ETags.
    void expect_still_serving(const Served& before) {
        EXPECT_TRUE(gateway_->running());
        EXPECT_EQ(health("/readyz").status, 200);
        const Served now = served();
        EXPECT_EQ(now.discovery.status, 200) << now.discovery.error;
        EXPECT_EQ(now.discovery.body, before.discovery.body);
        EXPECT_EQ(now.discovery.header("etag"), before.discovery.header("etag"));
        EXPECT_EQ(now.jwks.status, 200) << now.jwks.error;
        EXPECT_EQ(now.jwks.body, before.jwks.body);
        EXPECT_EQ(now.jwks.header("etag"), before.jwks.header("etag"));
    }

    // `text` appears in neither public document.
    void expect_not_public(const std::string& text) {
        if (text.empty()) return;
        const Served now = served();
        EXPECT_EQ(now.discovery.body.find(text), std::string::npos) << now.discovery.body;
        EXPECT_EQ(now.jwks.body.find(text), std::string::npos) << now.jwks.body;
    }

    // `text` comes out nowhere: public documents, /status, /metrics, the log.
    void expect_nowhere(const std::string& text) {
        expect_not_public(text);
        EXPECT_EQ(health("/status").body.find(text), std::string::npos);
        EXPECT_EQ(health("/metrics").body.find(text), std::string::npos);
        EXPECT_EQ(gateway_->log().find(text), std::string::npos);
    }

    // Graceful stop after all of it: exit status 0 (a sanitizer report would make it non-zero).
    void expect_clean_exit() { EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log(); }

    std::string healthy_upstream_ca() { return nomad_pki_->ca_file(); }
    const IssuedFiles& healthy_server_certificate() const { return nomad_server_; }

  protected:
    std::unique_ptr<TestPki> foreign_pki_;
    FakeNomad* bystander_ = nullptr;
    bool replaced_ = false;  // the upstream was stopped or swapped; healing means a new fake
};

}  // namespace oidcgw::testing
