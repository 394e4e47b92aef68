// What an upstream document may cost before the gateway parses it into a tree: its first bytes
// (no byte order mark) and its size in values, nesting and keys, counted in one pass over the
// bytes that builds nothing. A hostile document of max_document_bytes is then refused after
// reading a few kilobytes of it, instead of costing tens of megabytes of DOM.
#pragma once

#include "publish/document_validation.h"

#include <cstddef>
#include <optional>
#include <string_view>

namespace oidcgw {

struct DocumentLimits {
    std::size_t max_depth = 8;        // nested objects and arrays, the outermost being 1
    std::size_t max_values = 10'000;  // every value once: object, array, string, number, literal
    std::size_t max_keys = 0;         // elements of the top-level "keys" array; 0: not checked
};

// A Nomad discovery document holds 8 values at depth 2; other issuers' a hundred or so.
inline constexpr DocumentLimits kDiscoveryLimits{8, 10'000, 0};
// At most 1000 keys (kMaxJwksKeys), each an object of a dozen or so members, an x5c chain and
// key_ops included: 50 values a key is several times what any real key needs.
inline constexpr std::size_t kMaxJwksKeys = 1000;
inline constexpr DocumentLimits kJwksLimits{8, 50 * kMaxJwksKeys, kMaxJwksKeys};

// Refuses a document that starts with a UTF-8 byte order mark (code "byte_order_mark"). RFC
// 8259 forbids sending one; nlohmann's parser skips it, but JavaScript's JSON.parse, Python's
// json.loads and Go's encoding/json refuse the document, so it must not be published. Any other
// byte before the first '{' except JSON whitespace (space, tab, LF, CR) is a syntax error the
// strict parser reports. `document` names it in the detail ("JWKS", "discovery document").
std::optional<Rejection> check_document_start(std::string_view body, std::string_view document);

// Refuses a document beyond `limits` (codes "too_deep", "too_many_values", "too_many_keys"),
// stopping at the first value past a limit. Syntax errors are not reported here: the strict
// parser that runs next names them with their offset.
std::optional<Rejection> check_document_limits(std::string_view body, const DocumentLimits& limits,
                                               std::string_view document);

}  // namespace oidcgw
