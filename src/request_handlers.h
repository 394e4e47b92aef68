// The two things a listener can serve: the public documents, or the private health endpoints.
#pragma once

#include "issuer_status.h"
#include "published_snapshot.h"
#include "server_loop.h"

namespace oidcgw {

// One per worker: it keeps the worker's own view of the published snapshot.
class PublicRequestHandler final : public RequestHandler {
  public:
    explicit PublicRequestHandler(const PublishedSnapshot& snapshot) : reader_(snapshot) {}
    bool respond(const Request& request, std::string_view date, std::string& out) override;
    void respond_to_parse_error(int status, std::string_view date, std::string& out) override;

  private:
    PublishedSnapshot::Reader reader_;
};

// GET/HEAD /healthz: 200 while the process runs. GET/HEAD /readyz: 200 when every issuer has a
// validated pair (from an upstream or the disk cache), else 503 naming what is missing.
class HealthRequestHandler final : public RequestHandler {
  public:
    HealthRequestHandler(const PublishedSnapshot& snapshot, const IssuerStatusBoard& status)
        : snapshot_(snapshot), status_(status) {}
    bool respond(const Request& request, std::string_view date, std::string& out) override;
    void respond_to_parse_error(int status, std::string_view date, std::string& out) override;

    // The /readyz verdict and its text (also used by tests).
    bool ready(std::string* explanation) const;

  private:
    const PublishedSnapshot& snapshot_;
    const IssuerStatusBoard& status_;
};

}  // namespace oidcgw
