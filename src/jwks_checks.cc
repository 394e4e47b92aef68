#include "jwks_checks.h"

#include "document_validation.h"
#include "strict_json.h"
#include "text_escape.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr const char* kSection = "JWKS";
constexpr std::size_t kMaxKidsNamed = 3;  // kids listed per reason before "and N more"

std::string member_string(const json& object, const char* name) {
    const auto member = object.find(name);
    return member != object.end() && member->is_string() ? member->get<std::string>()
                                                         : std::string();
}

// The algorithm a key without "alg" will verify in practice.
std::string effective_algorithm(const JwkSummary& key) {
    if (!key.alg.empty()) return key.alg;
    if (key.kty == "RSA") return "RS256";
    if (key.kty == "OKP") return "EdDSA";
    if (key.kty == "EC") {
        if (key.crv == "P-384") return "ES384";
        if (key.crv == "P-521") return "ES512";
        return "ES256";
    }
    return "";
}

bool algorithm_fits_key(const JwkSummary& key, const std::string& alg) {
    if (key.kty == "RSA") return alg.starts_with("RS") || alg.starts_with("PS");
    if (key.kty == "OKP") return alg == "EdDSA";
    if (key.kty == "EC") {
        return (alg == "ES256" && key.crv == "P-256") || (alg == "ES384" && key.crv == "P-384") ||
               (alg == "ES512" && key.crv == "P-521");
    }
    return false;
}

// Member values short and plain enough to show as they are ("RSA", "P-256", "RS256") stay bare;
// anything else is quoted and escaped.
std::string shown(const std::string& text) {
    static const RE2 plain("[A-Za-z0-9_.+-]{1,32}");
    return RE2::FullMatch(text, plain) ? text : quote_untrusted(text);
}

std::string key_label(const JwkSummary& key) {
    return key.kid.empty() ? "keys[" + std::to_string(key.index) + "]" : quote_untrusted(key.kid);
}

// "key "a", "b" and 2 more: reason" for every distinct reason.
std::string grouped_reasons(
    const std::vector<std::pair<const JwkSummary*, std::string>>& unusable) {
    std::vector<std::pair<std::string, std::vector<const JwkSummary*>>> groups;
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    for (const auto& entry : unusable) {
        const std::string& reason = entry.second;
        auto group = std::find_if(groups.begin(), groups.end(),
                                  [&](const auto& candidate) { return candidate.first == reason; });
        if (group == groups.end()) {
            groups.push_back({reason, {entry.first}});
        } else {
            group->second.push_back(entry.first);
        }
    }
    std::string text;
    for (const auto& [reason, keys] : groups) {
        std::string names;
        for (std::size_t i = 0; i < keys.size() && i < kMaxKidsNamed; ++i) {
            names += (i == 0 ? "" : ", ") + key_label(*keys[i]);
        }
        if (keys.size() > kMaxKidsNamed) {
            names += " and " + std::to_string(keys.size() - kMaxKidsNamed) + " more";
        }
        if (!text.empty()) text += "; ";
        text += (keys.size() == 1 ? "key " : "keys ") + names + ": " + reason;
    }
    return text;
}

Check parse_check(std::string_view body, std::optional<json>* keys) {
    Check check = make_check("jwks.json", kSection, "JWKS parses");
    std::string error;
    const std::optional<json> document = parse_strict_json(body, &error);
    if (!document) return check.all(Mark::Fail, "not valid JSON: " + escape_untrusted(error));
    if (!document->is_object()) return check.all(Mark::Fail, "not a JSON object");
    const auto found = document->find("keys");
    if (found == document->end()) return check.all(Mark::Fail, "no \"keys\" member");
    if (!found->is_array()) return check.all(Mark::Fail, "\"keys\" is not an array");
    if (found->empty())
        return check.all(Mark::Fail, "\"keys\" is empty: nothing can verify a token");
    for (std::size_t index = 0; index < found->size(); ++index) {
        const json& key = (*found)[index];
        if (!key.is_object() || !key.contains("kty") || !key["kty"].is_string()) {
            return check.all(Mark::Fail, "keys[" + std::to_string(index) +
                                             "] is not an object with a string \"kty\"");
        }
    }
    check.detail = "JSON object with " + std::to_string(found->size()) + " key" +
                   (found->size() == 1 ? "" : "s");
    *keys = *found;
    return check;
}

Check private_material_check(std::string_view body, const std::vector<JwkSummary>& keys) {
    Check check =
        make_check("jwks.private", kSection, "No private or symmetric keys", "public members only");
    // validate_jwks looks for private members before anything else, so its first refusal
    // reliably reports them (and never quotes their values).
    Rejection rejection;
    if (!validate_jwks(body, &rejection) && rejection.code == "private_key_material") {
        check.detail.clear();
        return check.all(Mark::Fail, escape_untrusted(rejection.detail) +
                                         ": the signing key is exposed; rotate it");
    }
    for (const JwkSummary& key : keys) {
        if (key.kty == "oct") {
            check.detail.clear();
            return check.all(Mark::Fail, "key " + key_label(key) +
                                             " is symmetric (kty oct): its secret is published");
        }
    }
    return check;
}

Check kid_check(const std::vector<JwkSummary>& keys) {
    Check check = make_check("jwks.kids", kSection, "Key ids (kid) unique");
    std::map<std::string, std::size_t> seen;
    std::vector<std::string> duplicates;
    std::vector<std::string> missing;
    for (const JwkSummary& key : keys) {
        if (key.kid.empty()) {
            missing.push_back("keys[" + std::to_string(key.index) + "]");
            continue;
        }
        const auto [previous, inserted] = seen.emplace(key.kid, key.index);
        if (!inserted) {
            duplicates.push_back("kid " + quote_untrusted(key.kid) + " in keys[" +
                                 std::to_string(previous->second) + "] and keys[" +
                                 std::to_string(key.index) + "]");
        }
    }
    if (!duplicates.empty()) {
        std::string reason;
        for (const std::string& duplicate : duplicates) {
            reason += (reason.empty() ? "" : "; ") + duplicate;
        }
        check.all(Mark::Fail, reason + ": a token's kid must name exactly one key");
    } else if (!missing.empty()) {
        std::string names;
        for (const std::string& name : missing) names += (names.empty() ? "" : ", ") + name;
        check.all(Mark::Warn, names + " without \"kid\": tokens name their key by kid");
    } else {
        check.detail = std::to_string(keys.size()) + " distinct";
    }
    return check;
}

Check count_check(const std::vector<JwkSummary>& keys) {
    std::map<std::string, std::size_t> per_type;
    for (const JwkSummary& key : keys) ++per_type[key.kty];
    std::string detail = std::to_string(keys.size()) + " key" + (keys.size() == 1 ? "" : "s") + ":";
    bool first = true;
    for (const auto& [kty, count] : per_type) {
        detail += (first ? " " : ", ") + std::to_string(count) + " " + shown(kty);
        first = false;
    }
    Check check = make_check("jwks.counts", kSection, "Key counts", detail);
    for (const char* kty : {"RSA", "EC"}) {
        const std::size_t count = per_type.count(kty) != 0 ? per_type[kty] : 0;
        if (count > kAwsMaxKeysPerType) {
            check.raise(Idp::Aws, Mark::Fail,
                        std::to_string(count) + " " + kty +
                            " keys: AWS IAM accepts at most 100 RSA and 100 EC keys");
        }
    }
    if (keys.size() > kEntraKeptKeys) {
        check.raise(Idp::Entra, Mark::Warn,
                    std::to_string(keys.size()) +
                        " keys: Entra keeps only the first 100; keys after them cannot verify");
    }
    return check;
}

Check algorithm_check(const std::vector<JwkSummary>& keys) {
    std::map<std::string, std::size_t> kinds;
    for (const JwkSummary& key : keys) {
        std::string kind = shown(key.kty);
        if (!key.crv.empty()) kind += " " + shown(key.crv);
        kind += key.alg.empty() ? " (no alg)" : " " + shown(key.alg);
        kind += key.use.empty() ? " (no use)" : " use " + shown(key.use);
        ++kinds[kind];
    }
    std::string detail;
    for (const auto& [kind, count] : kinds) {
        detail += (detail.empty() ? "" : ", ") + std::to_string(count) + "\u00d7 " + kind;
    }
    if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
    Check check = make_check("jwks.algorithms", kSection, "Key types (kty/alg/use)", detail);

    for (Idp idp : kAllIdps) {
        std::vector<std::pair<const JwkSummary*, std::string>> unusable;
        std::size_t usable = 0;
        for (const JwkSummary& key : keys) {
            std::string reason = key_unusable_reason(idp, key);
            if (reason.empty()) {
                ++usable;
            } else {
                unusable.emplace_back(&key, std::move(reason));
            }
        }
        if (usable == 0) {
            check.raise(
                idp, Mark::Fail,
                "no key " + std::string(idp_name(idp)) + " can use: " + grouped_reasons(unusable));
        } else if (!unusable.empty()) {
            check.raise(idp, Mark::Warn,
                        std::to_string(unusable.size()) + " of " + std::to_string(keys.size()) +
                            " keys unusable (tokens they sign fail): " + grouped_reasons(unusable));
        }
    }
    return check;
}

}  // namespace

std::vector<JwkSummary> summarize_keys(const json& keys) {
    std::vector<JwkSummary> summaries;
    if (!keys.is_array()) return summaries;
    for (std::size_t index = 0; index < keys.size(); ++index) {
        const json& key = keys[index];
        if (!key.is_object()) continue;
        summaries.push_back(JwkSummary{index, member_string(key, "kid"), member_string(key, "kty"),
                                       member_string(key, "alg"), member_string(key, "use"),
                                       member_string(key, "crv")});
    }
    return summaries;
}

std::string algorithm_refusal(Idp idp, std::string_view alg) {
    static const std::array<std::set<std::string_view>, 3> accepted = {{
        {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"},
        {"RS256", "ES256"},
        {"RS256"},
    }};
    static const std::array<const char*, 3> accepted_text = {
        "AWS IAM accepts RS256/384/512 and ES256/384/512",
        "GCP accepts RS256 and ES256",
        "Entra accepts RS256 only",
    };
    const auto which = static_cast<std::size_t>(idp);
    if (accepted[which].count(alg) != 0) return "";
    std::string reason = std::string(idp_name(idp)) + " rejects " + shown(std::string(alg)) + " (" +
                         accepted_text[which] + ")";
    if (alg == "EdDSA") reason += "; " + std::string(kKeyringRotateHint);
    return reason;
}

std::string key_unusable_reason(Idp idp, const JwkSummary& key) {
    if (!key.use.empty() && key.use != "sig") {
        return "use " + quote_untrusted(key.use) + ", not \"sig\": not a signing key";
    }
    if (key.kty != "RSA" && key.kty != "EC" && key.kty != "OKP") {
        return "kty " + quote_untrusted(key.kty) + " is not a public signing key type";
    }
    const std::string alg = effective_algorithm(key);
    if (!algorithm_fits_key(key, alg)) {
        return "alg " + shown(alg) + " does not fit kty " + shown(key.kty) +
               (key.crv.empty() ? "" : " " + shown(key.crv));
    }
    if (idp == Idp::Entra) {
        if (key.index >= kEntraKeptKeys) return "after the 100th key, which Entra ignores";
        if (key.use.empty()) return "no \"use\":\"sig\", which Entra requires";
    }
    std::string refusal = algorithm_refusal(idp, alg);
    if (!refusal.empty() && key.kty == "OKP") {
        refusal = "EdDSA (" + shown(key.crv) + ") key: " + refusal;
    }
    return refusal;
}

std::vector<Check> check_jwks_document(std::string_view body, JwksFindings* findings) {
    std::vector<Check> checks;
    std::optional<json> keys;
    checks.push_back(parse_check(body, &keys));
    if (!keys) {
        const std::string reason = "the JWKS does not parse";
        checks.push_back(
            skipped_check("jwks.private", kSection, "No private or symmetric keys", reason));
        checks.push_back(skipped_check("jwks.kids", kSection, "Key ids (kid) unique", reason));
        checks.push_back(skipped_check("jwks.counts", kSection, "Key counts", reason));
        checks.push_back(
            skipped_check("jwks.algorithms", kSection, "Key types (kty/alg/use)", reason));
        return checks;
    }
    const std::vector<JwkSummary> summaries = summarize_keys(*keys);
    checks.push_back(private_material_check(body, summaries));
    checks.push_back(kid_check(summaries));
    checks.push_back(count_check(summaries));
    checks.push_back(algorithm_check(summaries));
    if (findings != nullptr) findings->keys = std::move(keys);
    return checks;
}

}  // namespace oidcgw
