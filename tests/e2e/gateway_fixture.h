// The end-to-end set-up shared by the e2e suites: two PKIs (Nomad's private one, a "public"
// one), a fake Nomad agent that requires a client certificate, and the real gateway binary
// configured to fetch from it.
#pragma once

#include "e2e_support.h"
#include "fake_nomad.h"
#include "jwt_tools.h"
#include "test_pki.h"
#include "tls_test_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

namespace oidcgw::testing {

using namespace std::chrono_literals;

inline constexpr const char* kPublicHost = "oidc.test";
inline constexpr const char* kKid = "3c0f5e2a-7b41-9d86-1e5a-c2f48b7d0a13";

inline std::string jwks_with(const std::vector<std::string>& keys) {
    std::string out = "{\"keys\":[";
    for (std::size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + keys[i];
    return out + "]}";
}

// A complete set-up: two PKIs (Nomad's private one, a "public" one), a fake Nomad agent that
// requires a client certificate, and a gateway configuration pointing at it.
class GatewayE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        nomad_pki_ = std::make_unique<TestPki>(dir_.path(), "nomad");
        public_pki_ = std::make_unique<TestPki>(dir_.path(), "public");
        nomad_server_ = nomad_pki_->issue({.common_name = "server.global.nomad",
                                           .dns_names = {"server.global.nomad", "localhost"},
                                           .ip_addresses = {"127.0.0.1"}});
        gateway_client_ = nomad_pki_->issue({.common_name = "oidc-gateway-client",
                                             .dns_names = {},
                                             .ip_addresses = {},
                                             .client = true});
        public_certificate_ = public_pki_->issue({.common_name = kPublicHost,
                                                  .dns_names = {kPublicHost},
                                                  .ip_addresses = {},
                                                  .include_intermediate = true});
        public_port_ = free_loopback_port();
        health_port_ = free_loopback_port();
        issuer_ = std::string("https://") + kPublicHost + ":" + std::to_string(public_port_);
        signing_key_ = generate_rsa_key();
        jwks_ = jwks_with({nomad_rsa_jwk(signing_key_.get(), kKid)});
        nomad_ = start_nomad(nomad_server_);
        nomad_->set_document("/.well-known/openid-configuration",
                             nomad_discovery_document(issuer_));
        nomad_->set_document("/.well-known/jwks.json", jwks_);
    }

    void TearDown() override {
        gateway_.reset();
        for (auto& nomad : nomads_) nomad->stop();
    }

    FakeNomad* start_nomad(const IssuedFiles& certificate) {
        FakeNomadOptions options;
        options.certificate_file = certificate.certificate;
        options.private_key_file = certificate.private_key;
        options.client_ca_file = nomad_pki_->ca_file();
        options.chunked_above = 256;  // the JWKS goes out chunked, as Go's server does
        nomads_.push_back(std::make_unique<FakeNomad>(options));
        nomads_.back()->start();
        return nomads_.back().get();
    }

    nlohmann::json base_config(const std::vector<std::string>& upstreams,
                               const std::string& refresh_interval = "1s") {
        return {{"listen", {"127.0.0.1:" + std::to_string(public_port_)}},
                {"tls",
                 {{"certificates",
                   {{{"certificate", public_certificate_.certificate},
                     {"private_key", public_certificate_.private_key}}}}}},
                {"health_listen", "127.0.0.1:" + std::to_string(health_port_)},
                {"cache_dir", cache_dir()},
                {"refresh_interval", refresh_interval},
                {"upstream_timeout", "2s"},
                {"max_age", "300s"},
                {"workers", workers_},
                {"issuers", {issuer_entry(issuer_, upstreams)}}};
    }

    nlohmann::json issuer_entry(const std::string& issuer,
                                const std::vector<std::string>& upstreams) {
        return {{"issuer", issuer},
                {"upstreams", upstreams},
                {"upstream_tls",
                 {{"ca", nomad_pki_->ca_file()},
                  {"certificate", gateway_client_.certificate},
                  {"private_key", gateway_client_.private_key},
                  {"server_name", "server.global.nomad"}}}};
    }

    std::string write_config_json(const nlohmann::json& config) {
        const std::string path = dir_.file("gateway.json");
        write_file(path, config.dump(2));
        return path;
    }

    std::string write_config(const std::vector<std::string>& upstreams,
                             const std::string& refresh_interval = "1s") {
        return write_config_json(base_config(upstreams, refresh_interval));
    }

    std::string cache_dir() {
        const std::string path = dir_.file("cache");
        ::mkdir(path.c_str(), 0700);
        return path;
    }

    void start_gateway(const std::vector<std::string>& upstreams) {
        start_gateway_with(base_config(upstreams));
    }

    void start_gateway_with(const nlohmann::json& config) {
        const std::string path = write_config_json(config);
        gateway_ = std::make_unique<GatewayProcess>(
            std::vector<std::string>{"serve", "--config", path}, dir_.file("gateway.log"));
        gateway_->start();
    }

    // Counts occurrences of `text` in the gateway's log.
    std::size_t log_count(const std::string& text) {
        const std::string log = gateway_->log();
        std::size_t count = 0;
        for (std::size_t at = log.find(text); at != std::string::npos;
             at = log.find(text, at + 1)) {
            ++count;
        }
        return count;
    }

    HttpResponse health(const std::string& path) {
        return http_request("http://127.0.0.1:" + std::to_string(health_port_) + path);
    }

    bool wait_ready(std::chrono::milliseconds timeout = 15s) {
        return wait_until([&] { return health("/readyz").status == 200; }, timeout);
    }

    std::string public_url(const std::string& path) { return issuer_ + path; }

    HttpResponse get(const std::string& path, HttpRequestOptions options = {}) {
        options.ca_file = public_pki_->ca_file();
        options.resolve =
            std::string(kPublicHost) + ":" + std::to_string(public_port_) + ":127.0.0.1";
        return http_request(public_url(path), options);
    }

    RawExchange raw(const std::string& bytes) {
        RawTlsOptions options;
        options.port = public_port_;
        options.sni = kPublicHost;
        options.ca_file = public_pki_->ca_file();
        return raw_tls_exchange(options, bytes);
    }

    std::string host_header() {
        return std::string(kPublicHost) + ":" + std::to_string(public_port_);
    }

    TempDir dir_;
    std::unique_ptr<TestPki> nomad_pki_;
    std::unique_ptr<TestPki> public_pki_;
    IssuedFiles nomad_server_;
    IssuedFiles gateway_client_;
    IssuedFiles public_certificate_;
    std::uint16_t public_port_ = 0;
    std::uint16_t health_port_ = 0;
    int workers_ = 2;
    std::string issuer_;
    EvpPkeyPtr signing_key_;
    std::string jwks_;
    std::vector<std::unique_ptr<FakeNomad>> nomads_;
    FakeNomad* nomad_ = nullptr;
    std::unique_ptr<GatewayProcess> gateway_;
};

}  // namespace oidcgw::testing
