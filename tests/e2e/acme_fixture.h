// The ACME end-to-end set-up shared by acme_e2e_test.cc and acme_operations_e2e_test.cc: the
// gateway fixture plus Debian's pebble as the CA, validating on the gateway's public port.
#pragma once

#include "gateway_fixture.h"
#include "pebble_server.h"

#include <cstdlib>

namespace oidcgw::testing {

inline const std::string kAcmeAlpn = std::string("\x0a") + "acme-tls/1";

class AcmeE2E : public GatewayE2E {
  protected:
    void SetUp() override {
        GatewayE2E::SetUp();
        ::setenv("OIDCGW_TEST_ACME_FIRST_RETRY_MS", "500", 1);
        std::filesystem::create_directories(dir_.file("pebble"));
    }

    void start_pebble(PebbleOptions options = {}) {
        options.validation_port = public_port_;
        pebble_ = std::make_unique<PebbleServer>(dir_.file("pebble"), options);
        pebble_->start();
        root_file_ = dir_.file("pebble-root.pem");
        write_file(root_file_, pebble_->root_pem());
    }

    // The test configuration with `acme` as tls.acme (and no tls.certificates); the directory and
    // its CA default to pebble's.
    nlohmann::json acme_config(nlohmann::json acme = nlohmann::json::object()) {
        nlohmann::json config = base_config({nomad_->base_url()});
        if (!acme.contains("directory_url")) acme["directory_url"] = pebble_->directory_url();
        if (!acme.contains("ca")) acme["ca"] = pebble_->https_ca_file();
        acme["terms_of_service_agreed"] = true;
        acme["contact"] = {"mailto:ops@oidc.test"};
        config["tls"] = {{"acme", acme}};
        return config;
    }

    // A request to the gateway verified against pebble's issuing root (not the test PKI's).
    HttpResponse acme_get(const std::string& path) {
        HttpRequestOptions options;
        options.ca_file = root_file_;
        options.resolve =
            std::string(kPublicHost) + ":" + std::to_string(public_port_) + ":127.0.0.1";
        return http_request(public_url(path), options);
    }

    RawExchange handshake(const std::string& alpn, const std::string& bytes = "") {
        RawTlsOptions options;
        options.port = public_port_;
        options.sni = kPublicHost;
        options.alpn = alpn;
        options.deadline = 3s;
        return raw_tls_exchange(options, bytes);
    }

    nlohmann::json acme_status() {
        const HttpResponse status = health("/status");
        if (status.status != 200) return nlohmann::json::object();
        const auto document = nlohmann::json::parse(status.body, nullptr, false);
        if (!document.is_object() || !document.contains("acme")) return nlohmann::json::object();
        return document["acme"]["certificates"][0];
    }

    std::string kept_certificate() { return read_file(cache_dir() + "/acme/certificate.pem"); }

    bool wait_acme_ready(std::chrono::milliseconds timeout = 60s) { return wait_ready(timeout); }

    std::unique_ptr<PebbleServer> pebble_;
    std::string root_file_;
};

}  // namespace oidcgw::testing
