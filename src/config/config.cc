#include "config/config.h"

#include "common/file_reading.h"

#include "common/ascii.h"
#include "common/certificate_chain.h"
#include "common/duration.h"
#include "common/host_port.h"
#include "common/strict_json.h"
#include "common/text_escape.h"
#include "common/utc_time.h"
#include "ops/privileges.h"

#include <arpa/inet.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <thread>

namespace oidcgw {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kSecond{1000};
constexpr milliseconds kMinute{60 * kSecond};
constexpr milliseconds kHour{60 * kMinute};
constexpr milliseconds kDay{24 * kHour};
constexpr std::size_t kMaxConfigFileBytes = 1024 * 1024;

// Parsing stops at the first problem; throwing keeps the per-key readers free of error plumbing.
// It never leaves this file: parse_config turns it into a ConfigResult.
struct ConfigFailure {
    ConfigError error;
};

[[noreturn]] void fail(std::string key, std::string message) {
    throw ConfigFailure{ConfigError{std::move(key), std::move(message)}};
}

std::string found(const json& value) {
    return std::string("found ") + value.type_name();
}

std::string member_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// A member name as it may appear in a key path: plain names as they are, anything else (empty,
// spaces, dots, control or non-ASCII bytes) quoted and escaped, so an error message stays one
// unambiguous line.
std::string printable_member_name(std::string_view name) {
    const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return plain ? std::string(name) : quote_untrusted(name);
}

std::string element_path(const std::string& parent, std::size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

// One JSON object of the configuration: knows its path and its permitted members, and refuses
// any other member up front so that a typo is reported as such, not as a missing key.
class ObjectReader {
  public:
    ObjectReader(const json& value, std::string path, std::initializer_list<std::string_view> known)
        : value_(value), path_(std::move(path)) {
        if (!value_.is_object()) {
            fail(path_, "must be an object, " + found(value_));
        }
        for (const auto& [name, member] : value_.items()) {
            if (std::find(known.begin(), known.end(), name) == known.end()) {
                std::vector<std::string_view> sorted(known);
                std::sort(sorted.begin(), sorted.end());
                std::string list;
                for (const std::string_view known_name : sorted) {
                    list += (list.empty() ? "" : ", ") + std::string(known_name);
                }
                fail(member_path(path_, printable_member_name(name)),
                     "unknown key (known: " + list + ")");
            }
        }
    }

    std::string key_path(std::string_view key) const { return member_path(path_, key); }

    const json* find(std::string_view key) const {
        const auto member = value_.find(std::string(key));
        return member == value_.end() ? nullptr : &*member;
    }

    const json& require(std::string_view key) const {
        const json* member = find(key);
        if (member == nullptr) fail(key_path(key), "is required");
        return *member;
    }

  private:
    const json& value_;
    std::string path_;
};

// ---- Scalar readers: each takes the value and its full key path -------------------------------

const std::string& read_string(const json& value, const std::string& key) {
    if (!value.is_string()) fail(key, "must be a string, " + found(value));
    return value.get_ref<const std::string&>();
}

std::string read_non_empty_string(const json& value, const std::string& key) {
    const std::string& text = read_string(value, key);
    if (text.empty()) fail(key, "must not be empty (leave the key out instead)");
    return text;
}

// A file or directory path: a NUL byte would silently cut the path short in every C API.
std::string read_path(const json& value, const std::string& key) {
    std::string path = read_non_empty_string(value, key);
    if (path.find('\0') != std::string::npos) fail(key, "must not contain a NUL character");
    return path;
}

milliseconds read_duration(const json& value, const std::string& key, milliseconds minimum,
                           milliseconds maximum) {
    if (!value.is_string()) fail(key, "must be a duration string like \"10s\", " + found(value));
    const std::string& text = value.get_ref<const std::string&>();
    std::string error;
    const std::optional<milliseconds> duration = parse_duration(text, &error);
    if (!duration) fail(key, error);
    if (*duration < minimum) {
        fail(key,
             "must be at least " + format_duration(minimum) + ", found " + quote_untrusted(text));
    }
    if (*duration > maximum) {
        fail(key,
             "must be at most " + format_duration(maximum) + ", found " + quote_untrusted(text));
    }
    return *duration;
}

std::uint64_t read_integer(const json& value, const std::string& key, std::uint64_t minimum,
                           std::uint64_t maximum) {
    const std::string range = std::to_string(minimum) + " to " + std::to_string(maximum);
    if (value.is_number_float()) {
        fail(key, "must be a whole number from " + range + ", found " + value.dump());
    }
    if (!value.is_number_integer()) {
        fail(key, "must be an integer from " + range + ", " + found(value));
    }
    const bool negative = !value.is_number_unsigned() && value.get<std::int64_t>() < 0;
    const std::uint64_t number = negative ? 0 : value.get<std::uint64_t>();
    if (negative || number < minimum || number > maximum) {
        fail(key, "must be from " + range + ", found " + value.dump());
    }
    return number;
}

// `elements` and `element` describe the members, e.g. "upstream URLs" and "upstream URL".
const json& read_non_empty_array(const json& value, const std::string& key,
                                 std::string_view elements, std::string_view element) {
    if (!value.is_array()) {
        fail(key, "must be an array of " + std::string(elements) + ", " + found(value));
    }
    if (value.empty()) fail(key, "must list at least one " + std::string(element));
    return value;
}

// ---- Listen addresses --------------------------------------------------------------------------

// The canonical text of an IP literal (so "[0::0]" and "[::]" compare equal), or "" if `host`
// is not one of the given family.
std::string canonical_ip(const std::string& host, int family) {
    unsigned char address[16];
    char text[INET6_ADDRSTRLEN] = {};
    if (host.find('\0') != std::string::npos) return {};
    if (inet_pton(family, host.c_str(), address) != 1) return {};
    if (inet_ntop(family, address, text, sizeof text) == nullptr) return {};
    return text;
}

// Parses "host:port" or "[ipv6]:port"; the message explains what is wrong with `text`.
std::optional<ListenAddress> parse_listen_address(const std::string& text, std::string* error) {
    HostPortError shape{};
    const std::optional<HostPort> parts = split_host_port(text, &shape);
    if (!parts) {
        *error = shape == HostPortError::UnclosedBracket ? "IPv6 address is missing its closing ']'"
                                                         : "a port is required, e.g. \"[::]:443\"";
        return std::nullopt;
    }
    ListenAddress address;
    address.text = text;
    address.host = std::string(parts->host);
    if (parts->bracketed) {
        if (!is_ipv6_address(parts->host)) {
            *error = quote_untrusted(parts->host) + " is not an IPv6 address";
            return std::nullopt;
        }
        if (!parts->port) {
            *error = "a port is required, e.g. \"[::]:443\"";
            return std::nullopt;
        }
    } else {
        if (!parts->port) {
            *error = "a port is required, e.g. \"0.0.0.0:443\"";
            return std::nullopt;
        }
        if (parts->has_extra_colon()) {
            *error = "IPv6 addresses need brackets, e.g. \"[::]:443\"";
            return std::nullopt;
        }
        if (parts->host.empty()) {
            *error = "a host is required (0.0.0.0 listens on every IPv4 address)";
            return std::nullopt;
        }
        if (!is_dns_name_or_ipv4(parts->host)) {
            *error = quote_untrusted(parts->host) + " is not an IPv4 address or host name";
            return std::nullopt;
        }
    }
    const std::optional<std::uint16_t> port = parse_port(*parts->port);
    if (!port) {
        *error = "port must be a number from 1 to 65535, found " + quote_untrusted(*parts->port);
        return std::nullopt;
    }
    address.port = *port;
    return address;
}

ListenAddress read_listen_address(const json& value, const std::string& key) {
    if (!value.is_string()) {
        fail(key, "must be an address string like \"0.0.0.0:443\", " + found(value));
    }
    std::string error;
    std::optional<ListenAddress> address =
        parse_listen_address(value.get_ref<const std::string&>(), &error);
    if (!address) {
        fail(key, "invalid address " + quote_untrusted(value.get_ref<const std::string&>()) + ": " +
                      error);
    }
    return *address;
}

// The address a listener binds, in one spelling per address.
std::string host_identity(const ListenAddress& address) {
    for (const int family : {AF_INET, AF_INET6}) {
        std::string ip = canonical_ip(address.host, family);
        if (!ip.empty()) return ip;
    }
    return to_lower_ascii(address.host);
}

bool same_address(const ListenAddress& a, const ListenAddress& b) {
    return a.port == b.port && host_identity(a) == host_identity(b);
}

// Whether the health listener would share a socket address with a public one: the same address
// and port, or any address on a port that a public wildcard listener already covers ("::" takes
// IPv4 too; a host name may resolve to anything).
bool overlaps(const ListenAddress& health, const ListenAddress& public_address) {
    if (health.port != public_address.port) return false;
    const std::string public_host = host_identity(public_address);
    if (public_host == "::") return true;
    const std::string health_host = host_identity(health);
    if (public_host == "0.0.0.0") return !is_ipv6_address(health.host);
    return health_host == public_host;
}

std::vector<ListenAddress> read_listen_list(const json& value, const std::string& key) {
    const json& list = read_non_empty_array(value, key, "\"host:port\" addresses", "address");
    std::vector<ListenAddress> addresses;
    for (std::size_t index = 0; index < list.size(); ++index) {
        ListenAddress address = read_listen_address(list[index], element_path(key, index));
        for (std::size_t earlier = 0; earlier < addresses.size(); ++earlier) {
            if (same_address(address, addresses[earlier])) {
                fail(element_path(key, index), "duplicate address " +
                                                   quote_untrusted(address.text) + " (same as " +
                                                   element_path(key, earlier) + ")");
            }
        }
        addresses.push_back(std::move(address));
    }
    return addresses;
}

// ---- tls ---------------------------------------------------------------------------------------

template <typename Enum, std::size_t Count>
Enum read_choice(const json& value, const std::string& key,
                 const std::array<std::string_view, Count>& names,
                 const std::array<Enum, Count>& values) {
    std::string list;
    for (const std::string_view name : names) {
        list += (list.empty() ? "" : ", ") + quote_untrusted(name);
    }
    if (!value.is_string()) fail(key, "must be one of " + list + ", " + found(value));
    const std::string& text = value.get_ref<const std::string&>();
    for (std::size_t index = 0; index < Count; ++index) {
        if (text == names[index]) return values[index];
    }
    fail(key, "must be one of " + list + ", found " + quote_untrusted(text));
}

bool read_boolean(const json& value, const std::string& key);

std::vector<CertificateFiles> read_tls(const json& value, const std::string& key,
                                       TlsMinVersion* min_version, bool* session_resumption) {
    const ObjectReader tls(value, key, {"certificates", "min_version", "session_resumption"});
    if (const json* version = tls.find("min_version")) {
        *min_version =
            read_choice<TlsMinVersion, 2>(*version, tls.key_path("min_version"), {"1.2", "1.3"},
                                          {TlsMinVersion::Tls12, TlsMinVersion::Tls13});
    }
    if (const json* resumption = tls.find("session_resumption")) {
        *session_resumption = read_boolean(*resumption, tls.key_path("session_resumption"));
    }
    const std::string list_key = tls.key_path("certificates");
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

// ---- issuers -----------------------------------------------------------------------------------

UpstreamTls read_upstream_tls(const json& value, const std::string& key) {
    const ObjectReader reader(value, key, {"ca", "certificate", "private_key", "server_name"});
    UpstreamTls tls;
    const auto optional_path = [&reader](std::string_view name) {
        const json* member = reader.find(name);
        return member == nullptr ? std::string() : read_path(*member, reader.key_path(name));
    };
    tls.ca = optional_path("ca");
    tls.certificate = optional_path("certificate");
    tls.private_key = optional_path("private_key");
    if (tls.certificate.empty() != tls.private_key.empty()) {
        const bool has_certificate = !tls.certificate.empty();
        fail(reader.key_path(has_certificate ? "certificate" : "private_key"),
             std::string("needs ") + (has_certificate ? "private_key" : "certificate") +
                 " as well: a client certificate and its key go together");
    }
    if (const json* server_name = reader.find("server_name")) {
        const std::string name =
            read_non_empty_string(*server_name, reader.key_path("server_name"));
        if (looks_numeric(name) || !is_dns_name(name)) {
            fail(reader.key_path("server_name"),
                 "must be a DNS name such as \"server.global.nomad\", found " +
                     quote_untrusted(name));
        }
        tls.server_name = to_lower_ascii(name);
    }
    return tls;
}

std::vector<UpstreamUrl> read_upstreams(const json& value, const std::string& key) {
    const json& list = read_non_empty_array(value, key, "upstream URLs", "upstream URL");
    std::vector<UpstreamUrl> upstreams;
    for (std::size_t index = 0; index < list.size(); ++index) {
        const std::string element_key = element_path(key, index);
        const std::string text = read_non_empty_string(list[index], element_key);
        std::string error;
        std::optional<UpstreamUrl> upstream = parse_upstream_url(text, &error);
        if (!upstream) fail(element_key, error);
        for (std::size_t earlier = 0; earlier < upstreams.size(); ++earlier) {
            if (upstream->url_for("") == upstreams[earlier].url_for("")) {
                fail(element_key, "duplicate upstream " + quote_untrusted(text) + " (same as " +
                                      element_path(key, earlier) + ")");
            }
        }
        upstreams.push_back(std::move(*upstream));
    }
    return upstreams;
}

void add_upstream_warnings(const IssuerConfig& issuer, const std::string& key,
                           std::vector<std::string>* warnings) {
    bool any_https = false;
    for (std::size_t index = 0; index < issuer.upstreams.size(); ++index) {
        if (issuer.upstreams[index].https) {
            any_https = true;
        } else {
            warnings->push_back(element_path(key + ".upstreams", index) +
                                ": plain http upstream: documents are fetched unauthenticated");
        }
    }
    const bool has_ca = issuer.upstream_tls.has_value() && !issuer.upstream_tls->ca.empty();
    if (any_https && !has_ca) {
        warnings->push_back(
            key +
            ".upstream_tls.ca: not set: https upstreams are verified against the system CA "
            "store, which normally does not hold Nomad's own CA; point this at Nomad's CA "
            "file (e.g. nomad-agent-ca.pem)");
    }
    if (!any_https && issuer.upstream_tls.has_value()) {
        warnings->push_back(key + ".upstream_tls: has no effect, every upstream is plain http");
    }
}

IssuerConfig read_issuer(const json& value, const std::string& key) {
    const ObjectReader reader(value, key, {"issuer", "upstream_tls", "upstreams"});
    IssuerConfig issuer;
    const std::string issuer_key = reader.key_path("issuer");
    const std::string text = read_non_empty_string(reader.require("issuer"), issuer_key);
    std::string error;
    std::optional<IssuerUrl> url = parse_issuer_url(text, &error);
    if (!url) fail(issuer_key, error);
    issuer.issuer = std::move(*url);
    issuer.upstreams = read_upstreams(reader.require("upstreams"), reader.key_path("upstreams"));
    if (const json* tls = reader.find("upstream_tls")) {
        issuer.upstream_tls = read_upstream_tls(*tls, reader.key_path("upstream_tls"));
    }
    return issuer;
}

std::vector<IssuerConfig> read_issuers(const json& value, const std::string& key,
                                       std::vector<std::string>* warnings) {
    const json& list = read_non_empty_array(value, key, "issuer objects", "issuer");
    std::vector<IssuerConfig> issuers;
    for (std::size_t index = 0; index < list.size(); ++index) {
        const std::string element_key = element_path(key, index);
        IssuerConfig issuer = read_issuer(list[index], element_key);
        for (std::size_t earlier = 0; earlier < issuers.size(); ++earlier) {
            const IssuerUrl& other = issuers[earlier].issuer;
            const std::string other_key = element_path(key, earlier);
            if (issuer.issuer.text == other.text) {
                fail(element_key + ".issuer", "duplicate issuer (same as " + other_key + ")");
            }
            if (issuer.issuer.host == other.host && issuer.issuer.port == other.port &&
                issuer.issuer.path_prefix == other.path_prefix) {
                fail(element_key + ".issuer", "same host, port and path as " + other_key + " (" +
                                                  quote_untrusted(other.text) +
                                                  "): both would serve the same discovery URL");
            }
        }
        add_upstream_warnings(issuer, element_key, warnings);
        issuers.push_back(std::move(issuer));
    }
    return issuers;
}

// ---- Process: account, shutdown, logs -----------------------------------------------------------

// A user or group name as the account databases know it; a letter set that cannot smuggle a
// path, a separator or a control byte into a message or a lookup.
std::string read_account_name(const json& value, const std::string& key) {
    const std::string name = read_non_empty_string(value, key);
    static const RE2 account_name("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\\$?");
    if (!RE2::FullMatch(name, account_name)) {
        fail(key, "must be an account name (up to 64 letters, digits, '_', '.', '-'), found " +
                      quote_untrusted(name));
    }
    return name;
}

// One of a fixed set of words; `names` and `values` are parallel.

AccessLogConfig read_access_log(const json& value, const std::string& key) {
    const ObjectReader reader(value, key, {"enabled", "max_per_second"});
    AccessLogConfig access_log;
    if (const json* enabled = reader.find("enabled")) {
        if (!enabled->is_boolean()) {
            fail(reader.key_path("enabled"), "must be true or false, " + found(*enabled));
        }
        access_log.enabled = enabled->get<bool>();
    }
    if (const json* limit = reader.find("max_per_second")) {
        access_log.max_per_second = static_cast<unsigned>(
            read_integer(*limit, reader.key_path("max_per_second"), 1, 100000));
    }
    return access_log;
}

bool read_boolean(const json& value, const std::string& key) {
    if (!value.is_boolean()) fail(key, "must be true or false, " + found(value));
    return value.get<bool>();
}

ConnectionLimits read_limits(const json& value, const std::string& key) {
    const ObjectReader reader(
        value, key,
        {"max_connections", "max_connections_per_ip", "new_connections_per_ip_per_second",
         "max_requests_per_connection", "health_max_connections", "health_max_connections_per_ip"});
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

// ---- The whole file ----------------------------------------------------------------------------

Config read_config(const json& root) {
    if (!root.is_object()) fail("", "the configuration must be a JSON object, " + found(root));
    const ObjectReader top(root, "",
                           {"listen",
                            "tls",
                            "health_listen",
                            "cache_dir",
                            "refresh_interval",
                            "upstream_timeout",
                            "max_age",
                            "workers",
                            "max_document_bytes",
                            "issuers",
                            "user",
                            "group",
                            "shutdown_timeout",
                            "log_format",
                            "log_level",
                            "access_log",
                            "watch",
                            "watch_wait",
                            "max_stale",
                            "serve_stale",
                            "limits",
                            "timeouts",
                            "sandbox"});
    Config config;
    config.listen = read_listen_list(top.require("listen"), "listen");
    config.certificates = read_tls(top.require("tls"), "tls", &config.tls_min_version,
                                   &config.tls_session_resumption);
    if (const json* health = top.find("health_listen")) {
        config.health_listen = read_listen_address(*health, "health_listen");
        for (std::size_t index = 0; index < config.listen.size(); ++index) {
            if (overlaps(*config.health_listen, config.listen[index])) {
                fail("health_listen", quote_untrusted(config.health_listen->text) +
                                          " overlaps the public " + element_path("listen", index) +
                                          " " + quote_untrusted(config.listen[index].text) +
                                          ": the health endpoints need an address of their own");
            }
        }
    }
    if (const json* cache_dir = top.find("cache_dir")) {
        config.cache_dir = read_path(*cache_dir, "cache_dir");
    }
    if (const json* value = top.find("refresh_interval")) {
        config.refresh_interval = read_duration(*value, "refresh_interval", kSecond, kDay);
    }
    if (const json* value = top.find("upstream_timeout")) {
        config.upstream_timeout =
            read_duration(*value, "upstream_timeout", milliseconds{100}, 5 * kMinute);
    }
    if (const json* value = top.find("max_age")) {
        config.max_age = read_duration(*value, "max_age", milliseconds{0}, 7 * kDay);
        if (config.max_age.count() % 1000 != 0) {
            fail("max_age", "must be whole seconds (it becomes Cache-Control max-age), found " +
                                quote_untrusted(value->get_ref<const std::string&>()));
        }
    }
    if (const json* value = top.find("workers")) {
        config.workers = static_cast<unsigned>(read_integer(*value, "workers", 0, 256));
    }
    if (const json* value = top.find("max_document_bytes")) {
        config.max_document_bytes =
            static_cast<std::size_t>(read_integer(*value, "max_document_bytes", 1024, 16777216));
    }
    config.issuers = read_issuers(top.require("issuers"), "issuers", &config.warnings);
    if (const json* value = top.find("user")) config.user = read_account_name(*value, "user");
    if (const json* value = top.find("group")) {
        config.group = read_account_name(*value, "group");
        if (config.user.empty()) {
            fail("group", "needs user as well: the group is only switched to together with a user");
        }
    }
    if (const json* value = top.find("shutdown_timeout")) {
        config.shutdown_timeout =
            read_duration(*value, "shutdown_timeout", milliseconds{0}, 5 * kMinute);
    }
    if (const json* value = top.find("log_format")) {
        config.log_format = read_choice<LogFormat, 2>(*value, "log_format", {"json", "logfmt"},
                                                      {LogFormat::Json, LogFormat::Logfmt});
    }
    if (const json* value = top.find("log_level")) {
        config.log_level = read_choice<LogLevel, 4>(
            *value, "log_level", {"debug", "info", "warn", "error"},
            {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error});
    }
    if (const json* value = top.find("access_log")) {
        config.access_log = read_access_log(*value, "access_log");
    }
    if (const json* value = top.find("limits")) config.limits = read_limits(*value, "limits");
    if (const json* value = top.find("timeouts")) {
        config.timeouts = read_timeouts(*value, "timeouts");
    }
    if (const json* value = top.find("sandbox")) {
        config.sandbox =
            read_choice<SandboxMode, 3>(*value, "sandbox", {"enforce", "log", "off"},
                                        {SandboxMode::Enforce, SandboxMode::Log, SandboxMode::Off});
    }
    if (const json* value = top.find("watch")) config.watch = read_boolean(*value, "watch");
    if (const json* value = top.find("watch_wait")) {
        config.watch_wait = read_duration(*value, "watch_wait", kSecond, 10 * kMinute);
    }
    if (const json* value = top.find("max_stale")) {
        config.max_stale = read_duration(*value, "max_stale", kSecond, 30 * kDay);
    }
    if (const json* value = top.find("serve_stale")) {
        config.serve_stale = read_boolean(*value, "serve_stale");
    }
    if (config.max_stale < config.refresh_interval) {
        fail("max_stale", "must be at least refresh_interval (" +
                              format_duration(config.refresh_interval) +
                              "), or every refresh would already be stale");
    }
    if (config.cache_dir.empty()) {
        config.warnings.push_back(
            "no cache_dir: after a restart nothing is served until an upstream answers");
    }
    return config;
}

// ---- File checks -------------------------------------------------------------------------------

// A certificate file and its key: both load, the chain is in order, the key matches the leaf,
// and (for certificates the gateway presents publicly) the leaf has not expired.
std::optional<ConfigError> check_certificate_and_key(const std::string& certificate_path,
                                                     const std::string& certificate_key,
                                                     const std::string& private_key_path,
                                                     const std::string& private_key_key,
                                                     bool check_expiry) {
    std::string error;
    const std::vector<X509Ptr> chain = load_certificate_chain(certificate_path, &error);
    if (chain.empty()) return ConfigError{certificate_key, error};
    const EvpPkeyPtr key = load_private_key(private_key_path, &error);
    if (!key) return ConfigError{private_key_key, error};
    if (!check_chain_order(chain, &error)) return ConfigError{certificate_key, error};
    if (!check_key_matches(chain.front().get(), key.get(), &error)) {
        return ConfigError{private_key_key, error + " in " + quote_untrusted(certificate_path)};
    }
    if (check_expiry) {
        const std::time_t not_after = certificate_not_after(chain.front().get());
        if (not_after <= std::time(nullptr)) {
            return ConfigError{certificate_key,
                               "certificate " +
                                   quote_untrusted(certificate_subject(chain.front().get())) +
                                   " in " + quote_untrusted(certificate_path) + " expired on " +
                                   utc_readable(not_after) + " (notAfter)"};
        }
    }
    return std::nullopt;
}

std::optional<ConfigError> check_cache_dir(const std::string& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) {
        return ConfigError{"cache_dir",
                           "cannot use " + quote_untrusted(path) + ": " + std::strerror(errno)};
    }
    if (!S_ISDIR(status.st_mode)) {
        return ConfigError{"cache_dir", quote_untrusted(path) + " is not a directory"};
    }
    if (::access(path.c_str(), W_OK | X_OK) != 0) {
        return ConfigError{"cache_dir",
                           quote_untrusted(path) + " is not writable: " + std::strerror(errno)};
    }
    return std::nullopt;
}

// The names exist now; whether the process may switch to them is decided at start-up.
std::optional<ConfigError> check_account(const Config& config) {
    if (config.user.empty()) return std::nullopt;
    std::string error;
    const std::optional<UserAccount> account = lookup_user(config.user, &error);
    if (!account) return ConfigError{"user", error};
    if (account->uid == 0) {
        return ConfigError{"user", quote_untrusted(config.user) +
                                       " has uid 0: name the unprivileged account to run as"};
    }
    if (!config.group.empty() && !lookup_group(config.group, &error)) {
        return ConfigError{"group", error};
    }
    return std::nullopt;
}

using FilePtr = std::unique_ptr<std::FILE, CDeleter<std::fclose>>;

bool read_config_text(const std::string& path, std::string* text, std::string* error) {
    std::string problem;
    if (!read_regular_file(path, kMaxConfigFileBytes, text, &problem)) {
        *error = "cannot read " + quote_untrusted(path) + ": " + problem;
        return false;
    }
    return true;
}

}  // namespace

unsigned Config::resolved_workers() const {
    if (workers != 0) return workers;
    return std::max(1u, std::thread::hardware_concurrency());
}

std::string ConfigError::to_string() const {
    return key.empty() ? message : key + ": " + message;
}

ConfigResult parse_config(std::string_view text) {
    ConfigResult result;
    std::string syntax_error;
    const std::optional<json> root =
        parse_strict_json(text, &syntax_error, {.allow_comments = true});
    if (!root) {
        result.error = ConfigError{"", syntax_error};
        return result;
    }
    try {
        result.config = read_config(*root);
    } catch (const ConfigFailure& failure) {
        result.error = failure.error;
    }
    return result;
}

std::optional<ConfigError> check_config_files(const Config& config) {
    for (std::size_t index = 0; index < config.certificates.size(); ++index) {
        const CertificateFiles& files = config.certificates[index];
        const std::string key = element_path("tls.certificates", index);
        if (auto error = check_certificate_and_key(files.certificate, key + ".certificate",
                                                   files.private_key, key + ".private_key",
                                                   /*check_expiry=*/true)) {
            return error;
        }
    }
    for (std::size_t index = 0; index < config.issuers.size(); ++index) {
        const std::optional<UpstreamTls>& tls = config.issuers[index].upstream_tls;
        if (!tls) continue;
        const std::string key = element_path("issuers", index) + ".upstream_tls";
        if (!tls->ca.empty()) {
            std::string error;
            if (load_certificate_chain(tls->ca, &error).empty()) {
                return ConfigError{key + ".ca", error};
            }
        }
        // The client certificate's expiry is left to the upstream to judge: it is often renewed
        // by an agent, and the gateway keeps serving cached documents meanwhile.
        if (!tls->certificate.empty()) {
            if (auto error = check_certificate_and_key(tls->certificate, key + ".certificate",
                                                       tls->private_key, key + ".private_key",
                                                       /*check_expiry=*/false)) {
                return error;
            }
        }
    }
    if (!config.cache_dir.empty()) {
        if (auto error = check_cache_dir(config.cache_dir)) return error;
    }
    return check_account(config);
}

ConfigResult load_config_file(const std::string& path) {
    ConfigResult result;
    std::string text;
    std::string error;
    if (!read_config_text(path, &text, &error)) {
        result.error = ConfigError{"", error};
        return result;
    }
    result = parse_config(text);
    if (!result.config) return result;
    result.config->path = path;
    if (std::optional<ConfigError> file_error = check_config_files(*result.config)) {
        result.config.reset();
        result.error = std::move(*file_error);
    }
    return result;
}

}  // namespace oidcgw
