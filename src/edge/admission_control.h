// Who may open a connection: a global cap, a per-client cap, and a per-client rate (token
// bucket), where an IPv6 client is its /64 (limits.ipv6_prefix_length), since one host owns one.
// Consulted at accept, before any TLS work, by every worker; not on the request path, so one mutex
// is enough.
#pragma once

#include "common/ip_address.h"
#include "config/config.h"

#include <chrono>
#include <mutex>
#include <unordered_map>

namespace oidcgw {

class AdmissionControl {
  public:
    enum class Verdict { Admit, TooManyTotal, TooManyFromClient, TooFast };

    explicit AdmissionControl(ConnectionLimits limits) : limits_(limits) {}

    void set_limits(const ConnectionLimits& limits);  // a reload; applies to new connections

    // On Admit the connection is counted under *counted_as (the client itself, or for IPv6 its
    // limits.ipv6_prefix_length prefix) until release(*counted_as).
    Verdict admit(const IpAddress& client, std::chrono::steady_clock::time_point now,
                  IpAddress* counted_as);
    void release(const IpAddress& counted_as);
    // A connection whose client is not named yet (waiting for its PROXY header): counted against
    // max_connections only, until release_unnamed(); false when that is full.
    bool admit_unnamed();
    void release_unnamed();

    unsigned open() const;
    std::size_t tracked_clients() const;

  private:
    struct Client {
        unsigned open = 0;
        double tokens = 0;  // new connections still allowed now
        std::chrono::steady_clock::time_point refilled{};
    };
    void forget_idle_clients(std::chrono::steady_clock::time_point now);

    mutable std::mutex mutex_;
    ConnectionLimits limits_;
    unsigned open_ = 0;
    std::unordered_map<IpAddress, Client, IpAddressHash> clients_;
};

}  // namespace oidcgw
