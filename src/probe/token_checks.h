// The `probe --token` rows: what each identity provider would make of one workload identity
// token against the published keys, with the reason wherever one would reject it.
#pragma once

#include "probe/probe_report.h"

#include <nlohmann/json.hpp>

#include <ctime>
#include <string_view>
#include <vector>

namespace oidcgw {

inline constexpr long kGcpMaxLifetimeSeconds = 24 * 3600;
inline constexpr long kIssuedAtSkewSeconds = 300;  // iat this far ahead is a broken clock
inline constexpr const char* kEntraAudience = "api://AzureADTokenExchange";

struct TokenContext {
    std::string_view issuer;               // the issuer URL probed
    const nlohmann::json* keys = nullptr;  // the JWKS "keys" array; null when unavailable
    std::time_t now = 0;
};

std::vector<Check> check_token(std::string_view token, const TokenContext& context);

}  // namespace oidcgw
