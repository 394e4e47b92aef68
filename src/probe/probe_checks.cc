#include "probe/probe_checks.h"

#include "common/ascii.h"
#include "common/certificate_chain.h"
#include "common/duration.h"
#include "common/host_port.h"
#include "common/strict_json.h"
#include "common/text_escape.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr const char* kUrlSection = "URL";
constexpr const char* kDiscoverySection = "Discovery";

bool is_array_of_strings(const json& value) {
    return value.is_array() &&
           std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_string(); });
}

}  // namespace

std::string joined(const std::vector<std::string>& parts, const char* separator) {
    std::string text;
    for (const std::string& part : parts) text += (text.empty() ? "" : separator) + part;
    return text;
}

std::vector<Check> skip_rest(std::vector<Check> checks,
                             const std::vector<std::pair<const char*, const char*>>& rows,
                             const char* section, const std::string& reason) {
    for (const auto& [id, title] : rows)
        checks.push_back(skipped_check(id, section, title, reason));
    return checks;
}

std::optional<ProbeUrl> split_probe_url(std::string_view url) {
    const std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
    ProbeUrl parts;
    parts.scheme = std::string(url.substr(0, scheme_end));
    std::string_view rest = url.substr(scheme_end + 3);

    if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
        parts.has_fragment = true;
        rest = rest.substr(0, hash);
    }
    if (const std::size_t question = rest.find('?'); question != std::string_view::npos) {
        parts.has_query = true;
        rest = rest.substr(0, question);
    }
    const std::size_t path_start = rest.find('/');
    std::string_view authority = rest.substr(0, path_start);
    parts.path = path_start == std::string_view::npos ? "" : std::string(rest.substr(path_start));
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        parts.has_userinfo = true;
        parts.userinfo = std::string(authority.substr(0, at));
        authority = authority.substr(at + 1);
    }
    const std::optional<HostPort> host_port = split_host_port(authority);
    if (!host_port) return std::nullopt;
    parts.host = std::string(host_port->host);
    parts.has_port = host_port->port.has_value();
    parts.port_text = std::string(host_port->port.value_or(""));
    parts.port = parts.has_port ? parse_port(parts.port_text) : std::optional<std::uint16_t>(443);
    return parts;
}

std::vector<Check> check_issuer_url(std::string_view url) {
    std::vector<Check> checks;
    const std::vector<std::pair<const char*, const char*>> later_rows = {
        {"url.host", "Host"},
        {"url.port", "Port (AWS: none, 443)"},
        {"url.query", "No query, fragment or userinfo"},
        {"url.length", "Length (Entra: at most 600)"}};

    Check scheme = make_check("url.scheme", kUrlSection, "https scheme");
    const std::optional<ProbeUrl> parts = split_probe_url(url);
    if (!parts) {
        checks.push_back(scheme.all(Mark::Fail, quote_untrusted(url) +
                                                    " is not an absolute URL such as "
                                                    "https://oidc.example.com"));
        return skip_rest(std::move(checks), later_rows, kUrlSection, "the URL does not parse");
    }
    scheme.detail = quote_untrusted(parts->scheme);
    if (parts->scheme != "https") {
        scheme.all(Mark::Fail, equals_ignoring_ascii_case(parts->scheme, "https")
                                   ? "write \"https\" in lowercase: issuers are compared byte for "
                                     "byte"
                                   : "the identity providers fetch only over https");
    }
    checks.push_back(scheme);

    Check host = make_check("url.host", kUrlSection, "Host", quote_untrusted(parts->host));
    if (parts->host.empty()) {
        host.all(Mark::Fail, "the URL names no host");
    } else if (parts->host != to_lower_ascii(parts->host)) {
        host.note(Mark::Warn,
                  "the host has uppercase letters: every token's iss must repeat them exactly");
    }
    checks.push_back(host);

    Check port = make_check("url.port", kUrlSection, "Port (AWS: none, 443)");
    if (!parts->has_port) {
        port.detail = "none written (443)";
    } else if (!parts->port) {
        port.detail = quote_untrusted(parts->port_text);
        port.all(Mark::Fail, "the port is not a number from 1 to 65535");
    } else {
        port.detail = std::to_string(*parts->port);
        port.raise(Idp::Aws, Mark::Fail,
                   *parts->port == 443
                       ? "the URL writes \":443\"; AWS IAM wants the URL without a port"
                       : "port " + std::to_string(*parts->port) +
                             ": AWS IAM fetches only from 443 with no port in the URL");
    }
    checks.push_back(port);

    Check query = make_check("url.query", kUrlSection, "No query, fragment or userinfo");
    std::vector<std::string> extras;
    if (parts->has_query) extras.push_back("a query ('?')");
    if (parts->has_fragment) extras.push_back("a fragment ('#')");
    if (parts->has_userinfo) extras.push_back("userinfo ('user@')");
    if (!extras.empty()) {
        query.all(Mark::Fail,
                  "the URL has " + joined(extras, " and ") + ": issuers may have neither");
    } else {
        query.detail = "none";
    }
    checks.push_back(query);

    Check length = make_check("url.length", kUrlSection, "Length (Entra: at most 600)",
                              std::to_string(url.size()) + " characters");
    if (url.size() > kEntraMaxIssuerLength) {
        length.raise(Idp::Entra, Mark::Fail,
                     std::to_string(url.size()) + " characters: Entra accepts at most 600");
    }
    checks.push_back(length);
    return checks;
}

std::string discovery_url_for(std::string_view issuer) {
    std::string base(issuer);
    if (base.ends_with("/")) base.pop_back();
    return base + "/.well-known/openid-configuration";
}

std::string describe_issuer_mismatch(std::string_view found, std::string_view expected,
                                     std::string_view found_where) {
    const std::string prefix = std::string(found_where) + " " + quote_untrusted(found) +
                               " differs from the issuer URL " + quote_untrusted(expected);
    const std::string found_text(found);
    const std::string expected_text(expected);
    if (found_text + "/" == expected_text || found_text == expected_text + "/") {
        const bool found_has_slash = found.size() > expected.size();
        return prefix + " only by a trailing slash (" +
               (found_has_slash ? "it has one, the URL does not" : "the URL has one, it does not") +
               "). The identity providers compare issuers byte for byte (AWS: \"No "
               "OpenIDConnect provider found\"); make Nomad's oidc_issuer, the gateway's issuer "
               "and the URL given to the identity provider identical";
    }
    if (equals_ignoring_ascii_case(found, expected)) {
        return prefix + " only in letter case; issuers are compared byte for byte";
    }
    return prefix + " (compared byte for byte)";
}

Check check_fetch(std::string id, std::string section, std::string title, const ProbeFetch& fetch) {
    Check check = make_check(std::move(id), std::move(section), std::move(title));
    if (!fetch.reached) {
        check.detail = "no response";
        return check.all(Mark::Fail, escape_untrusted(fetch.error));
    }
    check.detail = "HTTP " + std::to_string(fetch.status) + " in " + format_duration(fetch.elapsed);
    std::vector<std::string> problems;
    if (!fetch.verified) {
        problems.push_back("the certificate does not verify (" + escape_untrusted(fetch.tls_error) +
                           "); the document was read without verification to check it anyway");
    }
    if (fetch.status >= 300 && fetch.status < 400) {
        problems.push_back(
            "HTTP " + std::to_string(fetch.status) + " redirect" +
            (fetch.location.empty() ? "" : " to " + quote_untrusted(fetch.location)) +
            ": the identity providers expect 200 at this URL");
    } else if (fetch.status != 200) {
        problems.push_back("HTTP " + std::to_string(fetch.status) + ", not 200");
    }
    if (!problems.empty()) check.all(Mark::Fail, joined(problems, "; "));
    return check;
}

Check check_content_type(std::string id, std::string section, const ProbeFetch& fetch) {
    Check check = make_check(std::move(id), std::move(section), "Content-Type application/json");
    std::string media_type = fetch.content_type.substr(0, fetch.content_type.find(';'));
    while (!media_type.empty() && media_type.back() == ' ') media_type.pop_back();
    media_type = to_lower_ascii(media_type);
    check.detail = fetch.content_type.empty() ? "none" : quote_untrusted(fetch.content_type);
    if (media_type != "application/json") {
        check.all(Mark::Fail, fetch.content_type.empty()
                                  ? "no Content-Type; the identity providers expect "
                                    "application/json"
                                  : "Content-Type " + quote_untrusted(fetch.content_type) +
                                        ", not application/json");
    }
    return check;
}

std::vector<Check> check_discovery_document(std::string_view body, std::string_view issuer,
                                            DiscoveryFindings* findings) {
    std::vector<Check> checks;
    Check parses = make_check("discovery.json", kDiscoverySection, "Discovery document parses");
    std::string error;
    const std::optional<json> document = parse_strict_json(body, &error);
    if (!document || !document->is_object()) {
        parses.all(Mark::Fail,
                   document ? "not a JSON object" : "not valid JSON: " + escape_untrusted(error));
        checks.push_back(parses);
        return skip_rest(std::move(checks),
                         {{"discovery.issuer", "issuer identical to the URL"},
                          {"discovery.members", "Required members"},
                          {"discovery.jwks_uri", "jwks_uri is https"}},
                         kDiscoverySection, "the discovery document does not parse");
    }
    parses.detail = "JSON object, " + std::to_string(body.size()) + " bytes";
    checks.push_back(parses);

    Check issuer_check =
        make_check("discovery.issuer", kDiscoverySection, "issuer identical to the URL");
    const auto issuer_member = document->find("issuer");
    if (issuer_member == document->end() || !issuer_member->is_string()) {
        issuer_check.all(Mark::Fail, "the document has no string \"issuer\"");
    } else {
        const std::string& found = issuer_member->get_ref<const std::string&>();
        issuer_check.detail = quote_untrusted(found);
        if (found != issuer) {
            issuer_check.all(Mark::Fail,
                             describe_issuer_mismatch(found, issuer, "the document's issuer"));
        }
    }
    checks.push_back(issuer_check);

    Check members = make_check("discovery.members", kDiscoverySection, "Required members");
    std::vector<std::string> missing;
    for (const char* name : {"issuer", "jwks_uri"}) {
        const auto member = document->find(name);
        if (member == document->end() || !member->is_string()) {
            missing.push_back(std::string(name) + " (a string)");
        }
    }
    for (const char* name : {"response_types_supported", "subject_types_supported",
                             "id_token_signing_alg_values_supported"}) {
        const auto member = document->find(name);
        if (member == document->end() || !is_array_of_strings(*member) || member->empty()) {
            missing.push_back(std::string(name) + " (a non-empty array of strings)");
        }
    }
    if (!missing.empty()) {
        members.all(Mark::Fail, "missing or malformed: " + joined(missing, ", "));
    } else {
        members.detail =
            "issuer, jwks_uri, response_types_supported, subject_types_supported, "
            "id_token_signing_alg_values_supported";
        const json& algorithms = document->at("id_token_signing_alg_values_supported");
        if (std::find(algorithms.begin(), algorithms.end(), json("RS256")) == algorithms.end()) {
            members.note(Mark::Warn,
                         "id_token_signing_alg_values_supported lacks RS256, which OpenID "
                         "Connect Discovery requires");
        }
    }
    checks.push_back(members);

    Check jwks_uri = make_check("discovery.jwks_uri", kDiscoverySection, "jwks_uri is https");
    const auto jwks_member = document->find("jwks_uri");
    if (jwks_member == document->end() || !jwks_member->is_string()) {
        jwks_uri.all(Mark::Fail, "the document has no string \"jwks_uri\"");
    } else {
        const std::string& uri = jwks_member->get_ref<const std::string&>();
        jwks_uri.detail = quote_untrusted(uri);
        const std::optional<ProbeUrl> parts = split_probe_url(uri);
        if (!parts || parts->scheme != "https" || parts->host.empty() || !parts->port ||
            parts->has_userinfo) {
            jwks_uri.all(Mark::Fail, "jwks_uri must be an https URL with a host");
        } else if (findings != nullptr) {
            findings->jwks_uri = uri;
        }
    }
    checks.push_back(jwks_uri);
    return checks;
}

Check check_response_time(std::chrono::milliseconds discovery,
                          std::optional<std::chrono::milliseconds> jwks) {
    std::string detail = "discovery " + format_duration(discovery);
    if (jwks) detail += ", JWKS " + format_duration(*jwks);
    Check check = make_check("timing.response", "Timing", "Response time (AWS: about 5 s)", detail);
    const std::chrono::milliseconds slowest = std::max(discovery, jwks.value_or(discovery));
    if (slowest >= kAwsFetchLimit) {
        check.raise(Idp::Aws, Mark::Fail,
                    format_duration(slowest) +
                        ": AWS IAM gives up after about 5 s "
                        "(\"Couldn't retrieve verification key\")");
        check.raise(Idp::Gcp, Mark::Warn, format_duration(slowest) + " is slow");
        check.raise(Idp::Entra, Mark::Warn, format_duration(slowest) + " is slow");
    } else if (slowest >= kSlowFetch) {
        check.all(Mark::Warn,
                  format_duration(slowest) + " is close to AWS IAM's limit of about 5 s");
    }
    return check;
}

}  // namespace oidcgw
