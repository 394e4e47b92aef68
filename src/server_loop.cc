#include "server_loop.h"

#include "test_hooks.h"

#include <malloc.h>

#include <arpa/inet.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace oidcgw {
namespace {

constexpr std::size_t kReadScratchBytes = 16 * 1024;
// Pipelined requests are answered until this much output waits; the rest of the input is then
// left unread until the client has taken what it asked for.
constexpr std::size_t kMaxBufferedOutput = 256 * 1024;
constexpr std::chrono::milliseconds kBufferSweepInterval{250};
constexpr std::size_t kBuffersWorthATrim = 64;
// Callbacks one dispatch pass may run before libevent polls the sockets and timers again: a
// backstop, so that no event re-activated over and over can keep a loop from the rest.
constexpr int kMaxCallbacksPerPass = 64;

std::int64_t steady_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

long current_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
    return static_cast<long>(limit.rlim_cur);
}

EventBasePtr new_event_base() {
    std::unique_ptr<event_config, CDeleter<event_config_free>> config(event_config_new());
    if (!config) return nullptr;
    event_config_set_max_dispatch_interval(config.get(), nullptr, kMaxCallbacksPerPass, 0);
    return EventBasePtr(event_base_new_with_config(config.get()));
}

timeval to_timeval(std::chrono::milliseconds duration) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
    return tv;
}

}  // namespace

struct ServerLoop::Listener {
    ServerLoop* loop = nullptr;
    std::string key;
    EvConnListenerPtr listener;
    SharedSslCtx tls;
    RequestHandler* handler = nullptr;
    EventPtr resume_timer;
    bool paused_logged = false;
};

struct ServerLoop::Connection {
    enum class Phase { Handshake, Open, Lingering };

    ServerLoop* loop = nullptr;
    evutil_socket_t fd = -1;
    SslPtr ssl;  // null on plain-HTTP listeners
    RequestHandler* handler = nullptr;
    char client[INET6_ADDRSTRLEN] = {0};  // peer address as text, for the access log
    EventPtr read_event;
    EventPtr write_event;
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

namespace {
// request_stop() activates an event from another thread; libevent needs its locking switched on
// before the first event base exists.
bool enable_libevent_threads() {
    static const bool enabled = evthread_use_pthreads() == 0;
    return enabled;
}
}  // namespace

ServerLoop::ServerLoop(std::string name, ConnectionDeadlines deadlines, RequestLimits limits,
                       Logger& logger, LoopCounters counters, LoopPolicy policy)
    : name_((enable_libevent_threads(), std::move(name))),
      deadlines_(deadlines),
      limits_(limits),
      logger_(logger),
      base_(new_event_base()),
      read_scratch_(kReadScratchBytes),
      counters_(counters),
      policy_(policy) {
    if (!base_) throw std::runtime_error("libevent: cannot create an event base");
    stop_event_.reset(event_new(base_.get(), -1, 0, &ServerLoop::on_stop, this));
    drain_timer_.reset(evtimer_new(base_.get(), &ServerLoop::on_drain_timeout, this));
    posted_event_.reset(event_new(base_.get(), -1, 0, &ServerLoop::on_posted, this));
    buffer_sweep_.reset(event_new(base_.get(), -1, EV_PERSIST, &ServerLoop::on_buffer_sweep, this));
    const timeval sweep_interval = to_timeval(kBufferSweepInterval);
    event_add(buffer_sweep_.get(), &sweep_interval);
    continuation_timer_.reset(evtimer_new(base_.get(), &ServerLoop::on_continuation, this));
    last_pass_end_ns_ = steady_now_ns();
    descriptor_limit_ = current_descriptor_limit();
}

ServerLoop::~ServerLoop() {
    // Connections first: their events belong to base_.
    while (!connections_.empty()) close_connection(*connections_.front());
    listeners_.clear();
}

bool ServerLoop::add_listener(const std::string& key, int fd, SharedSslCtx tls,
                              RequestHandler* handler, std::string* error) {
    auto listener = std::make_unique<Listener>();
    listener->loop = this;
    listener->key = key;
    listener->tls = std::move(tls);
    listener->handler = handler;
    listener->listener.reset(evconnlistener_new(base_.get(), &ServerLoop::on_accept, listener.get(),
                                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                                fd));
    if (!listener->listener) {
        *error = "libevent: cannot listen on descriptor " + std::to_string(fd);
        ::close(fd);
        return false;
    }
    evconnlistener_set_error_cb(listener->listener.get(), &ServerLoop::on_accept_error);
    listener->resume_timer.reset(
        evtimer_new(base_.get(), &ServerLoop::on_resume_accepting, listener.get()));
    listeners_.push_back(std::move(listener));
    return true;
}

void ServerLoop::remove_listener(const std::string& key) {
    std::erase_if(listeners_,
                  [&](const std::unique_ptr<Listener>& listener) { return listener->key == key; });
}

void ServerLoop::replace_tls_context(const SharedSslCtx& tls) {
    for (auto& listener : listeners_) {
        if (listener->tls) listener->tls = tls;
    }
}

std::vector<std::string> ServerLoop::listener_keys() const {
    std::vector<std::string> keys;
    for (const auto& listener : listeners_) keys.push_back(listener->key);
    return keys;
}

void ServerLoop::post(std::function<void()> task) {
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(task));
    }
    event_active(posted_event_.get(), EV_READ, 0);
}

void ServerLoop::on_posted(evutil_socket_t, short, void* arg) {
    auto* loop = static_cast<ServerLoop*>(arg);
    loop->note_busy();
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard lock(loop->posted_mutex_);
        tasks.swap(loop->posted_);
    }
    for (auto& task : tasks) task();
}

// One pass at a time (EVLOOP_ONCE: wait, run every ready callback, return), so the loop can note
// when each pass ended and how long its callbacks ran.
void ServerLoop::run() {
    for (;;) {
        const int result = event_base_loop(base_.get(), EVLOOP_ONCE);
        const auto now = std::chrono::steady_clock::now();
        last_pass_end_ns_.store(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(),
            std::memory_order_relaxed);
        if (pass_busy_since_ != std::chrono::steady_clock::time_point{}) {
            if (pass_observer_) pass_observer_(now - pass_busy_since_);
            pass_busy_since_ = {};
        }
        if (result != 0 || event_base_got_break(base_.get())) return;
    }
}

void ServerLoop::note_busy() {
    if (pass_busy_since_ == std::chrono::steady_clock::time_point{}) {
        pass_busy_since_ = std::chrono::steady_clock::now();
    }
}

std::chrono::milliseconds ServerLoop::last_pass_age() const {
    const std::int64_t age = steady_now_ns() - last_pass_end_ns_.load(std::memory_order_relaxed);
    return std::chrono::milliseconds(std::max<std::int64_t>(age, 0) / 1'000'000);
}

void ServerLoop::request_stop(std::chrono::milliseconds drain_timeout) {
    drain_timeout_ms_ = drain_timeout.count();
    event_active(stop_event_.get(), EV_READ, 0);  // thread-safe with evthread_use_pthreads()
}

void ServerLoop::on_stop(evutil_socket_t, short, void* arg) {
    auto* loop = static_cast<ServerLoop*>(arg);
    loop->note_busy();
    loop->draining_ = true;
    loop->listeners_.clear();  // closes the listening sockets: no new connections
    for (auto it = loop->connections_.begin(); it != loop->connections_.end();) {
        Connection& connection = **it++;
        if (connection.phase == Connection::Phase::Handshake) {
            loop->close_connection(connection);  // no request yet: nothing to finish
        } else if (loop->connection_is_idle(connection)) {
            // close_notify and a lingering read, so a request racing the stop gets no reset.
            loop->start_lingering_close(connection);
        }
    }
    if (loop->connections_.empty()) {
        loop->stop_now();
        return;
    }
    const timeval tv = to_timeval(std::chrono::milliseconds(loop->drain_timeout_ms_.load()));
    evtimer_add(loop->drain_timer_.get(), &tv);
}

void ServerLoop::on_drain_timeout(evutil_socket_t, short, void* arg) {
    static_cast<ServerLoop*>(arg)->stop_now();
}

void ServerLoop::stop_now() {
    event_base_loopbreak(base_.get());
}

bool ServerLoop::connection_is_idle(const Connection& connection) const {
    return connection.phase == Connection::Phase::Open && !connection.head_started &&
           connection.input.empty() && !connection.has_pending_output();
}

void ServerLoop::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int, void* arg) {
    auto* listener = static_cast<Listener*>(arg);
    listener->loop->note_busy();
    listener->loop->accept_connection(*listener, fd, address);
}

void ServerLoop::on_accept_error(evconnlistener* raw_listener, void* arg) {
    auto* listener = static_cast<Listener*>(arg);
    const int error = EVUTIL_SOCKET_ERROR();
    if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
        // Out of descriptors: the pending connection stays in the backlog and the socket stays
        // readable, so accepting again at once would spin. Pause, then retry.
        evconnlistener_disable(raw_listener);
        const timeval tv = to_timeval(std::chrono::milliseconds(100));
        evtimer_add(listener->resume_timer.get(), &tv);
        if (!listener->paused_logged) {
            listener->paused_logged = true;
            listener->loop->logger_.error("accept_paused", {{"loop", listener->loop->name_},
                                                            {"detail", std::strerror(error)}});
        }
    }
}

void ServerLoop::on_resume_accepting(evutil_socket_t, short, void* arg) {
    auto* listener = static_cast<Listener*>(arg);
    if (listener->listener) evconnlistener_enable(listener->listener.get());
}

void ServerLoop::accept_connection(Listener& listener, evutil_socket_t fd,
                                   const sockaddr* address) {
    listener.paused_logged = false;
    if (draining_) {
        ::close(fd);
        return;
    }
    // Descriptors are handed out lowest first, so `fd` being this high means at most
    // limit - fd - 1 are still free.
    if (policy_.keep_descriptor_reserve && descriptor_limit_ > 0) {
        const long reserve = std::max(kDescriptorReserveMinimum, descriptor_limit_ / 4);
        if (fd >= descriptor_limit_ - reserve) {
            ::close(fd);
            if (counters_.rejected_descriptors != nullptr) {
                counters_.rejected_descriptors->increment();
            }
            return;
        }
    }
    char client[INET6_ADDRSTRLEN] = {0};
    if (address != nullptr && address->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, client,
                  sizeof client);
    } else if (address != nullptr && address->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, client,
                  sizeof client);
    }
    // Limits are checked before any TLS work: a refused connection costs one accept and a close.
    if (policy_.admission != nullptr && !admit(client)) {
        ::close(fd);
        return;
    }
    const int on = 1;
    // Without this a response split across segments waits ~40 ms for the client's delayed ACK.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);

    auto owned = std::make_unique<Connection>();
    Connection& connection = *owned;
    connection.loop = this;
    connection.fd = fd;
    connection.handler = listener.handler;
    std::memcpy(connection.client, client, sizeof client);
    const auto abandon = [&] {
        if (policy_.admission != nullptr) policy_.admission->release(client);
        ::close(fd);
    };
    if (listener.tls) {
        connection.ssl.reset(SSL_new(listener.tls.get()));
        if (!connection.ssl || SSL_set_fd(connection.ssl.get(), fd) != 1) {
            // Never fall back to plain text on the TLS port.
            count_handshake_failure();
            abandon();
            return;
        }
        SSL_set_accept_state(connection.ssl.get());
        connection.phase = Connection::Phase::Handshake;
    }
    connection.read_event.reset(
        event_new(base_.get(), fd, EV_READ | EV_PERSIST, &ServerLoop::on_readable, &connection));
    connection.write_event.reset(
        event_new(base_.get(), fd, EV_WRITE | EV_PERSIST, &ServerLoop::on_writable, &connection));
    connection.deadline.reset(evtimer_new(base_.get(), &ServerLoop::on_deadline, &connection));
    if (!connection.read_event || !connection.write_event || !connection.deadline) {
        abandon();
        return;
    }
    connection.admitted = policy_.admission != nullptr;
    if (counters_.connections_accepted != nullptr) counters_.connections_accepted->increment();
    connections_.push_front(std::move(owned));
    connection.position = connections_.begin();
    ++open_connections_;
    event_add(connection.read_event.get(), nullptr);
    arm_deadline(connection, connection.ssl ? deadlines_.handshake : deadlines_.request_head);

    // With TCP_DEFER_ACCEPT the ClientHello (or request) is usually already here.
    if (connection.phase == Connection::Phase::Handshake) {
        if (!continue_handshake(connection)) return;
    }
    read_requests(connection);
}

bool ServerLoop::admit(const char* client) {
    const auto now = std::chrono::steady_clock::now();
    AdmissionControl::Verdict verdict = policy_.admission->admit(client, now);
    // Full: an idle keep-alive connection makes room before a new client is turned away.
    if (verdict == AdmissionControl::Verdict::TooManyTotal && evict_idle_connection()) {
        verdict = policy_.admission->admit(client, now);
    }
    Counter* rejected = nullptr;
    switch (verdict) {
        case AdmissionControl::Verdict::Admit:
            return true;
        case AdmissionControl::Verdict::TooManyTotal:
            rejected = counters_.rejected_max_connections;
            break;
        case AdmissionControl::Verdict::TooManyFromClient:
            rejected = counters_.rejected_per_ip;
            break;
        case AdmissionControl::Verdict::TooFast:
            rejected = counters_.rejected_rate;
            break;
    }
    if (rejected != nullptr) rejected->increment();
    return false;
}

bool ServerLoop::evict_idle_connection() {
    // connections_ is newest first: the idle connection accepted earliest is nearest the back.
    for (auto it = connections_.rbegin(); it != connections_.rend(); ++it) {
        Connection& candidate = **it;
        if (connection_is_idle(candidate)) {
            // A lingering close no longer counts against the limit. Released first: the close
            // may free `candidate` at once.
            if (candidate.admitted) {
                candidate.admitted = false;
                policy_.admission->release(candidate.client);
            }
            start_lingering_close(candidate);
            return true;
        }
    }
    return false;
}

void ServerLoop::count_handshake_failure() {
    if (counters_.handshake_failures != nullptr) counters_.handshake_failures->increment();
}

void ServerLoop::arm_deadline(Connection& connection, std::chrono::milliseconds after) {
    const timeval tv = to_timeval(after);
    evtimer_add(connection.deadline.get(), &tv);
}

void ServerLoop::on_deadline(evutil_socket_t, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    ServerLoop* loop = connection->loop;
    loop->note_busy();
    if (connection->phase == Connection::Phase::Handshake) loop->count_handshake_failure();
    loop->close_connection(*connection);
}

bool ServerLoop::continue_handshake(Connection& connection) {
    ERR_clear_error();
    const int result = SSL_do_handshake(connection.ssl.get());
    if (result == 1) {
        connection.phase = Connection::Phase::Open;
        if (connection.write_armed && !connection.has_pending_output()) {
            event_del(connection.write_event.get());
            connection.write_armed = false;
        }
        // The first request must follow within the head deadline.
        arm_deadline(connection, deadlines_.request_head);
        return true;
    }
    const int error = SSL_get_error(connection.ssl.get(), result);
    if (error == SSL_ERROR_WANT_READ) {
        // Waiting for the client now: a write event left armed would fire on every pass.
        if (connection.write_armed) {
            event_del(connection.write_event.get());
            connection.write_armed = false;
        }
        return false;
    }
    if (error == SSL_ERROR_WANT_WRITE) {
        want_write(connection);
        return false;
    }
    count_handshake_failure();
    ERR_clear_error();
    close_connection(connection);
    return false;
}

void ServerLoop::on_readable(evutil_socket_t, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    ServerLoop* loop = connection->loop;
    loop->note_busy();
    connection->active_since_sweep = true;
    connection->may_hold_buffers = true;
    switch (connection->phase) {
        case Connection::Phase::Handshake:
            if (!loop->continue_handshake(*connection)) return;
            loop->read_requests(*connection);
            return;
        case Connection::Phase::Open:
            loop->read_requests(*connection);
            return;
        case Connection::Phase::Lingering:
            loop->linger_read(*connection);
            return;
    }
}

void ServerLoop::on_writable(evutil_socket_t, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    ServerLoop* loop = connection->loop;
    loop->note_busy();
    connection->active_since_sweep = true;
    connection->may_hold_buffers = true;
    if (connection->phase == Connection::Phase::Lingering) {
        // Nothing more is written once the close has begun (start_lingering_close stops the
        // write event; this only guards against a stale readiness report).
        loop->stop_writing(*connection);
        return;
    }
    if (connection->phase == Connection::Phase::Handshake) {
        if (loop->continue_handshake(*connection)) loop->read_requests(*connection);
        return;
    }
    if (connection->read_wants_write) {
        connection->read_wants_write = false;
        // Paused when the read had to wait; a response still waiting keeps it paused (flush).
        if (!connection->has_pending_output()) loop->resume_reading(*connection);
        loop->read_requests(*connection);
        return;
    }
    loop->flush(*connection);
}

// OpenSSL's record buffers (about 17 KB each way) stay with a connection while it is busy, so a
// keep-alive client costs no allocation per request; a connection quiet for a whole interval
// gives them back (SSL_free_buffers keeps any that still hold data), so idle connections hold
// none. SSL_MODE_RELEASE_BUFFERS did this after every record, and the two large allocations per
// request it caused grew slow once the heap was fragmented by many closed connections.
void ServerLoop::on_buffer_sweep(evutil_socket_t, short, void* arg) {
    auto* loop = static_cast<ServerLoop*>(arg);
    loop->note_busy();
#ifdef OIDCGW_TEST_HOOKS
    test_hooks::stall_if_asked(loop->name_);
#endif
    // The limit may change while the gateway runs (prlimit); re-reading it costs one call here
    // rather than one per accept.
    loop->descriptor_limit_ = current_descriptor_limit();
    std::size_t released = 0;
    for (const auto& connection : loop->connections_) {
        if (connection->ssl && connection->may_hold_buffers && !connection->active_since_sweep &&
            SSL_free_buffers(connection->ssl.get()) == 1) {
            connection->may_hold_buffers = false;
            ++released;
        }
        connection->active_since_sweep = false;
    }
    // Many buffers just went back to the heap, mostly between live allocations where the heap
    // cannot shrink: hand their pages back to the system, so memory follows the idle load down.
    if (released >= kBuffersWorthATrim) malloc_trim(0);
}

void ServerLoop::want_write(Connection& connection) {
    if (!connection.write_armed) {
        event_add(connection.write_event.get(), nullptr);
        connection.write_armed = true;
    }
}

void ServerLoop::stop_writing(Connection& connection) {
    if (connection.write_armed) {
        event_del(connection.write_event.get());
        connection.write_armed = false;
    }
    connection.read_wants_write = false;
}

void ServerLoop::schedule_continuation(Connection& connection) {
    if (connection.continuation_queued) return;
    connection.continuation_queued = true;
    continuations_.push_back(&connection);
    if (evtimer_pending(continuation_timer_.get(), nullptr) == 0) {
        const timeval now{0, 0};
        evtimer_add(continuation_timer_.get(), &now);
    }
}

// Runs after the loop has polled the sockets once more, so the connections continued here take
// their turn with everyone else's.
void ServerLoop::on_continuation(evutil_socket_t, short, void* arg) {
    auto* loop = static_cast<ServerLoop*>(arg);
    loop->note_busy();
    std::vector<Connection*> batch;
    batch.swap(loop->continuations_);
    loop->running_continuations_ = &batch;
    for (Connection*& entry : batch) {
        Connection* connection = entry;
        if (connection == nullptr) continue;  // closed by an earlier one in this batch
        connection->continuation_queued = false;
        entry = nullptr;
        if (connection->phase == Connection::Phase::Open && !connection->reading_paused) {
            loop->read_requests(*connection);
        }
    }
    loop->running_continuations_ = nullptr;
}

void ServerLoop::pause_reading(Connection& connection) {
    if (!connection.reading_paused) {
        event_del(connection.read_event.get());
        connection.reading_paused = true;
    }
}

void ServerLoop::resume_reading(Connection& connection) {
    if (connection.reading_paused) {
        event_add(connection.read_event.get(), nullptr);
        connection.reading_paused = false;
    }
}

void ServerLoop::read_requests(Connection& connection) {
    output_scratch_.clear();
    connection.records_may_wait = false;
    // Complete requests held back by backpressure on an earlier pass are answered first.
    if (connection.input_ready && !connection.has_pending_output()) {
        connection.input_ready = false;
        if (!handle_input(connection, {})) return;
    }
    // Whether the reads below stopped because there was nothing more to read (the socket is then
    // level-triggered readable again when more comes), rather than for backpressure.
    bool ran_dry = false;
    while (!connection.close_after_write && !connection.has_pending_output() &&
           output_scratch_.size() < kMaxBufferedOutput) {
        int received = 0;
        if (connection.ssl) {
            ERR_clear_error();
            received = SSL_read(connection.ssl.get(), read_scratch_.data(),
                                static_cast<int>(read_scratch_.size()));
            if (received <= 0) {
                const int error = SSL_get_error(connection.ssl.get(), received);
                // The socket is empty. OpenSSL may still hold the start of a record
                // (SSL_has_pending() is then true): its rest comes through the socket too.
                if (error == SSL_ERROR_WANT_READ) {
                    ran_dry = true;
                    break;
                }
                if (error == SSL_ERROR_WANT_WRITE) {
                    // OpenSSL must send first (a KeyUpdate answer) and reads nothing until it
                    // has: the bytes stay in the socket, whose level-triggered readiness would
                    // run this read again at every pass. Only the write event wakes it now.
                    connection.read_wants_write = true;
                    want_write(connection);
                    pause_reading(connection);
                    ran_dry = true;  // on_writable reads again
                    break;
                }
                ERR_clear_error();
                if (output_scratch_.empty()) {
                    // The client's close_notify is answered with ours: without it OpenSSL treats
                    // the session as cut short and drops it from the TLS 1.2 session cache.
                    if (error == SSL_ERROR_ZERO_RETURN)
                        close_after_final_response(connection);
                    else
                        close_connection(connection);  // the TLS stream broke
                    return;
                }
                connection.close_after_write = true;
                break;
            }
        } else {
            const ssize_t count =
                ::recv(connection.fd, read_scratch_.data(), read_scratch_.size(), 0);
            if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                ran_dry = true;
                break;
            }
            if (count <= 0) {
                if (output_scratch_.empty()) {
                    close_connection(connection);
                    return;
                }
                connection.close_after_write = true;
                break;
            }
            received = static_cast<int>(count);
        }
        if (!handle_input(connection, std::string_view(read_scratch_.data(),
                                                       static_cast<std::size_t>(received)))) {
            return;
        }
        // Readiness is level-triggered: after a short read with nothing buffered in OpenSSL,
        // the socket is most likely drained, and another read would only return EAGAIN. If more
        // did arrive, the loop reports the socket readable again.
        if (static_cast<std::size_t>(received) < read_scratch_.size() &&
            (!connection.ssl || SSL_has_pending(connection.ssl.get()) == 0)) {
            ran_dry = true;
            break;
        }
    }
    connection.records_may_wait =
        connection.ssl != nullptr && !ran_dry && !connection.close_after_write;
    if (!output_scratch_.empty() && !connection.has_pending_output()) {
        // The usual case: the responses go straight from the scratch buffer to the socket, and
        // only what the socket does not take now is copied to the connection.
        const WriteOutcome outcome =
            write_to_peer(connection, output_scratch_.data(), output_scratch_.size());
        if (outcome.broken) {
            close_connection(connection);
            return;
        }
        if (outcome.written == output_scratch_.size()) {
            output_scratch_.clear();
            finish_response_cycle(connection, /*wrote_something=*/true);
            return;
        }
        connection.output.assign(output_scratch_, outcome.written);
        connection.output_sent = 0;
        output_scratch_.clear();
    } else if (!output_scratch_.empty()) {
        connection.output.append(output_scratch_);
        output_scratch_.clear();
    }
    flush(connection);
}

// Parses what arrived (joined to any held-back bytes) and appends responses to
// output_scratch_. Returns false if the connection was closed.
bool ServerLoop::handle_input(Connection& connection, std::string_view data) {
    std::size_t used = 0;
    if (connection.input.empty()) {
        if (!process_buffered(connection, data, &used)) return false;
        if (used < data.size()) connection.input.assign(data.substr(used));
    } else {
        connection.input.append(data);
        if (!process_buffered(connection, connection.input, &used)) return false;
        connection.input.erase(0, used);
    }
    if (!connection.input.empty() && !connection.close_after_write) {
        if (!connection.head_started) {
            connection.head_started = true;
            connection.head_deadline = std::chrono::steady_clock::now() + deadlines_.request_head;
            arm_deadline(connection, deadlines_.request_head);
        }
    }
    if (connection.close_after_write) {
        connection.input.clear();
        connection.input_ready = false;
    }
    return true;
}

bool ServerLoop::process_buffered(Connection& connection, std::string_view buffer,
                                  std::size_t* used) {
    while (*used < buffer.size() && !connection.close_after_write) {
        if (output_scratch_.size() >= kMaxBufferedOutput) {
            connection.input_ready = true;  // more to answer once this output has drained
            break;
        }
        const ParseResult parsed = parse_request(buffer.substr(*used), limits_);
        if (parsed.status == ParseStatus::Incomplete) break;
        if (parsed.status == ParseStatus::Error) {
            connection.handler->respond_to_parse_error(parsed.error_status, clock_.now(),
                                                       output_scratch_);
            connection.close_after_write = true;
            connection.linger_on_close = true;
            *used = buffer.size();
            break;
        }
        Request request = parsed.request;
        // The last request a connection may make is answered with Connection: close.
        if (draining_ || ++connection.requests >= policy_.max_requests_per_connection) {
            request.keep_alive = false;
        }
        const bool keep_alive =
            connection.handler->respond(request, clock_.now(), connection.client, output_scratch_);
        *used += parsed.consumed;
        connection.head_started = false;
        if (!keep_alive) {
            connection.close_after_write = true;
            if (*used < buffer.size()) connection.linger_on_close = true;
            *used = buffer.size();
        }
    }
    return true;
}

ServerLoop::WriteOutcome ServerLoop::write_to_peer(Connection& connection, const char* data,
                                                   std::size_t size) {
    WriteOutcome outcome;
    while (outcome.written < size) {
        const char* next = data + outcome.written;
        const std::size_t remaining = size - outcome.written;
        if (connection.ssl) {
            ERR_clear_error();
            // A retry after WANT_WRITE may come from another buffer holding the same bytes:
            // the context sets SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER.
            const int written = SSL_write(connection.ssl.get(), next, static_cast<int>(remaining));
            if (written > 0) {
                outcome.written += static_cast<std::size_t>(written);
                continue;
            }
            const int error = SSL_get_error(connection.ssl.get(), written);
            if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) break;
            ERR_clear_error();
            outcome.broken = true;
            break;
        }
        const ssize_t written = ::send(connection.fd, next, remaining, MSG_NOSIGNAL);
        if (written > 0) {
            outcome.written += static_cast<std::size_t>(written);
            continue;
        }
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
        outcome.broken = true;
        break;
    }
    return outcome;
}

void ServerLoop::flush(Connection& connection) {
    if (connection.has_pending_output()) {
        const WriteOutcome outcome =
            write_to_peer(connection, connection.output.data() + connection.output_sent,
                          connection.output.size() - connection.output_sent);
        connection.output_sent += outcome.written;
        if (outcome.broken) {
            close_connection(connection);
            return;
        }
    }

    if (connection.has_pending_output()) {
        // The client is not reading: stop reading its further requests until it does, and give
        // the write a total deadline (also when the write event was already armed because a
        // read wanted to write).
        if (!connection.write_deadline_running) {
            connection.write_deadline_running = true;
            arm_deadline(connection, deadlines_.write);
        }
        want_write(connection);
        pause_reading(connection);
        return;
    }
    finish_response_cycle(connection, !connection.output.empty());
}

void ServerLoop::finish_response_cycle(Connection& connection, bool wrote_something) {
    std::string().swap(connection.output);  // idle connections hold no response memory
    connection.output_sent = 0;
    const bool write_deadline_was_running = connection.write_deadline_running;
    connection.write_deadline_running = false;
    if (connection.write_armed && !connection.read_wants_write) {
        event_del(connection.write_event.get());
        connection.write_armed = false;
    }
    if (connection.close_after_write) {
        if (connection.linger_on_close || has_unread_input(connection)) {
            start_lingering_close(connection);
        } else {
            close_after_final_response(connection);
        }
        return;
    }
    if (draining_ && connection_is_idle(connection)) {
        start_lingering_close(connection);
        return;
    }
    // A read waiting to write stays paused until the socket takes the write (on_writable).
    if (!connection.read_wants_write) resume_reading(connection);
    if (connection.head_started) {
        // A pipelined head began before the write stalled: its own total deadline resumes.
        if (write_deadline_was_running) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                connection.head_deadline - std::chrono::steady_clock::now());
            arm_deadline(connection, std::max(left, std::chrono::milliseconds(0)));
        }
    } else if (wrote_something) {
        arm_deadline(connection, deadlines_.keep_alive_idle);
    }
    // Requests held back while the output drained, or whole records OpenSSL read ahead that no
    // socket event will announce: continue once the loop has been round, so one busy client
    // cannot keep the loop from its timers and other connections. A partial record is not
    // among them: its rest comes through the socket, which the loop watches anyway.
    if (connection.input_ready || connection.records_may_wait) schedule_continuation(connection);
}

// Bytes the client sent that nobody read: in OpenSSL's buffer or still in the socket (a request
// pipelined behind the last one answered, one racing a drain). Closing over them sends a reset.
bool ServerLoop::has_unread_input(Connection& connection) const {
    if (connection.ssl && SSL_has_pending(connection.ssl.get()) == 1) return true;
    int queued = 0;
    return ::ioctl(connection.fd, FIONREAD, &queued) == 0 && queued > 0;
}

// The request was read whole and nothing followed it (as nginx judges it for its lingering close):
// a close_notify, then the descriptor's close sends the FIN at once.
void ServerLoop::close_after_final_response(Connection& connection) {
    if (connection.ssl) {
        ERR_clear_error();
        SSL_shutdown(connection.ssl.get());
        ERR_clear_error();
    }
    close_connection(connection);
}

// After the last response: send close_notify and FIN, then read and discard for a moment so that
// unread request bytes do not turn our close into a reset that destroys the response in flight.
void ServerLoop::start_lingering_close(Connection& connection) {
    // Nothing more is read through TLS or written: a read waiting to write (a KeyUpdate answer)
    // must not run SSL_read on a connection already shut down.
    stop_writing(connection);
    connection.write_deadline_running = false;
    connection.head_started = false;
    connection.input_ready = false;
    connection.records_may_wait = false;
    if (connection.ssl) {
        ERR_clear_error();
        SSL_shutdown(connection.ssl.get());
        ERR_clear_error();
    }
    ::shutdown(connection.fd, SHUT_WR);
    connection.phase = Connection::Phase::Lingering;
    connection.input.clear();
    resume_reading(connection);
    arm_deadline(connection, deadlines_.linger);
    linger_read(connection);
}

void ServerLoop::linger_read(Connection& connection) {
    for (int rounds = 0; rounds < 64; ++rounds) {
        const ssize_t count = ::recv(connection.fd, read_scratch_.data(), read_scratch_.size(), 0);
        if (count > 0) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        break;
    }
    close_connection(connection);
}

void ServerLoop::close_connection(Connection& connection) {
    if (connection.continuation_queued) {
        std::replace(continuations_.begin(), continuations_.end(), &connection,
                     static_cast<Connection*>(nullptr));
        if (running_continuations_ != nullptr) {
            std::replace(running_continuations_->begin(), running_continuations_->end(),
                         &connection, static_cast<Connection*>(nullptr));
        }
    }
    connection.read_event.reset();
    connection.write_event.reset();
    connection.deadline.reset();
    connection.ssl.reset();
    if (connection.admitted && policy_.admission != nullptr) {
        policy_.admission->release(connection.client);
    }
    if (connection.fd >= 0) ::close(connection.fd);
    connection.fd = -1;
    --open_connections_;
    connections_.erase(connection.position);  // destroys `connection`
    if (draining_ && connections_.empty()) stop_now();
}

}  // namespace oidcgw
