// parse_config: the whole document, key by key; the sections' readers are in config_*.cc and the
// typed-member framework in json_reader.cc.
#include "config/config.h"

#include "common/duration.h"
#include "common/strict_json.h"
#include "common/text_escape.h"
#include "config/config_sections.h"
#include "config/json_reader.h"

#include <algorithm>
#include <thread>

namespace oidcgw {
namespace {

using namespace config_reading;
using std::chrono::milliseconds;

Config read_config(const json& root) {
    if (!root.is_object()) fail("", "the configuration must be a JSON object, " + found(root));
    const ObjectReader top(root, "",
                           {"listen",
                            "proxy_protocol_from",
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
    config.proxy_protocol_from =
        read_proxy_sources(top.find("proxy_protocol_from"), "proxy_protocol_from", config.listen);
    config.certificates = read_tls(top.require("tls"), "tls", &config.tls_min_version,
                                   &config.tls_session_resumption, &config.acme);
    if (const json* health = top.find("health_listen")) {
        config.health_listen = read_listen_address(*health, "health_listen");
        check_health_listen(*config.health_listen, config.listen);
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
    if (config.acme) resolve_acme_names(&*config.acme, config.issuers, config.cache_dir);
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

}  // namespace oidcgw
