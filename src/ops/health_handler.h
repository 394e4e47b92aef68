// What the health listener serves: the private health endpoints (the public documents are
// edge/public_handler.h).
#pragma once

#include "common/metrics.h"
#include "edge/server_loop.h"
#include "publish/published_snapshot.h"
#include "upstream/issuer_status.h"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace oidcgw {

// GET/HEAD /healthz: 200 while the process runs and every event loop is live, else 503 naming
// the stalled loops. /readyz: 200 when every issuer has a validated
// pair (from an upstream or the disk cache) and, with tls.acme, the ACME certificate is served,
// else 503 naming what is missing. /metrics and
// /status: whatever the gateway's renderers produce.
class HealthRequestHandler final : public RequestHandler {
  public:
    struct Renderers {
        std::function<std::string()> metrics;  // Prometheus text
        std::function<std::string()> status;   // JSON
        // The event loops stuck now, by name; /healthz answers 503 naming them.
        std::function<std::vector<std::string>()> stalled_loops;
        Counter* renders;  // counts renders of /metrics and /status (may be null)
        // With tls.acme: whether the ACME certificate is served, and if not, why.
        std::function<bool(std::string*)> certificate_ready;
    };

    HealthRequestHandler(const PublishedSnapshot& snapshot, const IssuerStatusBoard& status,
                         Renderers renderers = {})
        : snapshot_(snapshot), status_(status), renderers_(std::move(renderers)) {}
    bool respond(const Request& request, std::string_view date, std::string_view client,
                 std::string& out) override;
    void respond_to_parse_error(const ParseResult& refused, std::string_view date,
                                std::string_view client, std::string& out) override;

    // The /readyz verdict and its text.
    bool ready(std::string* explanation) const;

    // /metrics and /status are rendered at most once per this interval; requests within it get
    // the same bytes, so a flood of them costs copies, not renders, and /healthz stays prompt.
    static constexpr std::chrono::milliseconds kRenderInterval{1000};

  private:
    struct RenderedBody {
        std::string body;
        std::chrono::steady_clock::time_point rendered_at{};
        bool valid = false;
    };
    const std::string& rendered(RenderedBody& cache, const std::function<std::string()>& render);

    const PublishedSnapshot& snapshot_;
    const IssuerStatusBoard& status_;
    Renderers renderers_;
    RenderedBody metrics_body_;
    RenderedBody status_body_;
};

}  // namespace oidcgw
