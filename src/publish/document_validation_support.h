// Helpers shared by the discovery and JWKS validators (document_validation.cc,
// discovery_validation.cc); not an interface of its own.
#pragma once

#include "publish/document_validation.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// Quotes document text (issuer values, kids, member names) for a detail: JSON-escaped to pure
// ASCII so control bytes cannot reach logs, and truncated so a hostile document cannot bloat them.
std::string quote_text(std::string_view text);

// Sets *rejection (when given) and returns nullopt, for `return reject(...)`.
std::nullopt_t reject(Rejection* rejection, std::string code, std::string detail);

bool is_array_of_strings(const nlohmann::json& value);

}  // namespace oidcgw
