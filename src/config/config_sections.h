// The readers of the configuration's sections (private to src/config), one key path each. They
// throw ConfigFailure (json_reader.h) at the first problem.
#pragma once

#include "config/config.h"
#include "config/json_reader.h"

#include <chrono>
#include <string>
#include <vector>

namespace oidcgw::config_reading {

inline constexpr std::chrono::milliseconds kSecond{1000};
inline constexpr std::chrono::milliseconds kMinute{60 * kSecond};
inline constexpr std::chrono::milliseconds kHour{60 * kMinute};
inline constexpr std::chrono::milliseconds kDay{24 * kHour};

// ---- config_listen.cc: listen, health_listen ----------------------------------------------------

// "HOST:PORT" or "[IPV6]:PORT"; nullopt with *error saying what is wrong with `text`.
std::optional<ListenAddress> parse_listen_address(const std::string& text, std::string* error);
ListenAddress read_listen_address(const json& value, const std::string& key);
// A non-empty list of distinct addresses, each a string or {"address", "proxy_protocol"}.
std::vector<ListenAddress> read_listen_list(const json& value, const std::string& key);
// proxy_protocol_from: the load balancers' addresses or prefixes; required (non-empty) exactly
// when a listener has proxy_protocol, so that no default trusts every source.
std::vector<IpPrefix> read_proxy_sources(const json* value, const std::string& key,
                                         const std::vector<ListenAddress>& listen);
// The health listener must not share a socket address with any public one.
void check_health_listen(const ListenAddress& health, const std::vector<ListenAddress>& listen);

// ---- config_issuers.cc: issuers ----------------------------------------------------------------

// The issuers, each with its upstreams; non-fatal findings (plain http, no CA) go to *warnings.
std::vector<IssuerConfig> read_issuers(const json& value, const std::string& key,
                                       std::vector<std::string>* warnings);

// ---- config_sections.cc: tls, account, logs, limits, timeouts ----------------------------------

// tls.certificates (empty only when tls.acme is given), tls.min_version, tls.session_resumption,
// and tls.acme as written (its names are resolved against the issuers by resolve_acme_names).
std::vector<CertificateFiles> read_tls(const json& value, const std::string& key,
                                       TlsMinVersion* min_version, bool* session_resumption,
                                       std::optional<AcmeConfig>* acme);

// ---- config_acme.cc: tls.acme ------------------------------------------------------------------

AcmeConfig read_acme(const json& value, const std::string& key);
// Without tls.acme.names, every issuer's host (which must then be a DNS name); also checks that
// cache_dir is set.
void resolve_acme_names(AcmeConfig* acme, const std::vector<IssuerConfig>& issuers,
                        const std::string& cache_dir);
// A user or group name as the account databases know it.
std::string read_account_name(const json& value, const std::string& key);
AccessLogConfig read_access_log(const json& value, const std::string& key);
ConnectionLimits read_limits(const json& value, const std::string& key);
ConnectionTimeouts read_timeouts(const json& value, const std::string& key);

}  // namespace oidcgw::config_reading
