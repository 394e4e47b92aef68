#include "publish/publication.h"

#include "common/digest.h"
#include "common/http_date.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

namespace oidcgw {
namespace {

// A strong validator derived from the bytes, so equal bodies always carry equal ETags, on every
// gateway instance and across restarts.
std::string strong_etag(std::string_view body) {
    return "\"" + sha256_hex(body, 16) + "\"";
}

DocumentResponse build_document_response(std::string body, std::time_t last_modified,
                                         std::chrono::seconds max_age) {
    DocumentResponse response;
    response.etag = strong_etag(body);
    response.last_modified = last_modified;
    const std::string cache_control =
        "Cache-Control: public, max-age=" + std::to_string(max_age.count()) + "\r\n";
    const std::string common = cache_control + "ETag: " + response.etag + "\r\n" +
                               "Last-Modified: " + format_http_date(last_modified) + "\r\n" +
                               "Access-Control-Allow-Origin: *\r\n"
                               "X-Content-Type-Options: nosniff\r\n"
                               "Strict-Transport-Security: max-age=63072000\r\n";
    response.fields_200 =
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n" + common;
    response.fields_304 = common;
    response.body = std::move(body);
    return response;
}

}  // namespace

std::optional<AcceptedDocuments> accept_document_pair(const IssuerUrl& issuer,
                                                      std::string discovery_body,
                                                      std::string jwks_body,
                                                      std::size_t max_document_bytes,
                                                      Rejection* rejection) {
    if (discovery_body.size() > max_document_bytes || jwks_body.size() > max_document_bytes) {
        *rejection = {"too_large", "document larger than max_document_bytes (" +
                                       std::to_string(max_document_bytes) + ")"};
        return std::nullopt;
    }
    auto discovery = validate_discovery(discovery_body, issuer, rejection);
    if (!discovery) return std::nullopt;
    auto jwks = validate_jwks(jwks_body, rejection);
    if (!jwks) return std::nullopt;
    AcceptedDocuments accepted;
    accepted.discovery_body = std::move(discovery_body);
    accepted.jwks_body = std::move(jwks_body);
    accepted.discovery = std::move(*discovery);
    accepted.jwks = std::move(*jwks);
    return accepted;
}

std::shared_ptr<const IssuerPublication> build_issuer_publication(AcceptedDocuments documents,
                                                                  std::chrono::seconds max_age) {
    auto publication = std::make_shared<IssuerPublication>();
    publication->max_age = max_age;
    publication->jwks_path = documents.discovery.jwks_path;
    publication->discovery =
        build_document_response(documents.discovery_body, documents.discovery_modified, max_age);
    publication->jwks =
        build_document_response(documents.jwks_body, documents.jwks_modified, max_age);
    publication->documents = std::move(documents);
    return publication;
}

namespace {

// True when `path` lies under an issuer whose URL path is `prefix` ("" or "/a/b").
bool lies_under(std::string_view prefix, std::string_view path) {
    return path.size() > prefix.size() && path.starts_with(prefix) && path[prefix.size()] == '/';
}

}  // namespace

void Publication::add_issuer(IssuerSlot slot) {
    const std::string& prefix = slot.issuer.path_prefix;
    longest_path_prefix = std::max(longest_path_prefix, prefix.size());
    slots_by_prefix[prefix].push_back(issuers.size());
    ++indexed_issuers;
    issuers.push_back(std::move(slot));
}

RouteResult route_request(const Publication& publication, std::string_view host,
                          std::string_view path) {
    // An issuer pushed into `issuers` directly would be missing from the index (tests run the
    // sanitizer build with assertions on).
    assert(publication.indexed_issuers == publication.issuers.size());
    // The prefixes `path` lies under end where a '/' begins its next segment; longest first, and
    // none longer than a configured one, so a hostile path of many segments costs no more.
    const IssuerSlot* owner = nullptr;
    const std::size_t last =
        path.empty() ? 0 : std::min(path.size() - 1, publication.longest_path_prefix);
    for (std::size_t boundary = last + 1; owner == nullptr && boundary-- > 0;) {
        if (boundary >= path.size() || path[boundary] != '/') continue;
        const auto found = publication.slots_by_prefix.find(path.substr(0, boundary));
        if (found == publication.slots_by_prefix.end()) continue;
        for (const std::size_t index : found->second) {
            if (host_matches_issuer(publication.issuers[index].issuer, host)) {
                owner = &publication.issuers[index];
                break;
            }
        }
    }
    if (owner == nullptr) return {};
    const IssuerSlot& slot = *owner;
    const IssuerPublication* published = slot.published.get();
    if (published != nullptr) {
        if (path == published->jwks_path) return {RouteKind::Jwks, &slot, &published->jwks};
        if (path == slot.discovery_path)
            return {RouteKind::Discovery, &slot, &published->discovery};
    } else if (path == slot.discovery_path || path == slot.default_jwks_path) {
        return {RouteKind::NotReady, &slot, nullptr};
    }
    return {};
}

std::string jwks_path_conflict(const Publication& publication, const IssuerUrl& issuer,
                               std::string_view jwks_path) {
    for (const IssuerSlot& slot : publication.issuers) {
        const IssuerUrl& other = slot.issuer;
        if (other.text == issuer.text || other.host != issuer.host || other.port != issuer.port) {
            continue;
        }
        // What another issuer has published is not consulted: a pair that claimed this path
        // first must not lock its rightful issuer out.
        const bool other_document =
            jwks_path == slot.discovery_path || jwks_path == slot.default_jwks_path;
        if (other_document) {
            return "jwks_uri path \"" + std::string(jwks_path) +
                   "\" is a document path of issuer \"" + other.text + "\", not of issuer \"" +
                   issuer.text + "\"";
        }
        if (other.path_prefix.size() > issuer.path_prefix.size() &&
            lies_under(other.path_prefix, jwks_path)) {
            return "jwks_uri path \"" + std::string(jwks_path) + "\" lies under issuer \"" +
                   other.text + "\", not under issuer \"" + issuer.text + "\" alone";
        }
    }
    return {};
}

std::vector<std::string> withdraw_conflicting_pairs(Publication& publication) {
    std::vector<std::string> withdrawn;
    for (IssuerSlot& slot : publication.issuers) {
        if (!slot.published) continue;
        const std::string conflict =
            jwks_path_conflict(publication, slot.issuer, slot.published->jwks_path);
        if (conflict.empty()) continue;
        withdrawn.push_back(slot.issuer.text + ": " + conflict);
        slot.published.reset();
    }
    return withdrawn;
}

}  // namespace oidcgw
