// Reading a compact JWS (a workload identity token) and verifying its signature against a key
// from a published JWKS, the way a relying party does: the key decides, the token's header only
// says which key and which algorithm, and an algorithm that does not fit the key is refused.
#pragma once

#include "common/raii.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

struct DecodedJwt {
    nlohmann::json header;      // an object
    nlohmann::json claims;      // an object
    std::string alg;            // header "alg"
    std::string kid;            // header "kid", "" when absent
    std::string signing_input;  // "HEADER.PAYLOAD" exactly as in the token
    std::string signature;      // raw bytes
};

// Splits and decodes a compact JWS whose header and payload are JSON objects (duplicate members
// refused). Surrounding whitespace (a trailing newline in a token file) is ignored.
std::optional<DecodedJwt> decode_jwt(std::string_view token, std::string* error);

// The public key a JWK describes: RSA (n, e), EC (crv P-256/P-384/P-521, x, y) or OKP
// (crv Ed25519/Ed448, x). Private members are never read.
EvpPkeyPtr public_key_from_jwk(const nlohmann::json& jwk, std::string* error);

// True when `alg` is one this verifier knows: RS256/384/512, PS256/384/512, ES256/384/512, EdDSA.
bool is_supported_jws_algorithm(std::string_view alg);

// Verifies the token's signature with `jwk`. Refuses an `alg` that does not fit the key type
// (or the curve, for ES*), one that differs from the JWK's own `alg`, and "none"/HMAC.
bool verify_jwt_signature(const DecodedJwt& token, const nlohmann::json& jwk, std::string* error);

}  // namespace oidcgw
