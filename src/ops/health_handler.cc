#include "ops/health_handler.h"

#include "edge/http_response.h"

#include <ctime>

namespace oidcgw {

bool HealthRequestHandler::ready(std::string* explanation) const {
    const auto publication = snapshot_.load();
    bool all_ready = true;
    std::string text;
    const std::int64_t now = std::time(nullptr);
    for (const IssuerSlot& slot : publication->issuers) {
        if (slot.published && publication->stale(slot, now)) {
            // Still served (unless serve_stale is false), but a load balancer should prefer a
            // fresher instance.
            all_ready = false;
            text += "stale: " + slot.issuer.text +
                    ": no upstream has confirmed the documents for " +
                    std::to_string(now - slot.confirmed_at->load()) + "s (max_stale " +
                    std::to_string(publication->max_stale.count()) + "s)\n";
            continue;
        }
        if (slot.published) {
            text += "ok: " + slot.issuer.text + "\n";
            continue;
        }
        all_ready = false;
        text += "not ready: " + slot.issuer.text + ": no validated documents yet";
        const auto status = status_.get(slot.issuer.text);
        if (status && !status->last_error.empty()) {
            text += " (last error: " + status->last_error + ")";
        }
        text += "\n";
    }
    if (renderers_.certificate_ready) {
        std::string reason;
        if (renderers_.certificate_ready(&reason)) {
            text += "ok: acme certificate\n";
        } else {
            all_ready = false;
            text += "not ready: acme: " + reason + "\n";
        }
    }
    *explanation = std::move(text);
    return all_ready;
}

const std::string& HealthRequestHandler::rendered(RenderedBody& cache,
                                                  const std::function<std::string()>& render) {
    const auto now = std::chrono::steady_clock::now();
    if (!cache.valid || now - cache.rendered_at >= kRenderInterval) {
        cache.body = render();
        cache.rendered_at = now;
        cache.valid = true;
        if (renderers_.renders != nullptr) renderers_.renders->increment();
    }
    return cache.body;
}

bool HealthRequestHandler::respond(const Request& request, std::string_view date, std::string_view,
                                   std::string& out) {
    SimpleResponse response;
    response.keep_alive = request.keep_alive;
    response.http10_keep_alive = request.version == HttpVersion::Http10;
    response.include_body = request.method != Method::Head;
    const bool known = request.path == "/healthz" || request.path == "/readyz" ||
                       (request.path == "/metrics" && renderers_.metrics) ||
                       (request.path == "/status" && renderers_.status);
    std::string body;
    if (!known) {
        response.status = 404;
        body = "Not Found\n";
    } else if (request.method != Method::Get && request.method != Method::Head) {
        response.status = 405;
        response.extra_fields = "Allow: GET, HEAD\r\n";
        body = "Method Not Allowed\n";
    } else if (request.path == "/healthz") {
        const std::vector<std::string> stalled =
            renderers_.stalled_loops ? renderers_.stalled_loops() : std::vector<std::string>{};
        if (stalled.empty()) {
            response.status = 200;
            body = "ok\n";
        } else {
            response.status = 503;
            for (const std::string& loop : stalled) body += "stalled: " + loop + "\n";
        }
    } else if (request.path == "/readyz") {
        response.status = ready(&body) ? 200 : 503;
    } else if (request.path == "/metrics") {
        response.status = 200;
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        response.body = rendered(metrics_body_, renderers_.metrics);  // no copy of the text
    } else {
        response.status = 200;
        response.content_type = "application/json";
        response.body = rendered(status_body_, renderers_.status);
    }
    if (response.status >= 400 && response.status != 503) response.keep_alive = false;
    if (response.body.empty()) response.body = body;
    append_simple_response(out, response, date);
    return response.keep_alive;
}

void HealthRequestHandler::respond_to_parse_error(const ParseResult& refused, std::string_view date,
                                                  std::string_view /*client*/, std::string& out) {
    SimpleResponse response;
    response.status = refused.error_status;
    response.body = status_reason(refused.error_status);
    append_simple_response(out, response, date);
}

}  // namespace oidcgw
