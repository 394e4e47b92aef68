#include "edge/public_responder.h"

#include "common/http_date.h"
#include "edge/http_response.h"

#include <ctime>

namespace oidcgw {
namespace {

constexpr std::string_view kSecurityFields =
    "X-Content-Type-Options: nosniff\r\n"
    "Strict-Transport-Security: max-age=63072000\r\n";

std::string_view error_body(int status) {
    switch (status) {
        case 400:
            return "Bad Request\n";
        case 404:
            return "Not Found\n";
        case 405:
            return "Method Not Allowed\n";
        case 414:
            return "URI Too Long\n";
        case 417:
            return "Expectation Failed\n";
        case 431:
            return "Request Header Fields Too Large\n";
        case 503:
            return "Service Unavailable: no validated document yet\n";
        case 505:
            return "HTTP Version Not Supported\n";
        default:
            return "Error\n";
    }
}

void append_error(std::string& out, int status, std::string_view date, bool head_only) {
    std::string fields(kSecurityFields);
    if (status == 405) fields += "Allow: GET, HEAD, OPTIONS\r\n";
    if (status == 503) fields += "Retry-After: 10\r\n";
    SimpleResponse response;
    response.status = status;
    response.body = error_body(status);
    response.extra_fields = fields;
    response.include_body = !head_only;
    response.keep_alive = false;
    append_simple_response(out, response, date);
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool not_modified(const Request& request, const DocumentResponse& document) {
    if (request.has_if_none_match) {
        return if_none_match_matches(request.if_none_match, document.etag);
    }
    if (request.has_if_modified_since) {
        const auto since = parse_http_date(request.if_modified_since);
        return since && document.last_modified <= *since;
    }
    return false;
}

}  // namespace

bool if_none_match_matches(std::string_view header_value, std::string_view etag) {
    std::string_view rest = header_value;
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        std::string_view candidate = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (candidate == "*") return true;
        if (candidate.starts_with("W/")) candidate.remove_prefix(2);
        if (candidate == etag) return true;
    }
    return false;
}

bool respond_to_public_request(const Publication& publication, const Request& request,
                               std::string_view date, std::string& out, PublicResponseInfo* info) {
    const RouteResult route = route_request(publication, request.host, request.path);
    const bool head_only = request.method == Method::Head;
    int status = 0;
    bool keep_alive = request.keep_alive;
    const bool http10_keep_alive = request.version == HttpVersion::Http10;

    if (route.kind == RouteKind::NotFound) {
        status = 404;
    } else if (request.method == Method::Other) {
        status = 405;
    } else if (request.method == Method::Options) {
        status = 204;
        append_status_and_date(out, status, date);
        out +=
            "Allow: GET, HEAD, OPTIONS\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
            "Access-Control-Max-Age: 86400\r\n";
        out += kSecurityFields;
        append_connection_and_end(out, keep_alive, http10_keep_alive);
    } else if (route.kind == RouteKind::NotReady ||
               (!publication.serve_stale && publication.stale(*route.slot, std::time(nullptr)))) {
        status = 503;
    } else if (not_modified(request, *route.document)) {
        status = 304;
        append_status_and_date(out, status, date);
        out += route.document->fields_304;
        append_connection_and_end(out, keep_alive, http10_keep_alive);
    } else {
        status = 200;
        append_status_and_date(out, status, date);
        out += route.document->fields_200;
        append_connection_and_end(out, keep_alive, http10_keep_alive);
        if (!head_only) out += route.document->body;
    }

    std::size_t body_bytes = 0;
    if (status >= 400) {
        append_error(out, status, date, head_only);
        keep_alive = false;
        if (!head_only) body_bytes = error_body(status).size();
    } else if (status == 200 && !head_only) {
        body_bytes = route.document->body.size();
    }
    if (info != nullptr) *info = {status, route.kind, route.slot, body_bytes};
    return keep_alive;
}

std::size_t respond_to_public_parse_error(int status, std::string_view date, std::string& out) {
    append_error(out, status, date, false);
    return error_body(status).size();
}

}  // namespace oidcgw
