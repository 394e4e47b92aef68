// The discovery document's rules (see document_validation.h).
#include "common/strict_json.h"
#include "publish/document_limits.h"
#include "publish/document_validation.h"
#include "publish/document_validation_support.h"

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {
namespace {

using nlohmann::json;

// Checks that `name` is a non-empty array of strings in the discovery document.
std::optional<Rejection> check_string_list(const json& document, const char* name) {
    const auto found = document.find(name);
    if (found == document.end()) {
        return Rejection{"missing_member",
                         std::string("discovery document has no \"") + name + "\""};
    }
    if (!is_array_of_strings(*found) || found->empty()) {
        return Rejection{"wrong_type", std::string("discovery member \"") + name +
                                           "\" must be a non-empty array of strings"};
    }
    return std::nullopt;
}

std::string issuer_mismatch_detail(const std::string& found, const std::string& configured) {
    const bool trailing_slash_only = found + "/" == configured || found == configured + "/";
    if (trailing_slash_only) {
        const std::string which = found.size() > configured.size()
                                      ? "has a trailing slash that the configured issuer lacks"
                                      : "lacks the trailing slash that the configured issuer has";
        return "discovery issuer " + quote_untrusted(found) +
               " differs from the configured issuer " + quote_untrusted(configured) +
               " only by a trailing slash: it " + which +
               ". AWS IAM and other identity providers compare issuers byte for byte; make "
               "Nomad's oidc_issuer and the gateway's issuer identical";
    }
    return "discovery issuer " + quote_untrusted(found) + " is not the configured issuer " +
           quote_untrusted(configured) + " (compared byte for byte)";
}

}  // namespace

std::optional<DiscoveryInfo> validate_discovery(std::string_view body, const IssuerUrl& issuer,
                                                Rejection* rejection) {
    try {
        // Before the document is built: its first bytes, and what building it would cost.
        std::optional<Rejection> refused = check_document_start(body, "discovery document");
        if (!refused) refused = check_document_limits(body, kDiscoveryLimits, "discovery document");
        if (refused) return reject(rejection, refused->code, refused->detail);
        std::string error;
        const std::optional<json> document = parse_strict_json(body, &error);
        if (!document) {
            return reject(rejection, "invalid_json",
                          "discovery document is not valid JSON: " + error);
        }
        if (!document->is_object()) {
            return reject(rejection, "not_an_object", "discovery document must be a JSON object");
        }

        const auto issuer_member = document->find("issuer");
        if (issuer_member == document->end()) {
            return reject(rejection, "missing_member", "discovery document has no \"issuer\"");
        }
        if (!issuer_member->is_string()) {
            return reject(rejection, "wrong_type", "discovery member \"issuer\" must be a string");
        }
        const std::string& found_issuer = issuer_member->get_ref<const std::string&>();
        if (found_issuer != issuer.text) {
            return reject(rejection, "issuer_mismatch",
                          issuer_mismatch_detail(found_issuer, issuer.text));
        }

        const auto jwks_member = document->find("jwks_uri");
        if (jwks_member == document->end()) {
            return reject(rejection, "missing_member", "discovery document has no \"jwks_uri\"");
        }
        if (!jwks_member->is_string()) {
            return reject(rejection, "wrong_type",
                          "discovery member \"jwks_uri\" must be a string");
        }
        const std::string& jwks_uri = jwks_member->get_ref<const std::string&>();
        const std::optional<std::string> jwks_path = jwks_path_for_issuer(issuer, jwks_uri, &error);
        if (!jwks_path) {
            return reject(rejection, "bad_jwks_uri",
                          "jwks_uri " + quote_untrusted(jwks_uri) + ": " + error);
        }

        for (const char* name : {"response_types_supported", "subject_types_supported",
                                 "id_token_signing_alg_values_supported"}) {
            if (auto problem = check_string_list(*document, name)) {
                return reject(rejection, std::move(problem->code), std::move(problem->detail));
            }
        }

        DiscoveryInfo info;
        info.jwks_uri = jwks_uri;
        info.jwks_path = *jwks_path;
        info.jwks_upstream_path = jwks_path->substr(issuer.path_prefix.size());
        return info;
    } catch (const std::exception& e) {
        // Not expected (every access above is checked); a bug must not take the gateway down.
        return reject(rejection, "invalid_json",
                      std::string("discovery validation failed: ") + e.what());
    }
}

}  // namespace oidcgw
