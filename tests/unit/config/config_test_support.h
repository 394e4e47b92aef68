// Shared by the configuration's unit tests: a minimal document that parses, and shorthands that
// change one thing in it and return the configuration or the error as "key: message".
#pragma once

#include "config/config.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace oidcgw::testing {

using nlohmann::json;

// The smallest configuration that parses; tests change one thing at a time.
inline json minimal() {
    return json::parse(R"({
        "listen": ["0.0.0.0:443"],
        "tls": {"certificates": [{"certificate": "/c.pem", "private_key": "/k.pem"}]},
        "issuers": [{"issuer": "https://oidc.example.com",
                     "upstreams": ["https://10.0.0.1:4646"]}]
    })");
}

inline Config parse_ok(const std::string& text) {
    ConfigResult result = parse_config(text);
    EXPECT_TRUE(result.config.has_value()) << result.error.to_string();
    return result.config.value_or(Config{});
}

inline Config parse_ok(const json& document) {
    return parse_ok(document.dump());
}

inline ConfigError parse_error(const std::string& text) {
    ConfigResult result = parse_config(text);
    EXPECT_FALSE(result.config.has_value()) << text;
    EXPECT_FALSE(result.error.message.empty());
    return result.error;
}

inline ConfigError parse_error(const json& document) {
    return parse_error(document.dump());
}

// Applies `change` to a minimal configuration and returns the error as "key: message".
template <typename Change>
std::string error_after(Change change) {
    json document = minimal();
    change(document);
    return parse_error(document).to_string();
}

template <typename Change>
Config config_after(Change change) {
    json document = minimal();
    change(document);
    return parse_ok(document);
}

inline bool has_warning(const Config& config, const std::string& fragment) {
    return std::any_of(config.warnings.begin(), config.warnings.end(),
                       [&](const std::string& warning) { return contains(warning, fragment); });
}

// "host port" of each listen address, in order.
inline std::vector<std::string> listen_hosts_and_ports(const Config& config) {
    std::vector<std::string> addresses;
    for (const ListenAddress& address : config.listen) {
        addresses.push_back(address.host + " " + std::to_string(address.port));
    }
    return addresses;
}

}  // namespace oidcgw::testing
