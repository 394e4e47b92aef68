// The state a ServerLoop (edge/server_loop.h) keeps per connection, private to the loop's source
// files: server_loop.cc (listeners, accept, admission, eviction, timers, continuations, stop),
// connection_io.cc (handshake, reads, writes, deadlines) and connection_close.cc (the immediate
// and the lingering close).
#pragma once

#include "edge/server_loop.h"

#include <netinet/in.h>
#include <sys/time.h>

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>

namespace oidcgw {

struct ServerLoop::Connection {
    // ProxyHeader: on a proxy_protocol listener, until the header has named the client.
    enum class Phase { ProxyHeader, Handshake, Open, Lingering };

    ServerLoop* loop = nullptr;
    evutil_socket_t fd = -1;
    SslPtr ssl;  // null on plain-HTTP listeners
    RequestHandler* handler = nullptr;
    char client[INET6_ADDRSTRLEN] = {0};  // the client's address as text, for the access log
    IpAddress admission_key;              // what the admission control counts it under
    EventPtr read_event;
    EventPtr write_event;  // made when a write first has to wait (want_write)
    EventPtr deadline;
    Phase phase = Phase::Open;
    std::string input;   // bytes of a head not yet complete, or unparsed pipelined bytes
    std::string output;  // response bytes the socket has not taken yet
    std::size_t output_sent = 0;
    bool close_after_write = false;
    bool reading_paused = false;
    bool write_armed = false;
    bool read_wants_write = false;
    bool write_deadline_running = false;  // output is waiting; the write deadline is armed
    // The last read stopped for backpressure, not because the socket ran dry: OpenSSL may hold
    // whole records that no socket event will announce.
    bool records_may_wait = false;
    bool continuation_queued = false;
    std::chrono::steady_clock::time_point head_deadline{};  // while head_started
    bool head_started = false;  // a head's first byte arrived; its deadline is running
    bool admitted = false;      // counted by the admission control until closed
    bool unnamed = false;       // counted as unnamed (ProxyHeader phase) until named or closed
    unsigned requests = 0;      // answered on this connection
    bool input_ready = false;   // `input` holds complete requests held back by backpressure
    // Request bytes were left unanswered (a malformed head, data after a final request): closing
    // at once could turn our close into a reset that destroys the response in flight, so the
    // close lingers and reads them away first.
    bool linger_on_close = false;
    bool active_since_sweep = true;  // readable or writable since the last buffer sweep
    bool may_hold_buffers = true;    // active since its buffers were last freed
    std::list<std::unique_ptr<Connection>>::iterator position;

    bool has_pending_output() const { return output_sent < output.size(); }
};

namespace server_loop_internal {

// Pipelined requests are answered until this much output waits; the rest of the input is then
// left unread until the client has taken what it asked for.
inline constexpr std::size_t kMaxBufferedOutput = 256 * 1024;

inline timeval to_timeval(std::chrono::milliseconds duration) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
    return tv;
}

}  // namespace server_loop_internal
}  // namespace oidcgw
