// How a ServerLoop's connection ends: at once after a final request read whole, or with a
// lingering close that reads away what the client still sends, and the release of everything the
// connection held. The I/O that leads here is in connection_io.cc.
#include "edge/connection.h"

#include <openssl/err.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace oidcgw {

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
        policy_.admission->release(connection.admission_key);
    }
    if (connection.unnamed && policy_.admission != nullptr) policy_.admission->release_unnamed();
    if (connection.fd >= 0) ::close(connection.fd);
    connection.fd = -1;
    --open_connections_;
    connections_.erase(connection.position);  // destroys `connection`
    if (draining_ && connections_.empty()) stop_now();
}

}  // namespace oidcgw
