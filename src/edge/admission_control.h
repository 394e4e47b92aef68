// Who may open a connection: a global cap, a per-client-address cap, and a per-address rate
// (token bucket). Consulted at accept, before any TLS work, by every worker; not on the request
// path, so one mutex is enough.
#pragma once

#include "config/config.h"

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace oidcgw {

class AdmissionControl {
  public:
    enum class Verdict { Admit, TooManyTotal, TooManyFromClient, TooFast };

    explicit AdmissionControl(ConnectionLimits limits) : limits_(limits) {}

    void set_limits(const ConnectionLimits& limits);  // a reload; applies to new connections

    // On Admit the connection is counted until release(client).
    Verdict admit(std::string_view client, std::chrono::steady_clock::time_point now);
    void release(std::string_view client);

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
    std::unordered_map<std::string, Client> clients_;
};

}  // namespace oidcgw
