// One event loop on one thread: its own listeners (SO_REUSEPORT sockets), its connections, their
// deadlines. TLS is driven with SSL_read/SSL_write directly on the non-blocking socket, so a
// response leaves in one TLS record and one write; libevent only says when the socket is ready.
#pragma once

#include "common/http_date.h"
#include "common/ip_address.h"
#include "common/logger.h"
#include "common/metrics.h"
#include "common/raii.h"
#include "edge/admission_control.h"
#include "edge/connection_deadlines.h"
#include "edge/http_request.h"
#include "edge/tls_server_context.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

// What a listener serves. Called on the loop's thread only.
class RequestHandler {
  public:
    virtual ~RequestHandler() = default;
    // Appends the complete response to `out`; returns whether the connection may stay open.
    // `client` is the peer's address as text (for the access log).
    virtual bool respond(const Request& request, std::string_view date, std::string_view client,
                         std::string& out) = 0;
    // Appends the response for a request the parser refused (the connection then closes).
    // `refused` is the parser's answer: its status and reason, and the method and target when
    // the request line was read before the refusal (views into the connection's buffer).
    virtual void respond_to_parse_error(const ParseResult& refused, std::string_view date,
                                        std::string_view client, std::string& out) = 0;
};

// Counters shared by every loop of one side (owned by the metrics registry); may be null.
struct LoopCounters {
    Counter* connections_accepted = nullptr;
    Counter* handshake_failures = nullptr;
    Counter* rejected_max_connections = nullptr;
    Counter* rejected_per_ip = nullptr;
    Counter* rejected_rate = nullptr;
    Counter* rejected_descriptors = nullptr;
    // PROXY protocol listeners: a source outside proxy_protocol_from; no header, a broken one,
    // one past the size limits, or none complete within the handshake deadline.
    Counter* rejected_proxy_untrusted = nullptr;
    Counter* rejected_proxy_missing = nullptr;
    Counter* rejected_proxy_malformed = nullptr;
    Counter* rejected_proxy_too_long = nullptr;
    Counter* rejected_proxy_timeout = nullptr;
};

// What a listener serves and how its connections begin.
struct ListenerRole {
    SharedSslCtx tls;                   // null: plain HTTP (the health side)
    RequestHandler* handler = nullptr;  // must outlive the loop
    bool proxy_protocol = false;  // each connection starts with a PROXY header (proxy_header.h)
};

// Who may connect and how long a connection may live; the public side's loops share one
// AdmissionControl (null on the health side: no limits there).
struct LoopPolicy {
    AdmissionControl* admission = nullptr;
    unsigned max_requests_per_connection = 1'000;
    // Refuse a connection that would leave fewer descriptors free than the reserve (a quarter of
    // RLIMIT_NOFILE, at least kDescriptorReserveMinimum): the health side's, so that however
    // many neighbours connect there, the public side, upstream fetches and cache writes still
    // have descriptors.
    bool keep_descriptor_reserve = false;
    // The sources allowed to send a PROXY header (proxy_protocol_from); replaced on reload.
    std::shared_ptr<const std::vector<IpPrefix>> proxy_sources;
};

inline constexpr long kDescriptorReserveMinimum = 64;

class ServerLoop {
  public:
    ServerLoop(std::string name, ConnectionDeadlines deadlines, RequestLimits limits,
               Logger& logger, LoopCounters counters = {}, LoopPolicy policy = {});
    ~ServerLoop();
    ServerLoop(const ServerLoop&) = delete;
    ServerLoop& operator=(const ServerLoop&) = delete;

    // Takes ownership of a listening socket, known afterwards by `key` (its address). Call
    // before run() or, once running, only on the loop's thread (through post()).
    bool add_listener(const std::string& key, int fd, ListenerRole role, std::string* error);
    // A reload's PROXY protocol settings: whether the listener `key` expects the header (for
    // connections from now on), and the trusted sources. Loop thread.
    void set_proxy_protocol(const std::string& key, bool enabled);
    void set_proxy_sources(std::shared_ptr<const std::vector<IpPrefix>> sources) {
        policy_.proxy_sources = std::move(sources);
    }
    // Closes the listener known by `key`; its established connections carry on. Loop thread.
    void remove_listener(const std::string& key);
    // New connections on every TLS listener use `tls` from now on; connections already made keep
    // the context they started with (their SSL holds a reference). Loop thread.
    void replace_tls_context(const SharedSslCtx& tls);
    std::vector<std::string> listener_keys() const;  // loop thread (or before run)

    // Loop thread (through post()): a reload's new deadlines and request cap, for connections
    // from now on.
    void set_deadlines(const ConnectionDeadlines& deadlines) { deadlines_ = deadlines; }
    void set_max_requests_per_connection(unsigned max) {
        policy_.max_requests_per_connection = max;
    }

    // From any thread: runs `task` on the loop's thread at its next pass.
    void post(std::function<void()> task);

    // Runs on the calling thread until a stop has drained (or its drain timeout passed).
    void run();

    // From any thread: stop accepting, close idle connections, let requests in flight finish
    // (answered with Connection: close), and return from run() once none remain or after
    // `drain_timeout`.
    void request_stop(std::chrono::milliseconds drain_timeout);

    std::size_t open_connections() const { return open_connections_.load(); }

    const std::string& name() const { return name_; }
    // From any thread: how long ago the loop last finished a pass (ran every callback that was
    // ready and went back to wait). A loop with nothing to do still finishes one every quarter
    // second (its buffer sweep), so a large age means a callback is stuck or the loop is spinning.
    std::chrono::milliseconds last_pass_age() const;
    // Called at the end of every pass with how long its callbacks ran (from the first to the
    // end); on the loop's thread. Set before run().
    void set_pass_observer(std::function<void(std::chrono::nanoseconds)> observer) {
        pass_observer_ = std::move(observer);
    }

  private:
    struct Listener;
    struct Connection;

    static void on_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr* address,
                          int length, void* arg);
    static void on_accept_error(evconnlistener* listener, void* arg);
    static void on_resume_accepting(evutil_socket_t, short, void* arg);
    static void on_readable(evutil_socket_t, short, void* arg);
    static void on_writable(evutil_socket_t, short, void* arg);
    static void on_deadline(evutil_socket_t, short, void* arg);
    static void on_stop(evutil_socket_t, short, void* arg);
    static void on_drain_timeout(evutil_socket_t, short, void* arg);
    static void on_posted(evutil_socket_t, short, void* arg);
    static void on_buffer_sweep(evutil_socket_t, short, void* arg);
    static void on_continuation(evutil_socket_t, short, void* arg);

    void accept_connection(Listener& listener, evutil_socket_t fd, const sockaddr* address);
    bool continue_handshake(Connection& connection);
    // proxy_intake.cc: the PROXY header before TLS.
    bool proxy_source_trusted(const IpAddress& source) const;
    void read_proxy_header(Connection& connection);
    void refuse_proxied(Connection& connection, Counter* reason);
    void begin_after_proxy_header(Connection& connection, const IpAddress& client);
    void read_requests(Connection& connection);
    bool handle_input(Connection& connection, std::string_view data);
    bool process_buffered(Connection& connection, std::string_view buffer, std::size_t* used);
    void flush(Connection& connection);
    // Writes as much of data[0, size) as the peer takes without blocking.
    struct WriteOutcome {
        std::size_t written = 0;
        bool broken = false;  // the connection failed; the caller closes it
    };
    WriteOutcome write_to_peer(Connection& connection, const char* data, std::size_t size);
    void finish_response_cycle(Connection& connection, bool wrote_something);
    bool has_unread_input(Connection& connection) const;
    void close_after_final_response(Connection& connection);
    void start_lingering_close(Connection& connection);
    void linger_read(Connection& connection);
    void pause_reading(Connection& connection);
    void resume_reading(Connection& connection);
    void want_write(Connection& connection);
    void stop_writing(Connection& connection);
    void schedule_continuation(Connection& connection);
    void note_busy();
    void arm_deadline(Connection& connection, std::chrono::milliseconds after);
    void close_connection(Connection& connection);
    bool connection_is_idle(const Connection& connection) const;
    void stop_now();
    void count_handshake_failure();
    // Asks the admission control about `client`; on true the connection counts under
    // *counted_as until released, on false the refusal is counted and the caller closes.
    bool admit(const IpAddress& client, IpAddress* counted_as);
    // A connection on a proxy_protocol listener before its header: the global cap only.
    bool admit_unnamed();
    bool evict_idle_connection();

    std::string name_;
    ConnectionDeadlines deadlines_;
    RequestLimits limits_;
    Logger& logger_;
    EventBasePtr base_;
    EventPtr stop_event_;
    EventPtr drain_timer_;
    EventPtr posted_event_;
    EventPtr buffer_sweep_;
    // Connections with complete input still to read once the loop has been round: decrypted
    // records held back by backpressure. A zero-delay timer, not event_active: libevent runs a
    // re-activated event again in the same pass, so other sockets and timers would starve.
    EventPtr continuation_timer_;
    std::vector<Connection*> continuations_;
    std::vector<Connection*>* running_continuations_ = nullptr;
    std::function<void(std::chrono::nanoseconds)> pass_observer_;
    std::chrono::steady_clock::time_point pass_busy_since_{};
    std::atomic<std::int64_t> last_pass_end_ns_{0};  // steady clock
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    std::atomic<long long> drain_timeout_ms_{0};
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::list<std::unique_ptr<Connection>> connections_;
    bool draining_ = false;
    HttpDateClock clock_;
    std::vector<char> read_scratch_;
    std::string output_scratch_;
    std::atomic<std::size_t> open_connections_{0};
    LoopCounters counters_;
    LoopPolicy policy_;
    long descriptor_limit_ = 0;  // RLIMIT_NOFILE's soft limit, re-read at every buffer sweep
};

}  // namespace oidcgw
