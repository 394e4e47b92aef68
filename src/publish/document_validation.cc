#include "publish/document_validation.h"

#include "common/strict_json.h"
#include "common/text_escape.h"
#include "publish/document_limits.h"
#include "publish/document_validation_support.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr std::size_t kAwsMaxKeysPerType = 100;  // AWS IAM: at most 100 RSA and 100 EC keys
constexpr std::size_t kEntraMaxKeys = 100;       // Entra keeps only the first 100 keys
constexpr std::size_t kMaxKidLength = 256;
constexpr std::size_t kMinRsaModulusBits = 2048;
constexpr std::size_t kKidsNamedPerWarning = 3;  // kids a grouped warning names before "N more"
constexpr std::size_t kMaxKeyWarnings = 8;       // distinct per-key warnings before a summary

// RFC 7517/7518 members that carry private or symmetric key material (plus `priv`, used by
// post-quantum key types). Their presence anywhere means the upstream leaked a secret.
constexpr std::array<std::string_view, 9> kPrivateMembers = {"d",  "p",   "q", "dp",  "dq",
                                                             "qi", "oth", "k", "priv"};

// Public members every key type may carry.
constexpr std::array<std::string_view, 9> kCommonMembers = {
    "kty", "kid", "use", "alg", "key_ops", "x5u", "x5c", "x5t", "x5t#S256"};

struct KeyType {
    std::string_view kty;
    std::vector<std::string_view> members;     // allowed beyond kCommonMembers
    std::vector<std::string_view> algorithms;  // `alg` values that fit this key type
    std::vector<std::string_view> curves;      // allowed `crv` values; empty: no `crv`
};

const std::vector<KeyType>& key_types() {
    static const std::vector<KeyType> types = {
        {"RSA", {"n", "e"}, {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, {}},
        {"EC", {"crv", "x", "y"}, {"ES256", "ES384", "ES512"}, {"P-256", "P-384", "P-521"}},
        {"OKP", {"crv", "x"}, {"EdDSA"}, {"Ed25519", "Ed448"}},
    };
    return types;
}

template <typename List>
bool contains(const List& list, std::string_view value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

re2::StringPiece piece(std::string_view text) {
    return re2::StringPiece(text.data(), text.size());
}

// Unpadded base64url. A length of 1 mod 4 cannot come from any byte string.
bool is_base64url(std::string_view text) {
    static const RE2 base64url("[A-Za-z0-9_-]+");
    return text.size() % 4 != 1 && RE2::FullMatch(piece(text), base64url);
}

// Standard base64 with padding, as x5c certificates use.
bool is_standard_base64(std::string_view text) {
    static const RE2 base64("(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?");
    return !text.empty() && RE2::FullMatch(piece(text), base64);
}

// Printable ASCII without '"' and '\\': safe in logs, headers and JSON without escaping.
bool is_printable_kid(std::string_view kid) {
    static const RE2 kid_chars(R"([!#-\[\]-~]+)");
    return RE2::FullMatch(piece(kid), kid_chars);
}

std::uint8_t base64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return static_cast<std::uint8_t>(c - 'A');
    if (c >= 'a' && c <= 'z') return static_cast<std::uint8_t>(c - 'a' + 26);
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0' + 52);
    return c == '-' ? 62 : 63;
}

// Bit length of the big-endian integer that a valid base64url string encodes.
std::size_t encoded_integer_bits(std::string_view base64url) {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(base64url.size() * 3 / 4);
    std::uint32_t buffer = 0;
    int buffered_bits = 0;
    for (char c : base64url) {
        buffer = (buffer << 6) | base64url_value(c);
        buffered_bits += 6;
        if (buffered_bits >= 8) {
            buffered_bits -= 8;
            bytes.push_back(static_cast<std::uint8_t>(buffer >> buffered_bits));
            buffer &= (1u << buffered_bits) - 1;
        }
    }
    const auto first = std::find_if(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b; });
    if (first == bytes.end()) return 0;
    std::size_t bits = static_cast<std::size_t>(bytes.end() - first) * 8;
    for (std::uint8_t top = *first; (top & 0x80) == 0; top = static_cast<std::uint8_t>(top << 1)) {
        --bits;
    }
    return bits;
}

// "keys[0].d"; odd member names are quoted so the path stays unambiguous and log-safe.
std::string member_path(const std::string& parent, const std::string& name) {
    static const RE2 plain_name("[A-Za-z0-9_#-]{1,64}");
    const std::string shown = RE2::FullMatch(name, plain_name) ? name : quote_untrusted(name);
    return parent.empty() ? shown : parent + "." + shown;
}

// The path of the first private-key member anywhere in the document, e.g. "keys[0].d". Depth is
// bounded by parse_strict_json, so recursion is safe.
std::optional<std::string> find_private_member(const json& value, const std::string& path) {
    if (value.is_object()) {
        for (const auto& [name, member] : value.items()) {
            if (contains(kPrivateMembers, name)) return member_path(path, name);
        }
        for (const auto& [name, member] : value.items()) {
            if (auto found = find_private_member(member, member_path(path, name))) {
                return found;
            }
        }
    } else if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
            const std::string element = path + "[" + std::to_string(i) + "]";
            if (auto found = find_private_member(value[i], element)) return found;
        }
    }
    return std::nullopt;
}

// One key's warning: `label` "has" `finding` (e.g. `no "use"; ...`).
struct KeyFinding {
    std::string finding;
    std::string label;   // key "kid" (keys[i])
    std::string quoted;  // "kid"
};

// Everything validate_jwks learns while walking the keys.
struct KeySetScan {
    JwksInfo info;
    std::map<std::string, std::size_t> kid_index;
    std::size_t rsa_keys = 0;
    std::size_t ec_keys = 0;
    std::vector<KeyFinding> key_findings;  // in key order; grouped into warnings at the end
};

// Checks a member that must be unpadded base64url when present (required members are checked for
// presence before this). Never echoes the value: it may be key material.
std::optional<Rejection> check_base64url_member(const json& key, std::string_view name,
                                                const std::string& label) {
    const auto found = key.find(std::string(name));
    if (found == key.end()) return std::nullopt;
    if (!found->is_string()) {
        return Rejection{"wrong_type",
                         label + " member \"" + std::string(name) + "\" must be a string"};
    }
    if (!is_base64url(found->get_ref<const std::string&>())) {
        return Rejection{"bad_key_member", label + " member \"" + std::string(name) +
                                               "\" is not non-empty unpadded base64url"};
    }
    return std::nullopt;
}

std::optional<Rejection> check_key(const json& key, std::size_t index, KeySetScan& scan) {
    std::string label = "keys[" + std::to_string(index) + "]";
    if (!key.is_object()) return Rejection{"wrong_type", label + " must be an object"};

    // The key type decides which members are allowed, so it comes first.
    const auto kty_member = key.find("kty");
    if (kty_member == key.end()) return Rejection{"missing_member", label + " has no \"kty\""};
    if (!kty_member->is_string()) {
        return Rejection{"wrong_type", label + " member \"kty\" must be a string"};
    }
    const std::string& kty = kty_member->get_ref<const std::string&>();
    if (kty == "oct") {
        return Rejection{"symmetric_key", label +
                                              " is a symmetric key (kty oct): publishing it "
                                              "would hand out the signing secret"};
    }
    const auto type = std::find_if(key_types().begin(), key_types().end(),
                                   [&](const KeyType& t) { return t.kty == kty; });
    if (type == key_types().end()) {
        return Rejection{"unsupported_key_type", label + " has kty " + quote_untrusted(kty) +
                                                     "; only RSA, EC and OKP are allowed"};
    }

    for (const auto& [name, member] : key.items()) {
        if (!contains(kCommonMembers, name) && !contains(type->members, name)) {
            return Rejection{"unknown_member", label + " (kty " + kty + ") has unknown member " +
                                                   quote_untrusted(name)};
        }
    }

    const auto kid_member = key.find("kid");
    if (kid_member == key.end()) return Rejection{"missing_member", label + " has no \"kid\""};
    if (!kid_member->is_string()) {
        return Rejection{"wrong_type", label + " member \"kid\" must be a string"};
    }
    const std::string& kid = kid_member->get_ref<const std::string&>();
    if (kid.empty() || kid.size() > kMaxKidLength || !is_printable_kid(kid)) {
        return Rejection{"bad_kid", label + " kid " + quote_untrusted(kid) +
                                        " must be 1 to 256 printable ASCII characters without "
                                        "'\"' or '\\'"};
    }
    const auto [previous, inserted] = scan.kid_index.emplace(kid, index);
    if (!inserted) {
        return Rejection{"duplicate_kid", "kid " + quote_untrusted(kid) + " appears in keys[" +
                                              std::to_string(previous->second) + "] and " + label};
    }
    const std::string quoted_kid = quote_untrusted(kid);
    label = "key " + quoted_kid + " (" + label + ")";

    for (std::string_view required : type->members) {
        if (!key.contains(std::string(required))) {
            return Rejection{"missing_member",
                             label + " (kty " + kty + ") has no \"" + std::string(required) + "\""};
        }
    }
    std::string crv;
    if (!type->curves.empty()) {
        const json& crv_member = key.at("crv");
        if (!crv_member.is_string()) {
            return Rejection{"wrong_type", label + " member \"crv\" must be a string"};
        }
        crv = crv_member.get<std::string>();
        if (!contains(type->curves, crv)) {
            return Rejection{"bad_key_member", label + " has curve " + quote_untrusted(crv) +
                                                   ", not one allowed for kty " + kty};
        }
    }
    for (std::string_view name : {"n", "e", "x", "y", "x5t", "x5t#S256"}) {
        if (auto problem = check_base64url_member(key, name, label)) return problem;
    }

    std::string alg;
    if (const auto alg_member = key.find("alg"); alg_member != key.end()) {
        if (!alg_member->is_string()) {
            return Rejection{"wrong_type", label + " member \"alg\" must be a string"};
        }
        alg = alg_member->get<std::string>();
        if (!contains(type->algorithms, alg)) {
            return Rejection{"bad_key_member", label + " has alg " + quote_untrusted(alg) +
                                                   ", which does not fit kty " + kty};
        }
    }
    const auto use_member = key.find("use");
    if (use_member != key.end() && !use_member->is_string()) {
        return Rejection{"wrong_type", label + " member \"use\" must be a string"};
    }
    if (const auto x5u = key.find("x5u"); x5u != key.end() && !x5u->is_string()) {
        return Rejection{"wrong_type", label + " member \"x5u\" must be a string"};
    }
    if (const auto ops = key.find("key_ops"); ops != key.end() && !is_array_of_strings(*ops)) {
        return Rejection{"wrong_type", label + " member \"key_ops\" must be an array of strings"};
    }
    if (const auto x5c = key.find("x5c"); x5c != key.end()) {
        if (!is_array_of_strings(*x5c)) {
            return Rejection{"wrong_type", label + " member \"x5c\" must be an array of strings"};
        }
        const bool all_base64 = std::all_of(x5c->begin(), x5c->end(), [](const json& cert) {
            return is_standard_base64(cert.get_ref<const std::string&>());
        });
        if (x5c->empty() || !all_base64) {
            return Rejection{"bad_key_member",
                             label + " member \"x5c\" must hold one or more base64 certificates"};
        }
    }

    // Accepted. Now what the identity providers will make of it.
    const auto found = [&](std::string finding) {
        scan.key_findings.push_back({std::move(finding), label, quoted_kid});
    };
    if (kty == "RSA") {
        ++scan.rsa_keys;
        const std::size_t bits = encoded_integer_bits(key.at("n").get_ref<const std::string&>());
        if (bits < kMinRsaModulusBits) {
            found("a " + std::to_string(bits) +
                  "-bit RSA modulus, under 2048 bits: identity providers may refuse it");
        }
    } else if (kty == "EC") {
        ++scan.ec_keys;
    }
    if (use_member == key.end()) {
        found("no \"use\"; Microsoft Entra ID expects \"use\":\"sig\"");
    } else if (use_member->get_ref<const std::string&>() != "sig") {
        found("use " + quote_untrusted(use_member->get_ref<const std::string&>()) +
              ", not \"sig\"; Microsoft Entra ID expects \"use\":\"sig\"");
    }
    scan.info.keys.push_back(KeySummary{kid, kty, alg, crv});
    return std::nullopt;
}

// One warning per distinct finding, naming the first few keys that draw it, and at most
// kMaxKeyWarnings of them: a set of a thousand keys without "use" is one line, not a thousand.
void add_key_warnings(KeySetScan& scan) {
    std::vector<std::pair<std::string, std::vector<const KeyFinding*>>> groups;
    for (const KeyFinding& finding : scan.key_findings) {
        auto group = std::find_if(groups.begin(), groups.end(),
                                  [&](const auto& g) { return g.first == finding.finding; });
        if (group == groups.end()) {
            groups.push_back({finding.finding, {&finding}});
        } else {
            group->second.push_back(&finding);
        }
    }
    std::size_t unlisted_keys = 0;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& [finding, keys] = groups[i];
        if (i >= kMaxKeyWarnings) {
            unlisted_keys += keys.size();
            continue;
        }
        if (keys.size() == 1) {
            scan.info.warnings.push_back(keys.front()->label + " has " + finding);
            continue;
        }
        std::string names;
        for (std::size_t k = 0; k < keys.size() && k < kKidsNamedPerWarning; ++k) {
            names += (k == 0 ? "" : ", ") + keys[k]->quoted;
        }
        if (keys.size() > kKidsNamedPerWarning) {
            names += " and " + std::to_string(keys.size() - kKidsNamedPerWarning) + " more";
        }
        scan.info.warnings.push_back(std::to_string(keys.size()) + " keys (" + names + ") have " +
                                     finding);
    }
    if (unlisted_keys != 0) {
        scan.info.warnings.push_back(std::to_string(groups.size() - kMaxKeyWarnings) +
                                     " further kinds of key warning, for " +
                                     std::to_string(unlisted_keys) + " keys, not listed");
    }
}

void add_key_set_warnings(KeySetScan& scan) {
    add_key_warnings(scan);
    std::vector<std::string>& warnings = scan.info.warnings;
    if (scan.rsa_keys == 0 && scan.ec_keys == 0) {
        warnings.push_back(
            "no RSA or EC key: AWS IAM rejects EdDSA-signed tokens (and GCP accepts only RSA and "
            "EC); rotate Nomad's keyring (nomad operator root keyring rotate) to get RSA keys");
    }
    if (scan.rsa_keys > kAwsMaxKeysPerType) {
        warnings.push_back(std::to_string(scan.rsa_keys) +
                           " RSA keys: AWS IAM accepts at most 100 RSA keys in a JWKS");
    }
    if (scan.ec_keys > kAwsMaxKeysPerType) {
        warnings.push_back(std::to_string(scan.ec_keys) +
                           " EC keys: AWS IAM accepts at most 100 EC keys in a JWKS");
    }
    const std::size_t total = scan.info.keys.size();
    if (total > kEntraMaxKeys) {
        warnings.push_back(std::to_string(total) +
                           " keys: Microsoft Entra ID keeps only the first 100 keys of a JWKS");
    }
}

}  // namespace

std::nullopt_t reject(Rejection* rejection, std::string code, std::string detail) {
    if (rejection != nullptr) *rejection = Rejection{std::move(code), std::move(detail)};
    return std::nullopt;
}

bool is_array_of_strings(const json& value) {
    return value.is_array() &&
           std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_string(); });
}

std::optional<JwksInfo> validate_jwks(std::string_view body, Rejection* rejection) {
    try {
        // Before the document is built: its first bytes, and what building it would cost.
        std::optional<Rejection> refused = check_document_start(body, "JWKS");
        if (!refused) refused = check_document_limits(body, kJwksLimits, "JWKS");
        if (refused) return reject(rejection, refused->code, refused->detail);
        std::string error;
        const std::optional<json> document = parse_strict_json(body, &error);
        if (!document) return reject(rejection, "invalid_json", "JWKS is not valid JSON: " + error);

        // Before anything else: a leaked secret is the one reason an operator must hear about.
        if (const auto where = find_private_member(*document, "")) {
            return reject(rejection, "private_key_material",
                          "JWKS contains private key material (member " + *where + ")");
        }
        if (!document->is_object()) {
            return reject(rejection, "not_an_object", "JWKS must be a JSON object");
        }
        for (const auto& [name, member] : document->items()) {
            if (name != "keys") {
                return reject(rejection, "unknown_member",
                              "JWKS has unknown top-level member " + quote_untrusted(name) +
                                  "; only \"keys\" is allowed");
            }
        }
        const auto keys = document->find("keys");
        if (keys == document->end()) {
            return reject(rejection, "missing_member", "JWKS has no \"keys\"");
        }
        if (!keys->is_array()) {
            return reject(rejection, "wrong_type", "JWKS member \"keys\" must be an array");
        }
        if (keys->empty()) return reject(rejection, "empty_key_set", "JWKS holds no keys");
        if (keys->size() > kMaxJwksKeys) {  // check_document_limits stops this sooner
            return reject(rejection, "too_many_keys",
                          "JWKS holds " + std::to_string(keys->size()) + " keys; at most " +
                              std::to_string(kMaxJwksKeys) + " are accepted");
        }

        KeySetScan scan;
        for (std::size_t index = 0; index < keys->size(); ++index) {
            if (auto problem = check_key((*keys)[index], index, scan)) {
                return reject(rejection, std::move(problem->code), std::move(problem->detail));
            }
        }
        add_key_set_warnings(scan);
        return std::move(scan.info);
    } catch (const std::exception& e) {
        return reject(rejection, "invalid_json",
                      std::string("JWKS validation failed: ") + e.what());
    }
}

}  // namespace oidcgw
