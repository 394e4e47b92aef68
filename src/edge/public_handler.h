// What a public listener serves: the published documents, counted and access-logged (the health
// endpoints are ops/health_handler.h).
#pragma once

#include "common/metrics.h"
#include "edge/access_log.h"
#include "edge/server_loop.h"
#include "publish/published_snapshot.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>

namespace oidcgw {

// One per worker: it keeps the worker's own view of the published snapshot and its own cache of
// request counters, so counting a request is a hash lookup and a relaxed atomic add.
class PublicRequestHandler final : public RequestHandler {
  public:
    PublicRequestHandler(const PublishedSnapshot& snapshot, MetricsRegistry& metrics,
                         AccessLog& access_log)
        : reader_(snapshot), metrics_(metrics), access_log_(access_log) {}
    bool respond(const Request& request, std::string_view date, std::string_view client,
                 std::string& out) override;
    // Answers and counts the refusal; with the access log on, logs it with the parser's reason.
    void respond_to_parse_error(const ParseResult& refused, std::string_view date,
                                std::string_view client, std::string& out) override;

  private:
    struct CounterKey {
        const IssuerSlot* slot;
        int document;
        int status;
        bool operator==(const CounterKey&) const = default;
    };
    struct CounterKeyHash {
        std::size_t operator()(const CounterKey& key) const noexcept {
            return std::hash<const void*>()(key.slot) ^
                   (static_cast<std::size_t>(key.document) << 20) ^
                   static_cast<std::size_t>(key.status);
        }
    };
    void count(const IssuerSlot* slot, int document, int status);

    PublishedSnapshot::Reader reader_;
    MetricsRegistry& metrics_;
    AccessLog& access_log_;
    std::uint64_t counters_generation_ = 0;  // slot pointers are valid for one publication
    std::unordered_map<CounterKey, Counter*, CounterKeyHash> counters_;
};

}  // namespace oidcgw
