#include "request_handlers.h"

#include "http_response.h"
#include "public_responder.h"

namespace oidcgw {

bool PublicRequestHandler::respond(const Request& request, std::string_view date,
                                   std::string& out) {
    return respond_to_public_request(reader_.current(), request, date, out);
}

void PublicRequestHandler::respond_to_parse_error(int status, std::string_view date,
                                                  std::string& out) {
    respond_to_public_parse_error(status, date, out);
}

bool HealthRequestHandler::ready(std::string* explanation) const {
    const auto publication = snapshot_.load();
    const auto statuses = status_.all();
    bool all_ready = true;
    std::string text;
    for (std::size_t i = 0; i < publication->issuers.size(); ++i) {
        const IssuerSlot& slot = publication->issuers[i];
        if (slot.published) {
            text += "ok: " + slot.issuer.text + "\n";
            continue;
        }
        all_ready = false;
        text += "not ready: " + slot.issuer.text + ": no validated documents yet";
        for (const IssuerStatus& status : statuses) {
            if (status.issuer == slot.issuer.text && !status.last_error.empty()) {
                text += " (last error: " + status.last_error + ")";
            }
        }
        text += "\n";
    }
    *explanation = std::move(text);
    return all_ready;
}

bool HealthRequestHandler::respond(const Request& request, std::string_view date,
                                   std::string& out) {
    SimpleResponse response;
    response.keep_alive = request.keep_alive;
    response.http10_keep_alive = request.version == HttpVersion::Http10;
    response.include_body = request.method != Method::Head;
    std::string body;
    if (request.path != "/healthz" && request.path != "/readyz") {
        response.status = 404;
        body = "Not Found\n";
    } else if (request.method != Method::Get && request.method != Method::Head) {
        response.status = 405;
        response.extra_fields = "Allow: GET, HEAD\r\n";
        body = "Method Not Allowed\n";
    } else if (request.path == "/healthz") {
        response.status = 200;
        body = "ok\n";
    } else {
        response.status = ready(&body) ? 200 : 503;
    }
    if (response.status >= 400 && response.status != 503) response.keep_alive = false;
    response.body = body;
    append_simple_response(out, response, date);
    return response.keep_alive;
}

void HealthRequestHandler::respond_to_parse_error(int status, std::string_view date,
                                                  std::string& out) {
    SimpleResponse response;
    response.status = status;
    response.body = status_reason(status);
    append_simple_response(out, response, date);
}

}  // namespace oidcgw
