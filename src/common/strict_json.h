// JSON parsing that refuses what a lenient parser would quietly accept: duplicate member names
// (two parsers may pick different values) and, unless asked for, comments.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

struct StrictJsonOptions {
    bool allow_comments = false;  // `//` and `/* */` comments, for config files only
    std::size_t max_depth = 32;   // nesting deeper than this is an error
};

// Parses `text` as one JSON value. On failure returns nullopt and sets *error to a short
// human-readable reason (with the byte offset for syntax errors).
std::optional<nlohmann::json> parse_strict_json(std::string_view text, std::string* error,
                                                StrictJsonOptions options = {});

}  // namespace oidcgw
