// The public side's whole behaviour for one parsed request: route, check method and
// preconditions, and append the prebuilt response bytes. No I/O, so it is unit-tested directly.
#pragma once

#include "edge/http_request.h"
#include "publish/publication.h"

#include <string>
#include <string_view>

namespace oidcgw {

struct PublicResponseInfo {
    int status = 0;
    RouteKind route = RouteKind::NotFound;
    const IssuerSlot* slot = nullptr;
    std::size_t body_bytes = 0;  // body bytes in the response (0 for HEAD, 204, 304)
};

// Appends the response to `out`; returns whether the connection may stay open.
bool respond_to_public_request(const Publication& publication, const Request& request,
                               std::string_view date, std::string& out,
                               PublicResponseInfo* info = nullptr);

// For requests the parser refused (400, 414, 417, 431, 505): a fixed body, then close.
// Returns the bytes of the error's body (for the access log).
std::size_t respond_to_public_parse_error(int status, std::string_view date, std::string& out);

// If-None-Match evaluation (RFC 9110 13.1.2, weak comparison): "*" or any listed tag matches.
bool if_none_match_matches(std::string_view header_value, std::string_view etag);

}  // namespace oidcgw
