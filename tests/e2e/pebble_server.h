// A real ACME server for end-to-end tests: Debian's pebble (2.4.0) with pebble-challtestsrv as
// the DNS its validation authority asks, both on loopback and stopped by their pids.
//
// Every name resolves to 127.0.0.1 (no AAAA, so the VA never dials [::1]), and pebble's VA dials
// TLS-ALPN-01 challenges on `validation_port`, where the gateway under test listens. pebble keeps
// nothing across a restart: accounts, orders and its issuing root CA are new on every start.
#pragma once

#include "e2e_support.h"
#include "test_pki.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace oidcgw::testing {

struct PebbleOptions {
    // pebble's tlsPort: where its VA dials TLS-ALPN-01 (the gateway's listen port). 0: a reserved
    // port where nothing listens.
    std::uint16_t validation_port = 0;
    // certificateValidityPeriod of issued certificates; 0 keeps pebble's default (5 years).
    std::chrono::seconds certificate_validity{0};
    int nonce_reject_percent = 5;  // PEBBLE_WFE_NONCEREJECT (pebble's default is 5)
    int authz_reuse_percent = 0;   // PEBBLE_AUTHZREUSE; 0 so every order validates anew
    // false: PEBBLE_VA_NOSLEEP; true: the VA sleeps 0-3 s before each validation connection.
    bool validation_sleeps = false;
    // newAccount then requires a binding made with eab_key_id() and eab_mac_key().
    bool external_account_binding_required = false;
};

enum class DnsRecordType { A, Aaaa };

class PebbleServer {
  public:
    // `work_dir`: a directory the test owns. The ports, pebble's HTTPS certificate and
    // pebble.json are made here, so every URL and file holds before start() and across restarts;
    // both logs go there too.
    PebbleServer(std::string work_dir, PebbleOptions options);
    ~PebbleServer();  // stops both processes by pid
    PebbleServer(const PebbleServer&) = delete;
    PebbleServer& operator=(const PebbleServer&) = delete;

    // Starts pebble-challtestsrv, then pebble, and waits (at most 15 s) until the DNS answers,
    // the directory and the management API answer. Throws std::runtime_error with both logs when
    // either does not come up (and leaves neither running).
    void start();
    // SIGTERM, at most 5 s, then SIGKILL, for pebble then challtestsrv; idempotent.
    void stop();
    bool running();  // both processes

    // "https://localhost:<port>/dir". pebble builds every URL from the Host a request names, so a
    // client keeps using exactly this host.
    std::string directory_url() const;
    // The PEM CA that verifies pebble's own HTTPS (ACME and management API): what the gateway's
    // tls.acme.ca names. It stays the same across restarts.
    std::string https_ca_file() const;
    // Request options that verify pebble's HTTPS against that CA, with a 1 s timeout.
    HttpRequestOptions https_options() const;
    // The root that issues ACME certificates (GET /roots/0 on the management API). It changes on
    // every start. Throws std::runtime_error when pebble does not answer.
    std::string root_pem() const;
    // pebble-challtestsrv's management API (plain HTTP, POST with JSON bodies), e.g. to read
    // /dns-request-history or /set-servfail.
    std::string challenge_server_management_url() const;
    // The addresses the challenge server's DNS gives pebble's VA for `name`; empty when it gives
    // none (or does not answer within 1 s).
    std::vector<std::string> dns_lookup(const std::string& name, DnsRecordType type) const;
    std::string log() const;  // both processes' output, every start so far

    // The key id and MAC key (base64url, unpadded) configured into pebble for External Account
    // Binding; pebble knows them whether or not binding is required.
    std::string eab_key_id() const;
    std::string eab_mac_key() const { return eab_mac_key_; }

  private:
    void write_configuration() const;
    void start_until_ready(ChildProcess& process, const std::string& name,
                           std::chrono::steady_clock::time_point deadline,
                           const std::function<bool()>& ready);
    std::string root_url() const;
    bool serving() const;
    std::string failure_with_logs(const std::string& reason);
    std::string process_log_path(const std::string& name) const;

    std::string work_dir_;
    PebbleOptions options_;
    std::uint16_t acme_port_;
    std::uint16_t management_port_;
    std::uint16_t http_validation_port_;  // pebble's httpPort: nothing listens, http-01 fails
    std::uint16_t dns_port_;
    std::uint16_t dns_management_port_;
    std::string eab_mac_key_;
    TestPki https_pki_;
    IssuedFiles https_certificate_;
    std::unique_ptr<ChildProcess> challenge_server_;
    std::unique_ptr<ChildProcess> pebble_;
    int starts_ = 0;
};

}  // namespace oidcgw::testing
