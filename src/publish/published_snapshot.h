// The one shared piece of state on the request path: the current Publication. Writers swap in a
// new immutable Publication; each worker keeps its own reference and only touches the lock when
// the generation counter says something changed, so requests never wait on a refresh.
#pragma once

#include "publish/publication.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace oidcgw {

class PublishedSnapshot {
  public:
    explicit PublishedSnapshot(std::shared_ptr<const Publication> initial);

    std::shared_ptr<const Publication> load() const;
    std::uint64_t generation() const noexcept {
        return generation_.load(std::memory_order_acquire);
    }

    // Replaces the publication wholesale (reload).
    void publish(std::shared_ptr<const Publication> next);

    // Derives the next publication from the current one; concurrent updaters are serialised so
    // that two issuers refreshing at once cannot lose each other's change.
    void update(
        const std::function<std::shared_ptr<const Publication>(const Publication&)>& change);

    // A worker's view: cheap to consult per request.
    class Reader {
      public:
        explicit Reader(const PublishedSnapshot& source) : source_(source) {}
        const Publication& current() {
            const std::uint64_t latest = source_.generation();
            if (latest != seen_generation_ || !cached_) {
                cached_ = source_.load();
                seen_generation_ = latest;
            }
            return *cached_;
        }

        // The generation of the publication current() last returned.
        std::uint64_t generation() const { return seen_generation_; }

      private:
        const PublishedSnapshot& source_;
        std::uint64_t seen_generation_ = 0;
        std::shared_ptr<const Publication> cached_;
    };

  private:
    mutable std::mutex current_mutex_;
    std::mutex update_mutex_;
    std::shared_ptr<const Publication> current_;
    std::atomic<std::uint64_t> generation_{1};
};

}  // namespace oidcgw
