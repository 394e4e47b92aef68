#include "publication.h"

#include "digest.h"
#include "http_date.h"

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
    publication->jwks_path = documents.discovery.jwks_path;
    publication->discovery =
        build_document_response(documents.discovery_body, documents.discovery_modified, max_age);
    publication->jwks =
        build_document_response(documents.jwks_body, documents.jwks_modified, max_age);
    publication->documents = std::move(documents);
    return publication;
}

RouteResult route_request(const Publication& publication, std::string_view host,
                          std::string_view path) {
    for (const IssuerSlot& slot : publication.issuers) {
        if (!host_matches_issuer(slot.issuer, host)) continue;
        const IssuerPublication* published = slot.published.get();
        if (published != nullptr) {
            if (path == published->jwks_path) return {RouteKind::Jwks, &slot, &published->jwks};
            if (path == slot.discovery_path) {
                return {RouteKind::Discovery, &slot, &published->discovery};
            }
        } else if (path == slot.discovery_path || path == slot.default_jwks_path) {
            return {RouteKind::NotReady, &slot, nullptr};
        }
    }
    return {};
}

}  // namespace oidcgw
