// Unpadded base64url (RFC 7515 §2, RFC 4648 §5): the one encoding of binary in JOSE objects, JWKs
// and ACME identifiers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// Without '=' padding.
std::string encode_base64url(std::string_view bytes);

// Unpadded only; nullopt for any other character, padding, or an impossible length or trailing
// bits (so each byte string has exactly one accepted encoding).
std::optional<std::string> decode_base64url(std::string_view text);

}  // namespace oidcgw
