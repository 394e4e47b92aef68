// Small fixed responses. Bodies are constants: nothing from a request is ever echoed back.
#pragma once

#include <string>
#include <string_view>

namespace oidcgw {

std::string_view status_reason(int status);

struct SimpleResponse {
    int status = 200;
    std::string_view content_type = "text/plain; charset=utf-8";
    std::string_view body;
    std::string_view extra_fields;  // complete header lines, each ending in CRLF
    bool include_body = true;       // false for HEAD
    bool keep_alive = false;
    bool http10_keep_alive = false;  // say "Connection: keep-alive" (HTTP/1.0 clients need it)
};

// Appends status line, Date, the fields, Content-Length, Connection and the body to `out`.
void append_simple_response(std::string& out, const SimpleResponse& response,
                            std::string_view date);

// The status line and Date field of every response.
void append_status_and_date(std::string& out, int status, std::string_view date);

// "Connection: close" / "Connection: keep-alive" / nothing, then the blank line.
void append_connection_and_end(std::string& out, bool keep_alive, bool http10_keep_alive);

}  // namespace oidcgw
