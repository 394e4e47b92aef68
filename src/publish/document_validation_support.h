// Helpers shared by the discovery and JWKS validators (document_validation.cc,
// discovery_validation.cc); not an interface of its own.
#pragma once

#include "common/text_escape.h"  // quote_untrusted: document text in a detail
#include "publish/document_validation.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// Sets *rejection (when given) and returns nullopt, for `return reject(...)`.
std::nullopt_t reject(Rejection* rejection, std::string code, std::string detail);

bool is_array_of_strings(const nlohmann::json& value);

}  // namespace oidcgw
