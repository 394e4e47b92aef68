#include "edge/public_handler.h"

#include "edge/public_responder.h"

namespace oidcgw {
namespace {

enum Document { kNone = 0, kDiscovery = 1, kJwks = 2 };

constexpr std::string_view kDocumentLabels[] = {"none", "discovery", "jwks"};

}  // namespace

void PublicRequestHandler::count(const IssuerSlot* slot, int document, int status) {
    if (reader_.generation() != counters_generation_) {
        counters_.clear();
        counters_generation_ = reader_.generation();
    }
    const CounterKey key{slot, document, status};
    auto found = counters_.find(key);
    if (found == counters_.end()) {
        Counter& counter =
            metrics_.counter("oidc_gateway_requests_total",
                             "Public requests answered, by issuer, document and status.",
                             {{"issuer", slot != nullptr ? slot->issuer.text : std::string()},
                              {"document", std::string(kDocumentLabels[document])},
                              {"status", std::to_string(status)}});
        found = counters_.emplace(key, &counter).first;
    }
    found->second->increment();
}

bool PublicRequestHandler::respond(const Request& request, std::string_view date,
                                   std::string_view client, std::string& out) {
    PublicResponseInfo info;
    const Publication& publication = reader_.current();
    const bool keep_alive = respond_to_public_request(publication, request, date, out, &info);
    int document = kNone;
    if (info.route == RouteKind::Discovery) {
        document = kDiscovery;
    } else if (info.route == RouteKind::Jwks) {
        document = kJwks;
    } else if (info.route == RouteKind::NotReady) {
        document = request.path == info.slot->discovery_path ? kDiscovery : kJwks;
    }
    count(info.slot, document, info.status);
    if (access_log_.enabled()) {
        access_log_.record(AccessRecord{
            client, request.method_token, request.target, info.status, info.body_bytes,
            info.slot != nullptr ? std::string_view(info.slot->issuer.text) : std::string_view(),
            std::string_view()});
    }
    return keep_alive;
}

void PublicRequestHandler::respond_to_parse_error(const ParseResult& refused, std::string_view date,
                                                  std::string_view client, std::string& out) {
    const std::size_t body_bytes = respond_to_public_parse_error(refused.error_status, date, out);
    reader_.current();  // keeps the counter cache's generation in step
    count(nullptr, kNone, refused.error_status);
    // The lines a defender wants most: the method and target only as far as they were read,
    // escaped and cut by the logger and the access log like any other.
    if (access_log_.enabled()) {
        access_log_.record(AccessRecord{client, refused.request.method_token,
                                        refused.request.target, refused.error_status, body_bytes,
                                        std::string_view(), refused.error_reason});
    }
}

}  // namespace oidcgw
