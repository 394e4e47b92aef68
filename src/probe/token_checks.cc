#include "probe/token_checks.h"

#include "common/duration.h"
#include "common/text_escape.h"
#include "common/utc_time.h"
#include "probe/jwks_checks.h"
#include "probe/jwt_verification.h"
#include "probe/probe_checks.h"

#include <cmath>
#include <optional>
#include <string>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr const char* kSection = "Token";

std::string span(long seconds) {
    return format_duration(std::chrono::seconds(seconds < 0 ? -seconds : seconds));
}

// A NumericDate claim: absent (nullopt, *present false), or a number of seconds.
std::optional<long> numeric_date(const json& claims, const char* name, bool* present,
                                 std::string* problem) {
    const auto member = claims.find(name);
    *present = member != claims.end();
    if (!*present) return std::nullopt;
    if (!member->is_number() || !std::isfinite(member->get<double>())) {
        *problem = std::string("\"") + name + "\" is not a number of seconds";
        return std::nullopt;
    }
    return static_cast<long>(std::floor(member->get<double>()));
}

std::vector<std::string> audiences(const json& claims, bool* well_formed) {
    std::vector<std::string> result;
    *well_formed = true;
    const auto aud = claims.find("aud");
    if (aud == claims.end()) return result;
    if (aud->is_string()) {
        result.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
        for (const json& entry : *aud) {
            if (!entry.is_string()) {
                *well_formed = false;
                return {};
            }
            result.push_back(entry.get<std::string>());
        }
    } else {
        *well_formed = false;
    }
    return result;
}

Check times_check(const json& claims, std::time_t now) {
    Check check = make_check("token.times", kSection, "exp, nbf, iat");
    std::string problem;
    bool has_exp = false;
    bool has_nbf = false;
    bool has_iat = false;
    const std::optional<long> exp = numeric_date(claims, "exp", &has_exp, &problem);
    const std::optional<long> nbf = numeric_date(claims, "nbf", &has_nbf, &problem);
    const std::optional<long> iat = numeric_date(claims, "iat", &has_iat, &problem);
    if (!problem.empty()) return check.all(Mark::Fail, problem);
    if (!has_exp) return check.all(Mark::Fail, "no \"exp\": the identity providers need one");
    const long current = static_cast<long>(now);
    if (*exp <= current) {
        check.detail = "exp " + utc_iso8601(*exp);
        return check.all(
            Mark::Fail, "expired " + span(current - *exp) + " ago (exp " + utc_iso8601(*exp) + ")");
    }
    check.detail = "expires in " + span(*exp - current);
    if (nbf && *nbf > current) {
        check.all(Mark::Fail, "not valid for another " + span(*nbf - current) + " (nbf " +
                                  utc_iso8601(*nbf) + ")");
    }
    if (iat && *iat > current + kIssuedAtSkewSeconds) {
        check.all(Mark::Fail, "issued " + span(*iat - current) +
                                  " in the future (iat): is the signer's clock wrong?");
    }
    return check;
}

Check lifetime_check(const json& claims) {
    Check check = make_check("token.lifetime", kSection, "Lifetime (GCP: at most 24 h)");
    std::string problem;
    bool present = false;
    const std::optional<long> exp = numeric_date(claims, "exp", &present, &problem);
    const std::optional<long> iat = numeric_date(claims, "iat", &present, &problem);
    const std::optional<long> nbf = numeric_date(claims, "nbf", &present, &problem);
    const std::optional<long> start = iat ? iat : nbf;
    if (!exp || !start) {
        check.detail = "unknown";
        return check.raise(Idp::Gcp, Mark::Warn,
                           "no exp and iat (or nbf): GCP cannot check the 24 h limit");
    }
    const long lifetime = *exp - *start;
    check.detail = span(lifetime);
    if (lifetime > kGcpMaxLifetimeSeconds) {
        check.raise(Idp::Gcp, Mark::Fail,
                    "valid for " + span(lifetime) +
                        ": GCP accepts at most 24 h (shorten the identity block's ttl)");
    }
    return check;
}

Check claims_check(const json& claims) {
    Check check = make_check("token.claims", kSection, "aud and sub present");
    bool well_formed = true;
    const std::vector<std::string> aud = audiences(claims, &well_formed);
    const auto sub = claims.find("sub");
    std::string detail;
    if (!aud.empty()) {
        for (const std::string& entry : aud)
            detail += (detail.empty() ? "aud " : ", ") + quote_untrusted(entry);
    }
    if (sub != claims.end() && sub->is_string()) {
        detail += (detail.empty() ? "" : "; ") + std::string("sub ") +
                  quote_untrusted(sub->get<std::string>());
    }
    check.detail = detail;
    if (!well_formed) {
        check.all(Mark::Fail, "\"aud\" must be a string or an array of strings");
    } else if (aud.empty()) {
        check.all(Mark::Fail,
                  "no \"aud\": role trust policies and federated credentials match on it (set "
                  "aud in the job's identity block)");
    }
    if (sub == claims.end() || !sub->is_string() || sub->get_ref<const std::string&>().empty()) {
        check.all(Mark::Fail, "no \"sub\": the identity providers map the workload from it");
    }
    if (well_formed && !aud.empty() &&
        std::find(aud.begin(), aud.end(), kEntraAudience) == aud.end()) {
        check.raise(Idp::Entra, Mark::Warn,
                    std::string("aud lacks ") + kEntraAudience +
                        ", the audience Entra federated credentials use unless set otherwise");
    }
    return check;
}

}  // namespace

std::vector<Check> check_token(std::string_view token, const TokenContext& context) {
    std::vector<Check> checks;
    Check decode = make_check("token.decode", kSection, "Token decodes");
    std::string error;
    const std::optional<DecodedJwt> decoded = decode_jwt(token, &error);
    const std::vector<std::pair<const char*, const char*>> later = {
        {"token.kid", "kid in the published JWKS"},
        {"token.signature", "Signature verifies"},
        {"token.algorithm", "Algorithm accepted"},
        {"token.issuer", "iss identical to the URL"},
        {"token.times", "exp, nbf, iat"},
        {"token.lifetime", "Lifetime (GCP: at most 24 h)"},
        {"token.claims", "aud and sub present"}};
    if (!decoded) {
        checks.push_back(decode.all(Mark::Fail, escape_untrusted(error)));
        for (const auto& [id, title] : later) {
            checks.push_back(skipped_check(id, kSection, title, "the token does not decode"));
        }
        return checks;
    }
    decode.detail = "alg " + quote_untrusted(decoded->alg) +
                    (decoded->kid.empty() ? ", no kid" : ", kid " + quote_untrusted(decoded->kid));
    checks.push_back(decode);

    // The key the token names.
    Check kid = make_check("token.kid", kSection, "kid in the published JWKS");
    const json* key = nullptr;
    std::size_t key_index = 0;
    if (context.keys == nullptr || !context.keys->is_array()) {
        kid.detail = "not run: the JWKS is unavailable";
        kid.all(Mark::Skipped, {});
    } else if (decoded->kid.empty()) {
        kid.all(Mark::Fail, "the token names no key (no \"kid\" in its header)");
    } else {
        for (std::size_t index = 0; index < context.keys->size(); ++index) {
            const json& candidate = (*context.keys)[index];
            const auto candidate_kid = candidate.find("kid");
            if (candidate.is_object() && candidate_kid != candidate.end() &&
                *candidate_kid == decoded->kid) {
                key = &candidate;
                key_index = index;
                break;
            }
        }
        if (key == nullptr) {
            kid.all(Mark::Fail,
                    "kid " + quote_untrusted(decoded->kid) + " is not among the " +
                        std::to_string(context.keys->size()) +
                        " published keys: a token from another cluster or region, or the key "
                        "was removed (\"Couldn't retrieve verification key\")");
        } else {
            kid.detail = "keys[" + std::to_string(key_index) + "]";
            if (key_index >= kEntraKeptKeys) {
                kid.raise(Idp::Entra, Mark::Fail,
                          "the key is keys[" + std::to_string(key_index) +
                              "], after the first 100 that Entra keeps");
            }
        }
    }
    checks.push_back(kid);

    Check signature = make_check("token.signature", kSection, "Signature verifies");
    if (key == nullptr) {
        signature.detail = "not run: no published key for the token";
        signature.all(Mark::Skipped, {});
    } else if (!verify_jwt_signature(*decoded, *key, &error)) {
        signature.all(Mark::Fail, escape_untrusted(error));
    } else {
        signature.detail = decoded->alg + " with the published key";
    }
    checks.push_back(signature);

    Check algorithm = make_check("token.algorithm", kSection, "Algorithm accepted",
                                 quote_untrusted(decoded->alg));
    for (Idp idp : kAllIdps) {
        const std::string refusal = algorithm_refusal(idp, decoded->alg);
        if (!refusal.empty()) {
            algorithm.raise(idp, Mark::Fail,
                            "signed with " + quote_untrusted(decoded->alg) + ": " + refusal);
        }
    }
    checks.push_back(algorithm);

    Check issuer = make_check("token.issuer", kSection, "iss identical to the URL");
    const auto iss = decoded->claims.find("iss");
    if (iss == decoded->claims.end() || !iss->is_string()) {
        issuer.all(Mark::Fail, "the token has no string \"iss\"");
    } else {
        issuer.detail = quote_untrusted(iss->get_ref<const std::string&>());
        if (iss->get_ref<const std::string&>() != context.issuer) {
            issuer.all(Mark::Fail, describe_issuer_mismatch(iss->get_ref<const std::string&>(),
                                                            context.issuer, "the token's iss"));
        }
    }
    checks.push_back(issuer);

    checks.push_back(times_check(decoded->claims, context.now));
    checks.push_back(lifetime_check(decoded->claims));
    checks.push_back(claims_check(decoded->claims));
    return checks;
}

}  // namespace oidcgw
