#include "edge/admission_control.h"

#include <algorithm>

namespace oidcgw {
namespace {

// Past this many tracked addresses, those with nothing open and a full bucket are dropped.
constexpr std::size_t kSweepThreshold = 65'536;

}  // namespace

void AdmissionControl::set_limits(const ConnectionLimits& limits) {
    std::lock_guard lock(mutex_);
    limits_ = limits;
}

AdmissionControl::Verdict AdmissionControl::admit(const IpAddress& client,
                                                  std::chrono::steady_clock::time_point now,
                                                  IpAddress* counted_as) {
    std::lock_guard lock(mutex_);
    *counted_as = client.ipv6 ? client.masked(limits_.ipv6_prefix_length) : client;
    if (clients_.size() >= kSweepThreshold) forget_idle_clients(now);
    auto [entry, created] = clients_.try_emplace(*counted_as);
    Client& state = entry->second;
    const double rate = limits_.new_connections_per_ip_per_second;
    if (created) {
        state.tokens = rate;
    } else {
        const double elapsed = std::chrono::duration<double>(now - state.refilled).count();
        state.tokens = std::min(rate, state.tokens + elapsed * rate);
    }
    state.refilled = now;
    if (state.open >= limits_.max_connections_per_ip) return Verdict::TooManyFromClient;
    if (state.tokens < 1.0) return Verdict::TooFast;
    // Checked last: on TooManyTotal the loop evicts an idle connection to make room, which only
    // a client that would otherwise be let in may cause.
    if (open_ >= limits_.max_connections) return Verdict::TooManyTotal;
    state.tokens -= 1.0;
    ++state.open;
    ++open_;
    return Verdict::Admit;
}

void AdmissionControl::release(const IpAddress& counted_as) {
    std::lock_guard lock(mutex_);
    auto found = clients_.find(counted_as);
    if (found == clients_.end() || found->second.open == 0) return;
    --found->second.open;
    --open_;
}

void AdmissionControl::forget_idle_clients(std::chrono::steady_clock::time_point now) {
    const double rate = limits_.new_connections_per_ip_per_second;
    std::erase_if(clients_, [&](const auto& entry) {
        const Client& state = entry.second;
        const double elapsed = std::chrono::duration<double>(now - state.refilled).count();
        return state.open == 0 && state.tokens + elapsed * rate >= rate;
    });
}

bool AdmissionControl::admit_unnamed() {
    std::lock_guard lock(mutex_);
    if (open_ >= limits_.max_connections) return false;
    ++open_;
    return true;
}

void AdmissionControl::release_unnamed() {
    std::lock_guard lock(mutex_);
    if (open_ > 0) --open_;
}

unsigned AdmissionControl::open() const {
    std::lock_guard lock(mutex_);
    return open_;
}

std::size_t AdmissionControl::tracked_clients() const {
    std::lock_guard lock(mutex_);
    return clients_.size();
}

}  // namespace oidcgw
