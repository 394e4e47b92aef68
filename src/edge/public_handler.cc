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
            info.slot != nullptr ? std::string_view(info.slot->issuer.text) : std::string_view()});
    }
    return keep_alive;
}

void PublicRequestHandler::respond_to_parse_error(int status, std::string_view date,
                                                  std::string& out) {
    respond_to_public_parse_error(status, date, out);
    reader_.current();  // keeps the counter cache's generation in step
    count(nullptr, kNone, status);
}

}  // namespace oidcgw
