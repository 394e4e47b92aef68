#include "publish/published_snapshot.h"

namespace oidcgw {

PublishedSnapshot::PublishedSnapshot(std::shared_ptr<const Publication> initial)
    : current_(std::move(initial)) {}

std::shared_ptr<const Publication> PublishedSnapshot::load() const {
    std::lock_guard lock(current_mutex_);
    return current_;
}

void PublishedSnapshot::publish(std::shared_ptr<const Publication> next) {
    std::shared_ptr<const Publication> previous;
    {
        std::lock_guard lock(current_mutex_);
        previous = std::move(current_);
        current_ = std::move(next);
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    // `previous` is released here, outside the lock; workers may still hold it until their next
    // request, which is what keeps in-flight responses valid.
}

void PublishedSnapshot::update(
    const std::function<std::shared_ptr<const Publication>(const Publication&)>& change) {
    std::lock_guard serialise(update_mutex_);
    auto next = change(*load());
    if (next) publish(std::move(next));
}

}  // namespace oidcgw
