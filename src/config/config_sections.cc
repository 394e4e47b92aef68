// The smaller sections: tls, user and group, access_log, limits, timeouts.
#include "config/config_sections.h"

#include "common/text_escape.h"

#include <re2/re2.h>

namespace oidcgw::config_reading {

using std::chrono::milliseconds;

std::vector<CertificateFiles> read_tls(const json& value, const std::string& key,
                                       TlsMinVersion* min_version, bool* session_resumption,
                                       std::optional<AcmeConfig>* acme) {
    const ObjectReader tls(value, key,
                           {"certificates", "min_version", "session_resumption", "acme"});
    if (const json* version = tls.find("min_version")) {
        *min_version =
            read_choice<TlsMinVersion, 2>(*version, tls.key_path("min_version"), {"1.2", "1.3"},
                                          {TlsMinVersion::Tls12, TlsMinVersion::Tls13});
    }
    if (const json* resumption = tls.find("session_resumption")) {
        *session_resumption = read_boolean(*resumption, tls.key_path("session_resumption"));
    }
    if (const json* acme_value = tls.find("acme")) {
        *acme = read_acme(*acme_value, tls.key_path("acme"));
    }
    const std::string list_key = tls.key_path("certificates");
    // With ACME the certificates are optional: served for other names, or until the first
    // ACME certificate exists.
    if (*acme && tls.find("certificates") == nullptr) return {};
    const json& list = read_non_empty_array(tls.require("certificates"), list_key,
                                            "{certificate, private_key} objects", "certificate");
    std::vector<CertificateFiles> certificates;
    for (std::size_t index = 0; index < list.size(); ++index) {
        const ObjectReader entry(list[index], element_path(list_key, index),
                                 {"certificate", "private_key"});
        certificates.push_back(CertificateFiles{
            read_path(entry.require("certificate"), entry.key_path("certificate")),
            read_path(entry.require("private_key"), entry.key_path("private_key"))});
    }
    return certificates;
}

// A letter set that cannot smuggle a path, a separator or a control byte into a message or a
// lookup.
std::string read_account_name(const json& value, const std::string& key) {
    const std::string name = read_non_empty_string(value, key);
    static const RE2 account_name("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\\$?");
    if (!RE2::FullMatch(name, account_name)) {
        fail(key, "must be an account name (up to 64 letters, digits, '_', '.', '-'), found " +
                      quote_untrusted(name));
    }
    return name;
}

AccessLogConfig read_access_log(const json& value, const std::string& key) {
    const ObjectReader reader(value, key, {"enabled", "max_per_second"});
    AccessLogConfig access_log;
    if (const json* enabled = reader.find("enabled")) {
        access_log.enabled = read_boolean(*enabled, reader.key_path("enabled"));
    }
    if (const json* limit = reader.find("max_per_second")) {
        access_log.max_per_second = static_cast<unsigned>(
            read_integer(*limit, reader.key_path("max_per_second"), 1, 100000));
    }
    return access_log;
}

ConnectionLimits read_limits(const json& value, const std::string& key) {
    const ObjectReader reader(
        value, key,
        {"max_connections", "max_connections_per_ip", "new_connections_per_ip_per_second",
         "max_requests_per_connection", "health_max_connections", "health_max_connections_per_ip",
         "ipv6_prefix_length"});
    ConnectionLimits limits;
    const auto integer = [&](std::string_view name, long long minimum, long long maximum,
                             unsigned* out) {
        if (const json* member = reader.find(name)) {
            *out = static_cast<unsigned>(
                read_integer(*member, reader.key_path(name), minimum, maximum));
        }
    };
    integer("max_connections", 1, 1'000'000, &limits.max_connections);
    integer("max_connections_per_ip", 1, 1'000'000, &limits.max_connections_per_ip);
    integer("new_connections_per_ip_per_second", 1, 1'000'000,
            &limits.new_connections_per_ip_per_second);
    integer("max_requests_per_connection", 1, 1'000'000, &limits.max_requests_per_connection);
    integer("health_max_connections", 1, 10'000, &limits.health_max_connections);
    integer("health_max_connections_per_ip", 1, 10'000, &limits.health_max_connections_per_ip);
    integer("ipv6_prefix_length", 48, 128, &limits.ipv6_prefix_length);
    return limits;
}

ConnectionTimeouts read_timeouts(const json& value, const std::string& key) {
    const ObjectReader reader(value, key,
                              {"handshake", "request_head", "keep_alive", "write", "worker_stall"});
    ConnectionTimeouts timeouts;
    const auto duration = [&](std::string_view name, milliseconds* out) {
        if (const json* member = reader.find(name)) {
            *out = read_duration(*member, reader.key_path(name), milliseconds{100}, 10 * kMinute);
        }
    };
    duration("handshake", &timeouts.handshake);
    duration("request_head", &timeouts.request_head);
    duration("keep_alive", &timeouts.keep_alive);
    duration("write", &timeouts.write);
    if (const json* member = reader.find("worker_stall")) {
        timeouts.worker_stall =
            read_duration(*member, reader.key_path("worker_stall"), kSecond, 5 * kMinute);
    }
    return timeouts;
}

}  // namespace oidcgw::config_reading
