// How long a connection of the edge may take over each stage. Defined by the edge, which enforces
// them; the configuration's `timeouts` (config/config.h) is this type plus the loop stall
// threshold, so the five durations are declared once.
#pragma once

#include <chrono>

namespace oidcgw {

// Total deadlines, not idle timers: a client sending a byte every few seconds still runs out.
struct ConnectionDeadlines {
    std::chrono::milliseconds handshake{10'000};     // accept to finished TLS handshake
    std::chrono::milliseconds request_head{10'000};  // first byte of a head to its end
    std::chrono::milliseconds keep_alive{30'000};    // idle between requests
    std::chrono::milliseconds write{10'000};         // a response stuck in the socket
    std::chrono::milliseconds linger{2'000};         // discarding input after the last response

    bool operator==(const ConnectionDeadlines&) const = default;
};

}  // namespace oidcgw
