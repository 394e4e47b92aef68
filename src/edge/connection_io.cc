// A ServerLoop's per-connection I/O: the TLS handshake, reading and answering requests,
// writing with backpressure and the connection's total deadlines. How a connection ends (the
// immediate or lingering close) is in connection_close.cc; the loop itself (listeners, accept and
// the eviction of idle connections it may make room with, timers, stop) in server_loop.cc.
#include "edge/connection.h"
#include "edge/tls_server_context.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace oidcgw {

using server_loop_internal::kMaxBufferedOutput;
using server_loop_internal::to_timeval;

void ServerLoop::arm_deadline(Connection& connection, std::chrono::milliseconds after) {
    const timeval tv = to_timeval(after);
    evtimer_add(connection.deadline.get(), &tv);
}

void ServerLoop::on_deadline(evutil_socket_t, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    ServerLoop* loop = connection->loop;
    loop->note_busy();
    if (connection->phase == Connection::Phase::Handshake) loop->count_handshake_failure();
    if (connection->phase == Connection::Phase::ProxyHeader) {
        loop->refuse_proxied(*connection, loop->counters_.rejected_proxy_timeout);
        return;
    }
    loop->close_connection(*connection);
}

bool ServerLoop::continue_handshake(Connection& connection) {
    ERR_clear_error();
    const int result = SSL_do_handshake(connection.ssl.get());
    if (result == 1) {
        if (is_acme_challenge_handshake(connection.ssl.get())) {
            // The validator has seen the challenge certificate; RFC 8737 ends the connection
            // here, and nothing on it is ever read as HTTP.
            connection.phase = Connection::Phase::Open;
            start_lingering_close(connection);
            return false;
        }
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
        case Connection::Phase::ProxyHeader:
            loop->read_proxy_header(*connection);
            return;
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

// The write event is made the first time a write has to wait: most connections never need it,
// and an idle one then holds one event fewer. Without it (out of memory) the write deadline
// closes the connection, whatever deadline it was under.
void ServerLoop::want_write(Connection& connection) {
    if (connection.write_armed) return;
    if (!connection.write_event) {
        connection.write_event.reset(event_new(base_.get(), connection.fd, EV_WRITE | EV_PERSIST,
                                               &ServerLoop::on_writable, &connection));
        if (!connection.write_event) {
            arm_deadline(connection, deadlines_.write);
            return;
        }
    }
    event_add(connection.write_event.get(), nullptr);
    connection.write_armed = true;
}

void ServerLoop::stop_writing(Connection& connection) {
    if (connection.write_armed) {
        event_del(connection.write_event.get());
        connection.write_armed = false;
    }
    connection.read_wants_write = false;
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
            connection.handler->respond_to_parse_error(parsed, clock_.now(), connection.client,
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
            // Unread bytes, or a body still to come, would turn the close into a reset.
            if (*used < buffer.size() || request.has_body) connection.linger_on_close = true;
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
        arm_deadline(connection, deadlines_.keep_alive);
    }
    // Requests held back while the output drained, or whole records OpenSSL read ahead that no
    // socket event will announce: continue once the loop has been round, so one busy client
    // cannot keep the loop from its timers and other connections. A partial record is not
    // among them: its rest comes through the socket, which the loop watches anyway.
    if (connection.input_ready || connection.records_may_wait) schedule_continuation(connection);
}

}  // namespace oidcgw
