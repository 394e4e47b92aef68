// What each identity provider makes of a published JWKS, and of a signing algorithm: key counts
// against AWS's and Entra's limits, which keys each provider can use (kty/alg/use/crv), private
// material, kids. Pure functions over the document, so the rules are testable without a network.
#pragma once

#include "probe/probe_report.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

inline constexpr std::size_t kAwsMaxKeysPerType = 100;  // RSA and EC counted separately
inline constexpr std::size_t kEntraKeptKeys = 100;      // Entra ignores keys after the 100th
// Keys judged one by one (kid, kty/alg/use/crv per provider): more than any identity provider
// uses (AWS: 100 RSA and 100 EC; Entra: the first 100). Counts per type cover every key.
inline constexpr std::size_t kMaxKeysExamined = 300;

// The members of one key that decide who can use it (absent members are "").
struct JwkSummary {
    std::size_t index = 0;
    std::string kid;
    std::string kty;
    std::string alg;
    std::string use;
    std::string crv;
};

std::vector<JwkSummary> summarize_keys(const nlohmann::json& keys);

// Why `idp` cannot verify with `key`, or "" when it can.
std::string key_unusable_reason(Idp idp, const JwkSummary& key);

// Why `idp` refuses a token signed with `alg`, or "" when it accepts it. An EdDSA refusal names
// the fix: rotating Nomad's keyring.
std::string algorithm_refusal(Idp idp, std::string_view alg);

// The text to add after an EdDSA finding.
inline constexpr const char* kKeyringRotateHint =
    "run `nomad operator root keyring rotate` so that Nomad signs with an RSA key (RS256)";

struct JwksFindings {
    std::optional<nlohmann::json> keys;  // the "keys" array, when the document has one
};

// The JWKS section (document rows only: parse, counts, algorithms, private members, kids).
std::vector<Check> check_jwks_document(std::string_view body, JwksFindings* findings);

}  // namespace oidcgw
