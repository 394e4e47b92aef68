// The gateway's configuration: parsed once, validated completely, then immutable. Every error
// names the offending key path, e.g. `issuers[0].upstream_tls.ca`.
#pragma once

#include "common/certificate_chain.h"
#include "common/ip_address.h"
#include "common/logger.h"
#include "config/issuer_url.h"
#include "edge/connection_deadlines.h"
#include "ops/sandbox.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

// "0.0.0.0:443", "[::]:443", "127.0.0.1:8080", "localhost:8443". Port 0 is refused.
struct ListenAddress {
    std::string text;  // as configured
    std::string host;  // without brackets
    std::uint16_t port = 0;
    // A public listener behind a layer-4 load balancer: every connection starts with a PROXY
    // protocol header (v1 or v2) naming the client, from a source in proxy_protocol_from.
    bool proxy_protocol = false;
};

struct CertificateFiles {
    std::string certificate;  // PEM: leaf first, then intermediates
    std::string private_key;  // PEM
};

// The upstream TLS settings as configured: the paths of the files, as the operator wrote them.
// Their bytes are read at start and at each reload into a LoadedUpstreamTls
// (upstream/upstream_client.h), which is what the upstream client uses.
struct UpstreamTls {
    std::string ca;  // PEM bundle that verifies the upstream (Nomad's CA); empty: system store
    std::string certificate;  // client certificate for mutual TLS; empty: none
    std::string private_key;  // its key; set exactly when certificate is
    std::string server_name;  // name to verify and send as SNI; empty: the URL's host
};

struct IssuerConfig {
    IssuerUrl issuer;
    std::vector<UpstreamUrl> upstreams;
    std::optional<UpstreamTls> upstream_tls;
};

// Per-request lines (event "access", level info), rate-limited; see access_log.h.
struct AccessLogConfig {
    bool enabled = false;
    unsigned max_per_second = 100;
};

enum class TlsMinVersion { Tls12, Tls13 };

// The key of a certificate ordered with ACME (the account key is always ECDSA P-256).
enum class AcmeKeyType { EcdsaP256, Rsa2048 };

// tls.acme.external_account_binding: for CAs that bind ACME accounts to an existing customer
// account (RFC 8555 section 7.3.4).
struct ExternalAccountBinding {
    std::string key_id;
    std::string hmac_key_file;  // holds the CA's base64url MAC key

    bool operator==(const ExternalAccountBinding&) const = default;
};

// tls.acme: a certificate for `names` from an ACME CA, proved with TLS-ALPN-01 on the public
// listeners; the account, the certificate and their keys live in cache_dir/acme.
struct AcmeConfig {
    std::string directory_url;
    std::vector<std::string> contact;  // "mailto:..."
    // Lowercased DNS names, configuration order, no duplicates: tls.acme.names, else the host of
    // every issuer.
    std::vector<std::string> names;
    AcmeKeyType key_type = AcmeKeyType::EcdsaP256;
    std::string ca;  // PEM file verifying the ACME server; "" uses the system store
    // Renew this long before notAfter; nullopt: when a third of the lifetime is left.
    std::optional<std::chrono::seconds> renew_before;
    std::optional<ExternalAccountBinding> external_account_binding;
    // What load_config_file read from `ca` (its certificates, PEM) and from the EAB key file
    // (the decoded MAC key), once per start or reload: the ACME client uses these bytes, never
    // the files again (the thread runs after the privilege drop), and a reload that changes
    // them changes the configuration. Empty when not set, or not from load_config_file.
    std::string ca_pem;
    std::string eab_mac_key;

    bool operator==(const AcmeConfig&) const = default;
};

// Public-side connection limits, checked at accept before any TLS work.
struct ConnectionLimits {
    unsigned max_connections = 10'000;                // open at once, all workers together
    unsigned max_connections_per_ip = 100;            // open at once from one client address
    unsigned new_connections_per_ip_per_second = 50;  // accepted per second from one address
    unsigned max_requests_per_connection = 1'000;     // then the connection closes
    // The health listener's own caps: a neighbour on the private side must not be able to hold
    // the descriptors the public side needs.
    unsigned health_max_connections = 64;
    unsigned health_max_connections_per_ip = 16;
    // IPv6 clients are counted per prefix of this length: one host owns a whole /64.
    unsigned ipv6_prefix_length = 64;

    bool operator==(const ConnectionLimits&) const = default;
};

// Total deadlines per connection (not idle timers): the edge's type, of which the file sets all
// but `linger`; and the loop stall threshold.
struct ConnectionTimeouts : ConnectionDeadlines {
    // A loop that has not finished a pass for this long is stuck: /healthz 503, no watchdog.
    std::chrono::milliseconds worker_stall{5'000};

    bool operator==(const ConnectionTimeouts&) const = default;
};

struct Config {
    std::string path;  // the file it came from, "" when parsed from text
    std::vector<ListenAddress> listen;
    // The load balancers allowed to send a PROXY header; required when a listener has
    // proxy_protocol (nothing trusts every source by default).
    std::vector<IpPrefix> proxy_protocol_from;
    std::vector<CertificateFiles> certificates;  // may be empty when acme is set
    std::optional<AcmeConfig> acme;
    std::optional<ListenAddress> health_listen;
    std::string cache_dir;  // "" disables the disk cache
    std::chrono::milliseconds refresh_interval{60'000};
    std::chrono::milliseconds upstream_timeout{10'000};
    std::chrono::milliseconds max_age{300'000};
    unsigned workers = 0;  // as configured; 0 means one per CPU core (see resolved_workers())
    std::size_t max_document_bytes = 1024 * 1024;
    std::vector<IssuerConfig> issuers;
    // Account to switch to once listeners are bound and files read, when started as root; ""
    // keeps the current one. `group` is only set together with `user` ("" = its primary group).
    std::string user;
    std::string group;
    std::chrono::milliseconds shutdown_timeout{10'000};  // SIGTERM/SIGINT grace for requests
    LogFormat log_format = LogFormat::Json;
    LogLevel log_level = LogLevel::Info;
    AccessLogConfig access_log;
    bool watch = true;  // long-poll the JWKS with Nomad's blocking queries
    std::chrono::milliseconds watch_wait{300'000};       // the wait= of one blocking query
    std::chrono::milliseconds max_stale{24 * 3600'000};  // older than this: /readyz 503
    bool serve_stale = true;  // false: the documents too answer 503 past max_stale
    TlsMinVersion tls_min_version = TlsMinVersion::Tls12;
    bool tls_session_resumption = true;  // session tickets and the TLS 1.2 session cache
    ConnectionLimits limits;
    ConnectionTimeouts timeouts;
    SandboxMode sandbox = SandboxMode::Enforce;  // seccomp allow-list once started
    std::vector<std::string> warnings;           // non-fatal findings, e.g. a plain-http upstream
    // tls.certificates as load_config_file read and checked them, in the same order: the TLS
    // context and /status take these, so each file is read once per start or reload and what is
    // served is what was checked. Empty when the Config did not come from load_config_file.
    std::vector<std::shared_ptr<const CertificateMaterial>> public_certificates;

    unsigned resolved_workers() const;
};

struct ConfigError {
    std::string key;      // "issuers[0].upstreams[1]"; "" for whole-file problems (syntax)
    std::string message;  // what is wrong, without the key
    std::string to_string() const;  // "issuers[0].upstreams[1]: must be ..." or just message
};

struct ConfigResult {
    std::optional<Config> config;
    ConfigError error;  // meaningful when !config
};

// Parses and validates config text: JSON with comments, unknown keys refused, types, ranges,
// durations, URLs, duplicates. Does not touch the file system.
ConfigResult parse_config(std::string_view text);

// Checks what parse_config cannot: every named file is readable, each certificate chain is in
// order and matches its key, the leaf has not expired, cache_dir is a writable directory, and
// `user` / `group` name existing accounts (user not uid 0).
// What it read and checked is kept in *checked when that is given, so that each file is read
// once per start or reload and what is used is what was checked.
struct CheckedFiles {
    std::vector<std::shared_ptr<const CertificateMaterial>> public_certificates;
    std::string acme_ca_pem;
    std::string acme_eab_mac_key;
};
std::optional<ConfigError> check_config_files(const Config& config,
                                              CheckedFiles* checked = nullptr);

// The MAC key in tls.acme.external_account_binding.hmac_key_file: base64url as the CA gives it
// (padding and surrounding white space accepted), decoded; nullopt with *error (naming the file,
// never holding key bytes) when it cannot be read or decoded.
std::optional<std::string> read_external_account_mac_key(const std::string& path,
                                                         std::string* error);

// Reads a configuration file's text (a regular file, at most 1 MiB) without parsing it; the error
// names the file.
bool read_config_text(const std::string& path, std::string* text, std::string* error);

// Reads the file, parse_config, then check_config_files, keeping the public certificates it
// loaded in Config::public_certificates.
ConfigResult load_config_file(const std::string& path);

}  // namespace oidcgw
