// Shared by the HTTP head parser's unit tests (http_request_test.cc, http_request_table_test.cc):
// small limits, request builders and a view check.
#pragma once

#include "edge/http_request.h"

#include <string>
#include <string_view>

namespace oidcgw::testing {

// Small limits so that limit rows stay short. The fuzz target parses with the same numbers.
inline constexpr RequestLimits kTightLimits{
    .max_head_bytes = 128, .max_request_line_bytes = 32, .max_header_count = 4};

inline constexpr std::string_view kMinimalGet = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

// A GET for "/" with a valid Host followed by `fields` (each ending in CRLF).
inline std::string get_with(std::string_view fields) {
    return std::string("GET / HTTP/1.1\r\nHost: example.com\r\n") + std::string(fields) + "\r\n";
}

inline std::string get_with_host(std::string_view host_value) {
    return std::string("GET / HTTP/1.1\r\nHost: ") + std::string(host_value) + "\r\n\r\n";
}

inline std::string get_with_request_line(std::string_view request_line) {
    return std::string(request_line) + "\r\nHost: example.com\r\n\r\n";
}

inline bool lies_within(std::string_view part, std::string_view whole) {
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace oidcgw::testing
