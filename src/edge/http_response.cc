#include "edge/http_response.h"

namespace oidcgw {

std::string_view status_reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 414:
            return "URI Too Long";
        case 417:
            return "Expectation Failed";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Error";
    }
}

void append_status_and_date(std::string& out, int status, std::string_view date) {
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += status_reason(status);
    out += "\r\nDate: ";
    out += date;
    out += "\r\n";
}

void append_connection_and_end(std::string& out, bool keep_alive, bool http10_keep_alive) {
    if (!keep_alive) {
        out += "Connection: close\r\n";
    } else if (http10_keep_alive) {
        out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
}

void append_simple_response(std::string& out, const SimpleResponse& response,
                            std::string_view date) {
    append_status_and_date(out, response.status, date);
    if (!response.body.empty() || response.status != 204) {
        out += "Content-Type: ";
        out += response.content_type;
        out += "\r\nContent-Length: ";
        out += std::to_string(response.body.size());
        out += "\r\n";
    }
    out += response.extra_fields;
    append_connection_and_end(out, response.keep_alive,
                              response.keep_alive && response.http10_keep_alive);
    if (response.include_body) out += response.body;
}

}  // namespace oidcgw
