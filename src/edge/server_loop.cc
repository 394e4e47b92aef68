// A ServerLoop's loop itself: construction, listeners, accept and admission, the buffer sweep,
// the continuation queue, stop and drain, and the pass hooks the liveness check reads. What
// happens on one connection (handshake, reads, writes, deadlines, lingering close) is in
// connection_io.cc.
#include "edge/server_loop.h"

#include "edge/connection.h"
#include "ops/test_hooks.h"

#include <malloc.h>

#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace oidcgw {
namespace {

constexpr std::size_t kReadScratchBytes = 16 * 1024;
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

}  // namespace

using server_loop_internal::to_timeval;

struct ServerLoop::Listener {
    ServerLoop* loop = nullptr;
    std::string key;
    EvConnListenerPtr listener;
    ListenerRole role;
    EventPtr resume_timer;
    bool paused_logged = false;
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

bool ServerLoop::add_listener(const std::string& key, int fd, ListenerRole role,
                              std::string* error) {
    auto listener = std::make_unique<Listener>();
    listener->loop = this;
    listener->key = key;
    listener->role = std::move(role);
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
        if (listener->role.tls) listener->role.tls = tls;
    }
}

void ServerLoop::set_proxy_protocol(const std::string& key, bool enabled) {
    for (auto& listener : listeners_) {
        if (listener->key == key) listener->role.proxy_protocol = enabled;
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
        if (connection.phase == Connection::Phase::Handshake ||
            connection.phase == Connection::Phase::ProxyHeader) {
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
    const IpAddress peer = IpAddress::from_socket_address(address).value_or(IpAddress{});
    const bool proxied = listener.role.proxy_protocol;
    // Limits are checked before any TLS work: a refused connection costs one accept and a close.
    // Behind a load balancer the peer is the balancer: it must be trusted, and the limits wait
    // for the client its header names.
    if (proxied && !proxy_source_trusted(peer)) {
        if (counters_.rejected_proxy_untrusted != nullptr) {
            counters_.rejected_proxy_untrusted->increment();
        }
        ::close(fd);
        return;
    }
    IpAddress counted_as;
    const bool admitted = !proxied && policy_.admission != nullptr;
    if (admitted && !admit(peer, &counted_as)) {
        ::close(fd);
        return;
    }
    // Until its header names the client, a connection from a balancer still counts against
    // max_connections, so that one trusted source sending nothing cannot hold every descriptor.
    const bool unnamed = proxied && policy_.admission != nullptr;
    if (unnamed && !admit_unnamed()) {
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
    connection.handler = listener.role.handler;
    const std::string client = peer.text();
    std::memcpy(connection.client, client.c_str(), client.size() + 1);
    const auto abandon = [&] {
        if (admitted) policy_.admission->release(counted_as);
        if (unnamed) policy_.admission->release_unnamed();
        ::close(fd);
    };
    if (listener.role.tls) {
        connection.ssl.reset(SSL_new(listener.role.tls.get()));
        if (!connection.ssl || SSL_set_fd(connection.ssl.get(), fd) != 1) {
            // Never fall back to plain text on the TLS port.
            count_handshake_failure();
            abandon();
            return;
        }
        SSL_set_accept_state(connection.ssl.get());
        connection.phase = Connection::Phase::Handshake;
    }
    if (proxied) connection.phase = Connection::Phase::ProxyHeader;
    connection.read_event.reset(
        event_new(base_.get(), fd, EV_READ | EV_PERSIST, &ServerLoop::on_readable, &connection));
    connection.deadline.reset(evtimer_new(base_.get(), &ServerLoop::on_deadline, &connection));
    if (!connection.read_event || !connection.deadline) {
        abandon();
        return;
    }
    connection.admitted = admitted;
    connection.unnamed = unnamed;
    connection.admission_key = counted_as;
    if (counters_.connections_accepted != nullptr) counters_.connections_accepted->increment();
    connections_.push_front(std::move(owned));
    connection.position = connections_.begin();
    ++open_connections_;
    event_add(connection.read_event.get(), nullptr);
    // The PROXY header shares the handshake's deadline: both come before any request.
    arm_deadline(connection,
                 connection.ssl || proxied ? deadlines_.handshake : deadlines_.request_head);

    // With TCP_DEFER_ACCEPT the header or ClientHello (or request) is usually already here.
    if (connection.phase == Connection::Phase::ProxyHeader) {
        read_proxy_header(connection);
        return;
    }
    if (connection.phase == Connection::Phase::Handshake) {
        if (!continue_handshake(connection)) return;
    }
    read_requests(connection);
}

bool ServerLoop::connection_is_idle(const Connection& connection) const {
    return connection.phase == Connection::Phase::Open && !connection.head_started &&
           connection.input.empty() && !connection.has_pending_output();
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
                policy_.admission->release(candidate.admission_key);
            }
            start_lingering_close(candidate);
            return true;
        }
    }
    return false;
}

bool ServerLoop::admit_unnamed() {
    if (policy_.admission->admit_unnamed()) return true;
    // Full: an idle keep-alive connection makes room, as for a named client.
    if (evict_idle_connection() && policy_.admission->admit_unnamed()) return true;
    if (counters_.rejected_max_connections != nullptr) {
        counters_.rejected_max_connections->increment();
    }
    return false;
}

bool ServerLoop::admit(const IpAddress& client, IpAddress* counted_as) {
    const auto now = std::chrono::steady_clock::now();
    AdmissionControl::Verdict verdict = policy_.admission->admit(client, now, counted_as);
    // Full: an idle keep-alive connection makes room before a new client is turned away.
    if (verdict == AdmissionControl::Verdict::TooManyTotal && evict_idle_connection()) {
        verdict = policy_.admission->admit(client, now, counted_as);
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

void ServerLoop::count_handshake_failure() {
    if (counters_.handshake_failures != nullptr) counters_.handshake_failures->increment();
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

}  // namespace oidcgw