// JWTs and JWKs for every algorithm a relying party may meet (RS*, PS*, ES*, EdDSA), made with
// OpenSSL in memory: Nomad's pre-1.7 Ed25519 keys, EC keys, and tokens signed by any of them.
// Complements jwt_tools.h (RS256 only).
#pragma once

#include "common/raii.h"

#include <string>

namespace oidcgw::testing {

EvpPkeyPtr generate_ed25519_key();
EvpPkeyPtr generate_ec_key(const std::string& curve);  // "P-256", "P-384", "P-521"

// {"use":"sig","kty":"OKP","kid":…,"crv":"Ed25519","alg":"EdDSA","x":…}, Nomad's member order.
std::string nomad_ed25519_jwk(EVP_PKEY* key, const std::string& kid);

// {"use":"sig","kty":"EC","kid":…,"crv":…,"alg":…,"x":…,"y":…}
std::string ec_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg);

// {"use":"sig","kty":"RSA","kid":…,"alg":…,"n":…,"e":…} with any RSA alg (RS*/PS*).
std::string rsa_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg);

// A compact JWS with header {"alg":…,"kid":…,"typ":"JWT"} over `claims_json`. `alg` is one of
// RS256/384/512, PS256/384/512, ES256/384/512 (raw R || S signature) or EdDSA.
std::string sign_jwt(EVP_PKEY* key, const std::string& alg, const std::string& kid,
                     const std::string& claims_json);

// Workload identity claims as Nomad writes them, with times relative to now.
std::string identity_claims(const std::string& issuer, const std::string& audience,
                            long issued_offset_seconds, long lifetime_seconds);

}  // namespace oidcgw::testing
