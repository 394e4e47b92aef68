// The public side's request parser: pure (bytes in, a Request or an error out), no I/O, no
// allocation. Everything it returns points into the caller's buffer. It accepts only what the
// gateway serves, so anything unusual is an error rather than something to interpret.
#pragma once

#include <cstddef>
#include <string_view>

namespace oidcgw {

enum class Method { Get, Head, Options, Other };
enum class HttpVersion { Http10, Http11 };

struct RequestLimits {
    std::size_t max_head_bytes = 8192;          // whole head incl. the final CRLFCRLF; over: 431
    std::size_t max_request_line_bytes = 4096;  // request line without CRLF; over: 414
    std::size_t max_header_count = 64;          // over: 431
};

struct Request {
    Method method = Method::Other;
    std::string_view method_token;  // as sent, e.g. "GET" or "POST"
    std::string_view target;        // origin-form target as sent: path plus optional "?query"
    std::string_view path;          // target up to (not including) '?'
    std::string_view query;         // after '?', empty when none
    HttpVersion version = HttpVersion::Http11;
    std::string_view host;   // the single Host header value, OWS trimmed
    bool keep_alive = true;  // from version and Connection tokens; false with a body
    // A method other than GET, HEAD and OPTIONS announced a body (Content-Length above zero, or
    // Transfer-Encoding). It is never read: such a request is answered (405 or 404) and the
    // connection closes, lingering over the body. GET, HEAD and OPTIONS with a body are a 400.
    bool has_body = false;
    bool has_if_none_match = false;
    std::string_view if_none_match;  // value of the If-None-Match header (when exactly one)
    bool has_if_modified_since = false;
    std::string_view if_modified_since;
};

enum class ParseStatus { Complete, Incomplete, Error };

struct ParseResult {
    ParseStatus status = ParseStatus::Incomplete;
    Request request;                // valid when Complete
    std::size_t consumed = 0;       // bytes of head consumed when Complete
    int error_status = 0;           // when Error: 400, 414, 417, 431 or 505
    std::string_view error_reason;  // when Error: static text for logs, never echoes input
};

// Parses one request head from the start of `input`.
ParseResult parse_request(std::string_view input, const RequestLimits& limits = {});

}  // namespace oidcgw
