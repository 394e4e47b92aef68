// What the public side serves: an immutable set of prebuilt responses, one per (issuer, document).
// Built once when a document pair is accepted, so a request only copies bytes.
#pragma once

#include "config/issuer_url.h"
#include "publish/document_validation.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace oidcgw {

// A validated discovery/JWKS pair of one issuer, with the facts persisted beside it.
struct AcceptedDocuments {
    std::string discovery_body;          // the upstream's exact bytes
    std::string jwks_body;               // the upstream's exact bytes
    std::time_t discovery_modified = 0;  // when these discovery bytes were first accepted
    std::time_t jwks_modified = 0;       // when these JWKS bytes were first accepted
    std::time_t confirmed_at = 0;        // when an upstream last served exactly these bytes
    DiscoveryInfo discovery;
    JwksInfo jwks;
};

// Validates a pair as one unit (size cap, discovery rules, JWKS rules). Times are left as given.
std::optional<AcceptedDocuments> accept_document_pair(const IssuerUrl& issuer,
                                                      std::string discovery_body,
                                                      std::string jwks_body,
                                                      std::size_t max_document_bytes,
                                                      Rejection* rejection);

struct DocumentResponse {
    std::string body;
    std::string etag;  // strong, quoted
    std::time_t last_modified = 0;
    std::string fields_200;  // header fields that follow Date in a 200, each ending in CRLF
    std::string fields_304;  // header fields that follow Date in a 304
};

struct IssuerPublication {
    AcceptedDocuments documents;
    std::chrono::seconds max_age{0};  // the Cache-Control max-age the responses were built with
    std::string jwks_path;
    DocumentResponse discovery;
    DocumentResponse jwks;
};

std::shared_ptr<const IssuerPublication> build_issuer_publication(AcceptedDocuments documents,
                                                                  std::chrono::seconds max_age);

struct IssuerSlot {
    explicit IssuerSlot(IssuerUrl url)
        : issuer(std::move(url)),
          discovery_path(issuer.discovery_path()),
          default_jwks_path(issuer.default_jwks_path()) {}

    IssuerUrl issuer;
    std::string discovery_path;     // precomputed: routing runs per request
    std::string default_jwks_path;  // answers 503 until the first pair names the real one
    std::shared_ptr<const IssuerPublication> published;  // null until a pair is accepted
    // When an upstream last vouched for the published pair (Unix time). Shared by every copy of
    // the slot, so a refresh that changes nothing updates it without republishing.
    std::shared_ptr<std::atomic<std::int64_t>> confirmed_at =
        std::make_shared<std::atomic<std::int64_t>>(0);
};

// Which issuers a path prefix belongs to, so routing looks at the prefixes of the request path
// (a handful) instead of at every configured issuer.
struct TransparentStringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const {
        return std::hash<std::string_view>{}(text);
    }
};
using SlotsByPrefix = std::unordered_map<std::string, std::vector<std::size_t>,
                                         TransparentStringHash, std::equal_to<>>;

struct Publication {
    // In configuration order. Add with add_issuer, which keeps the route index; a slot's
    // `published` may be replaced in place.
    std::vector<IssuerSlot> issuers;
    SlotsByPrefix slots_by_prefix;        // path_prefix -> indexes into issuers, in order
    std::size_t longest_path_prefix = 0;  // bytes
    std::size_t indexed_issuers = 0;      // how many add_issuer put in the index
    std::chrono::seconds max_stale{24 * 3600};
    bool serve_stale = true;  // false: a pair not confirmed within max_stale answers 503

    void add_issuer(IssuerSlot slot);

    // True when `slot`'s pair was last confirmed longer than max_stale before `now`.
    bool stale(const IssuerSlot& slot, std::int64_t now) const {
        return now - slot.confirmed_at->load(std::memory_order_relaxed) > max_stale.count();
    }
};

enum class RouteKind { Discovery, Jwks, NotReady, NotFound };

struct RouteResult {
    RouteKind kind = RouteKind::NotFound;
    const IssuerSlot* slot = nullptr;            // for all but NotFound
    const DocumentResponse* document = nullptr;  // for Discovery and Jwks
};

// Matches Host (see host_matches_issuer) and the exact path bytes; nothing is decoded or
// normalised, so "/.well-known/%6Awks.json" or "//.well-known/jwks.json" are simply not found.
// A path belongs to the issuer of that authority with the longest path prefix it lies under, and
// only that issuer's documents are looked at: configuration order never decides which issuer a
// path serves.
RouteResult route_request(const Publication& publication, std::string_view host,
                          std::string_view path);

// Why `issuer` may not publish its JWKS at `jwks_path` ("" when it may): the path is another
// configured issuer's discovery or JWKS path, or lies under the longer path of another issuer on
// the same host and port (whose clients would then get this issuer's keys). Names both issuers.
std::string jwks_path_conflict(const Publication& publication, const IssuerUrl& issuer,
                               std::string_view jwks_path);

// Unpublishes every pair whose JWKS path conflicts (see jwks_path_conflict) with the issuers now
// configured, as a cached pair or one published before a reload added an issuer may. Returns
// one "issuer: reason" line per pair withdrawn.
std::vector<std::string> withdraw_conflicting_pairs(Publication& publication);

}  // namespace oidcgw
