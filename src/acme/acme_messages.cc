#include "acme/acme_messages.h"

#include "common/ascii.h"
#include "common/host_port.h"
#include "common/strict_json.h"
#include "common/text_escape.h"
#include "config/issuer_url.h"

#include <algorithm>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr std::string_view kErrorPrefix = "urn:ietf:params:acme:error:";
constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::size_t kMaxAuthorizations = 100;  // one per name, at most 100 names
constexpr std::size_t kMaxChallenges = 16;
constexpr std::size_t kMaxTextBytes = 4096;

// Thrown inside this file only: the first problem found, as a short reason.
struct Malformed {
    std::string reason;
};

[[noreturn]] void malformed(std::string reason) {
    throw Malformed{std::move(reason)};
}

json parse_object(std::string_view body) {
    if (body.size() > kMaxAcmeJsonBytes) malformed("the answer is larger than 256 KiB");
    std::string problem;
    std::optional<json> value = parse_strict_json(body, &problem);
    if (!value) malformed("the answer is not JSON: " + problem);
    if (!value->is_object()) malformed("the answer is not a JSON object");
    return std::move(*value);
}

const json* member(const json& object, const char* name) {
    const auto found = object.find(name);
    return found == object.end() ? nullptr : &*found;
}

std::string text_member(const json& object, const char* name, bool required) {
    const json* value = member(object, name);
    if (value == nullptr) {
        if (required) malformed(std::string("\"") + name + "\" is missing");
        return {};
    }
    if (!value->is_string()) malformed(std::string("\"") + name + "\" is not a string");
    const std::string& text = value->get_ref<const std::string&>();
    if (text.size() > kMaxTextBytes) malformed(std::string("\"") + name + "\" is too long");
    return text;
}

// An https URL the client may POST to: parsed by the one URL grammar the gateway has.
std::string url_member(const json& object, const char* name, bool required) {
    std::string text = text_member(object, name, required);
    if (text.empty() && !required) return text;
    if (!is_acme_url(text)) {
        malformed(std::string("\"") + name + "\" is not an https URL: " + quote_untrusted(text));
    }
    return text;
}

std::string status_member(const json& object) {
    const std::string status = text_member(object, "status", true);
    if (status.empty() || status.size() > 32 ||
        !std::all_of(status.begin(), status.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
        malformed("\"status\" is not a status word: " + quote_untrusted(status));
    }
    return status;
}

std::optional<AcmeProblem> problem_member(const json& object) {
    const json* value = member(object, "error");
    if (value == nullptr || !value->is_object()) return std::nullopt;
    return parse_acme_problem(value->dump(), 0);
}

bool is_token(std::string_view token) {
    return token.size() >= 22 && token.size() <= 256 &&
           std::all_of(token.begin(), token.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
           });
}

template <typename Parse>
auto parse_guarded(std::string_view body, std::string* error, Parse parse)
    -> std::optional<decltype(parse(json()))> {
    try {
        return parse(parse_object(body));
    } catch (const Malformed& failure) {
        *error = failure.reason;
    } catch (const json::exception& failure) {
        *error = std::string("the answer does not have the expected form: ") + failure.what();
    }
    return std::nullopt;
}

}  // namespace

std::string new_order_payload(const std::vector<std::string>& names, const std::string& replaces,
                              bool ca_offers_renewal_info) {
    json payload = {{"identifiers", json::array()}};
    for (const std::string& name : names) {
        payload["identifiers"].push_back({{"type", "dns"}, {"value", name}});
    }
    if (!replaces.empty() && ca_offers_renewal_info) payload["replaces"] = replaces;
    return payload.dump();
}

bool is_acme_url(std::string_view text) {
    if (text.size() > kMaxUrlBytes) return false;
    std::string ignored;
    const std::optional<UpstreamUrl> url = parse_upstream_url(text, &ignored);
    return url && url->https;
}

std::string AcmeProblem::short_type() const {
    if (type.rfind(kErrorPrefix, 0) == 0) return type.substr(kErrorPrefix.size());
    return type;
}

std::string AcmeProblem::summary() const {
    std::string text = short_type().empty() ? "HTTP " + std::to_string(status) : short_type();
    if (!detail.empty()) text += ": " + detail;
    return escape_untrusted(text.substr(0, 512));
}

AcmeProblem parse_acme_problem(std::string_view body, int status) {
    AcmeProblem problem;
    problem.status = status;
    std::string ignored;
    const std::optional<json> value =
        body.size() <= kMaxAcmeJsonBytes ? parse_strict_json(body, &ignored) : std::nullopt;
    if (!value || !value->is_object()) return problem;
    const auto text = [&](const char* name) {
        const json* found = member(*value, name);
        return found != nullptr && found->is_string()
                   ? found->get_ref<const std::string&>().substr(0, kMaxTextBytes)
                   : std::string();
    };
    problem.type = text("type");
    problem.detail = text("detail");
    if (const json* code = member(*value, "status");
        code != nullptr && code->is_number_integer() && status == 0) {
        const auto number = code->get<long long>();
        if (number >= 100 && number <= 599) problem.status = static_cast<int>(number);
    }
    return problem;
}

std::optional<AcmeDirectory> parse_acme_directory(std::string_view body, std::string* error) {
    return parse_guarded(body, error, [](const json& object) {
        AcmeDirectory directory;
        directory.new_nonce = url_member(object, "newNonce", true);
        directory.new_account = url_member(object, "newAccount", true);
        directory.new_order = url_member(object, "newOrder", true);
        directory.renewal_info = url_member(object, "renewalInfo", false);
        if (const json* meta = member(object, "meta"); meta != nullptr && meta->is_object()) {
            const json* required = member(*meta, "externalAccountRequired");
            directory.external_account_required =
                required != nullptr && required->is_boolean() && required->get<bool>();
        }
        return directory;
    });
}

std::optional<AcmeOrder> parse_acme_order(std::string_view body, std::string* error) {
    return parse_guarded(body, error, [](const json& object) {
        AcmeOrder order;
        order.status = status_member(object);
        const json* authorizations = member(object, "authorizations");
        if (authorizations == nullptr || !authorizations->is_array()) {
            malformed("\"authorizations\" is not a list");
        }
        if (authorizations->size() > kMaxAuthorizations) malformed("too many authorizations");
        for (std::size_t index = 0; index < authorizations->size(); ++index) {
            json holder = json::object({{"url", (*authorizations)[index]}});
            order.authorizations.push_back(url_member(holder, "url", true));
        }
        order.finalize = url_member(object, "finalize", true);
        order.certificate = url_member(object, "certificate", false);
        order.error = problem_member(object);
        return order;
    });
}

std::optional<AcmeAuthorization> parse_acme_authorization(std::string_view body,
                                                          std::string* error) {
    return parse_guarded(body, error, [](const json& object) {
        AcmeAuthorization authorization;
        authorization.status = status_member(object);
        const json* identifier = member(object, "identifier");
        if (identifier == nullptr || !identifier->is_object()) {
            malformed("\"identifier\" is not an object");
        }
        if (text_member(*identifier, "type", true) != "dns") {
            malformed("the identifier is not a DNS name");
        }
        authorization.identifier = to_lower_ascii(text_member(*identifier, "value", true));
        if (!is_dns_name(authorization.identifier)) {
            malformed("the identifier is not a DNS name: " +
                      quote_untrusted(authorization.identifier));
        }
        const json* challenges = member(object, "challenges");
        if (challenges == nullptr || !challenges->is_array()) {
            malformed("\"challenges\" is not a list");
        }
        if (challenges->size() > kMaxChallenges) malformed("too many challenges");
        for (const json& entry : *challenges) {
            if (!entry.is_object()) malformed("a challenge is not an object");
            AcmeChallenge challenge;
            challenge.type = text_member(entry, "type", true);
            challenge.status = status_member(entry);
            challenge.error = problem_member(entry);
            if (challenge.type == "tls-alpn-01") {
                challenge.url = url_member(entry, "url", true);
                challenge.token = text_member(entry, "token", true);
                if (!is_token(challenge.token)) {
                    malformed("the tls-alpn-01 token is not base64url of 128 bits or more: " +
                              quote_untrusted(challenge.token));
                }
            }
            authorization.challenges.push_back(std::move(challenge));
        }
        return authorization;
    });
}

const AcmeChallenge* tls_alpn_challenge(const AcmeAuthorization& authorization) {
    for (const AcmeChallenge& challenge : authorization.challenges) {
        if (challenge.type == "tls-alpn-01") return &challenge;
    }
    return nullptr;
}

}  // namespace oidcgw
