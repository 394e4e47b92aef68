// RS256 JSON Web Tokens and JWKs for tests: what Nomad does when it signs a workload identity, and
// what a relying party (AWS STS, say) does when it verifies one.
#pragma once

#include "common/raii.h"

#include <optional>
#include <string>

namespace oidcgw::testing {

EvpPkeyPtr generate_rsa_key(int bits = 2048);

// One JWK in Nomad's member order: {"use":"sig","kty":"RSA","kid":…,"alg":"RS256","n":…,"e":…}
std::string nomad_rsa_jwk(EVP_PKEY* key, const std::string& kid);

// A compact JWS: header {"alg":"RS256","kid":…,"typ":"JWT"}, the given claims JSON as payload.
std::string sign_rs256_jwt(EVP_PKEY* key, const std::string& kid, const std::string& claims_json);

// Verifies a compact RS256 JWS against a public key rebuilt from base64url `n` and `e` (as a
// relying party would from a JWKS). Returns the payload JSON when the signature holds.
std::optional<std::string> verify_rs256_jwt(const std::string& token, const std::string& n_b64url,
                                            const std::string& e_b64url);

}  // namespace oidcgw::testing
