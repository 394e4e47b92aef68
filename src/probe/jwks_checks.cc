#include "probe/jwks_checks.h"

#include "common/strict_json.h"
#include "common/text_escape.h"
#include "publish/document_validation.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr const char* kSection = "JWKS";
constexpr std::size_t kMaxKidsNamed = 3;     // kids listed per reason before "and N more"
constexpr std::size_t kMaxReasonsNamed = 4;  // distinct reasons per provider before "N other"
constexpr std::size_t kMaxKindsNamed = 6;    // key types or kinds in a detail before "N other"

// "N other <what>" for what a bounded list left out.
std::string others(std::size_t count, const char* what) {
    return "and " + std::to_string(count) + " other " + what;
}

// The keys judged one by one: the first kMaxKeysExamined.
std::vector<JwkSummary> examined_keys(const std::vector<JwkSummary>& keys) {
    return {keys.begin(),
            keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), kMaxKeysExamined))};
}

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

// "key "a", "b" and 2 more: reason" for every distinct reason, in order of first appearance,
// the first kMaxReasonsNamed of them. Grouping goes through a hash map: linear in the keys.
std::string grouped_reasons(
    const std::vector<std::pair<const JwkSummary*, std::string>>& unusable) {
    std::vector<std::pair<const std::string*, std::vector<const JwkSummary*>>> groups;
    std::unordered_map<std::string_view, std::size_t> group_of;
    for (const auto& [key, reason] : unusable) {
        const auto [found, inserted] = group_of.emplace(reason, groups.size());
        if (inserted) groups.push_back({&reason, {}});
        groups[found->second].second.push_back(key);
    }
    std::string text;
    for (std::size_t index = 0; index < groups.size() && index < kMaxReasonsNamed; ++index) {
        const std::vector<const JwkSummary*>& keys = groups[index].second;
        std::string names;
        for (std::size_t i = 0; i < keys.size() && i < kMaxKidsNamed; ++i) {
            names += (i == 0 ? "" : ", ") + key_label(*keys[i]);
        }
        if (keys.size() > kMaxKidsNamed) {
            names += " and " + std::to_string(keys.size() - kMaxKidsNamed) + " more";
        }
        if (!text.empty()) text += "; ";
        text += (keys.size() == 1 ? "key " : "keys ") + names + ": " + *groups[index].first;
    }
    if (groups.size() > kMaxReasonsNamed) {
        std::size_t keys_left = 0;
        for (std::size_t index = kMaxReasonsNamed; index < groups.size(); ++index) {
            keys_left += groups[index].second.size();
        }
        text += "; " + others(groups.size() - kMaxReasonsNamed, "reasons") + " (" +
                std::to_string(keys_left) + (keys_left == 1 ? " key)" : " keys)");
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

// "a, b, c and 4 more" for a list that may be long.
std::string bounded_list(const std::vector<std::string>& items, std::size_t total) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
    if (total > items.size()) text += " and " + std::to_string(total - items.size()) + " more";
    return text;
}

Check kid_check(const std::vector<JwkSummary>& keys) {
    Check check = make_check("jwks.kids", kSection, "Key ids (kid) unique");
    std::unordered_map<std::string_view, std::size_t> seen;
    std::vector<std::string> duplicates;  // the first kMaxKidsNamed
    std::vector<std::string> missing;
    std::size_t duplicate_count = 0;
    std::size_t missing_count = 0;
    for (const JwkSummary& key : keys) {
        if (key.kid.empty()) {
            if (++missing_count <= kMaxKidsNamed) {
                missing.push_back("keys[" + std::to_string(key.index) + "]");
            }
            continue;
        }
        const auto [previous, inserted] = seen.emplace(key.kid, key.index);
        if (!inserted && ++duplicate_count <= kMaxKidsNamed) {
            duplicates.push_back("kid " + quote_untrusted(key.kid) + " in keys[" +
                                 std::to_string(previous->second) + "] and keys[" +
                                 std::to_string(key.index) + "]");
        }
    }
    if (duplicate_count != 0) {
        std::string reason;
        for (const std::string& duplicate : duplicates) {
            reason += (reason.empty() ? "" : "; ") + duplicate;
        }
        if (duplicate_count > duplicates.size()) {
            reason += "; " + others(duplicate_count - duplicates.size(), "duplicates");
        }
        check.all(Mark::Fail, reason + ": a token's kid must name exactly one key");
    } else if (missing_count != 0) {
        check.all(Mark::Warn, bounded_list(missing, missing_count) +
                                  " without \"kid\": tokens name their key by kid");
    } else {
        check.detail = std::to_string(keys.size()) + " distinct";
    }
    return check;
}

// The order of types in the counts: the signing types first (alphabetically), then the rest.
bool listed_before(const std::pair<std::string, std::size_t>& a,
                   const std::pair<std::string, std::size_t>& b) {
    const auto known = [](const std::string& kty) {
        return kty == "EC" || kty == "OKP" || kty == "RSA";
    };
    if (known(a.first) != known(b.first)) return known(a.first);
    return a.first < b.first;
}

Check count_check(const std::vector<JwkSummary>& keys) {
    std::unordered_map<std::string_view, std::size_t> counted;
    for (const JwkSummary& key : keys) ++counted[key.kty];
    std::vector<std::pair<std::string, std::size_t>> per_type(counted.begin(), counted.end());
    const std::size_t listed = std::min(per_type.size(), kMaxKindsNamed);
    std::partial_sort(per_type.begin(), per_type.begin() + static_cast<std::ptrdiff_t>(listed),
                      per_type.end(), listed_before);
    std::string detail = std::to_string(keys.size()) + " key" + (keys.size() == 1 ? "" : "s") + ":";
    for (std::size_t index = 0; index < listed; ++index) {
        detail += (index == 0 ? " " : ", ") + std::to_string(per_type[index].second) + " " +
                  shown(per_type[index].first);
    }
    if (per_type.size() > listed) {
        detail += ", " + others(per_type.size() - listed, "types");
    }
    Check check = make_check("jwks.counts", kSection, "Key counts", detail);
    for (const char* kty : {"RSA", "EC"}) {
        const auto found = counted.find(kty);
        const std::size_t count = found != counted.end() ? found->second : 0;
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
    if (keys.size() > kMaxKeysExamined) {
        check.note(Mark::Warn, std::to_string(keys.size() - kMaxKeysExamined) +
                                   " more keys not examined: probe judges the first " +
                                   std::to_string(kMaxKeysExamined) +
                                   " one by one, more than any identity provider uses");
    }
    return check;
}

// `keys` are the examined ones; `total` counts every key in the set.
Check algorithm_check(const std::vector<JwkSummary>& keys, std::size_t total) {
    std::map<std::string, std::size_t> kinds;
    for (const JwkSummary& key : keys) {
        std::string kind = shown(key.kty);
        if (!key.crv.empty()) kind += " " + shown(key.crv);
        kind += key.alg.empty() ? " (no alg)" : " " + shown(key.alg);
        kind += key.use.empty() ? " (no use)" : " use " + shown(key.use);
        ++kinds[kind];
    }
    std::string detail;
    std::size_t listed = 0;
    for (const auto& [kind, count] : kinds) {
        if (listed++ == kMaxKindsNamed) break;
        detail += (detail.empty() ? "" : ", ") + std::to_string(count) + "\u00d7 " + kind;
    }
    if (kinds.size() > kMaxKindsNamed) {
        detail += ", " + others(kinds.size() - kMaxKindsNamed, "kinds");
    }
    const bool cut = total > keys.size();
    if (cut) detail += "; " + std::to_string(total - keys.size()) + " more keys not examined";
    Check check = make_check("jwks.algorithms", kSection, "Key types (kty/alg/use)", detail);

    const std::string examined = std::to_string(keys.size());
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
            check.raise(idp, Mark::Fail,
                        "no key " + std::string(idp_name(idp)) + " can use" +
                            (cut ? " among the first " + examined : "") + ": " +
                            grouped_reasons(unusable));
        } else if (!unusable.empty()) {
            check.raise(idp, Mark::Warn,
                        std::to_string(unusable.size()) + " of " + (cut ? "the first " : "") +
                            examined +
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
    const std::vector<JwkSummary> examined = examined_keys(summaries);
    checks.push_back(kid_check(examined));
    checks.push_back(count_check(summaries));
    checks.push_back(algorithm_check(examined, summaries.size()));
    if (findings != nullptr) findings->keys = std::move(keys);
    return checks;
}

}  // namespace oidcgw
