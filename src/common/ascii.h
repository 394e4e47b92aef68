// ASCII-only letter case: for protocol text (host names, schemes, media types, header names),
// where the locale must never decide what a letter is.
#pragma once

#include <string>
#include <string_view>

namespace oidcgw {

// '0'-'9' only (never a locale's other digits).
constexpr bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}

// 'A'-'Z' become 'a'-'z'; every other byte, non-ASCII included, stays as it is.
constexpr char to_lower_ascii(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower_ascii(std::string_view text);

// Same length and the same bytes once ASCII letters are lowercased.
bool equals_ignoring_ascii_case(std::string_view a, std::string_view b);

}  // namespace oidcgw
