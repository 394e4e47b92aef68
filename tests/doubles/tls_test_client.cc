#include "tls_test_client.h"

#include "common/digest.h"
#include "common/raii.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace oidcgw::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Writing to a socket the peer has closed raises SIGPIPE, which would kill the test binary.
// Block it on this thread for the exchange and swallow any instance we caused.
class SigpipeGuard {
  public:
    SigpipeGuard() {
        sigset_t sigpipe;
        sigemptyset(&sigpipe);
        sigaddset(&sigpipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &sigpipe, &previous_mask_);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeGuard() {
        sigset_t pending;
        sigpending(&pending);
        if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
            sigset_t sigpipe;
            sigemptyset(&sigpipe);
            sigaddset(&sigpipe, SIGPIPE);
            timespec no_wait{0, 0};
            while (sigtimedwait(&sigpipe, nullptr, &no_wait) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

  private:
    sigset_t previous_mask_{};
    bool was_pending_ = false;
};

class Socket {
  public:
    Socket() = default;
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    Socket& operator=(Socket&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    int get() const { return fd_; }

  private:
    int fd_ = -1;
};

enum class WaitResult { Ready, TimedOut, Failed };

// Waits for `events` on `fd` until `deadline`; never longer.
WaitResult wait_for(int fd, short events, Clock::time_point deadline) {
    while (true) {
        auto remaining =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (remaining.count() <= 0) return WaitResult::TimedOut;
        pollfd descriptor{fd, events, 0};
        int result = ::poll(&descriptor, 1, static_cast<int>(remaining.count()) + 1);
        if (result < 0 && errno == EINTR) continue;
        if (result < 0) return WaitResult::Failed;
        if (result == 0) continue;  // re-check the clock; poll may round down
        return WaitResult::Ready;
    }
}

// A connected nonblocking TCP socket, or an error message.
Socket connect_tcp(const std::string& host, std::uint16_t port, Clock::time_point deadline,
                   RawExchange& exchange, const std::string& source_address = {}) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* addresses = nullptr;
    std::string service = std::to_string(port);
    if (int error = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &addresses); error != 0) {
        exchange.handshake_error = "resolve " + host + ": " + ::gai_strerror(error);
        return Socket();
    }
    std::unique_ptr<addrinfo, CDeleter<freeaddrinfo>> address_list(addresses);

    for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
        Socket socket(::socket(address->ai_family,
                               address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                               address->ai_protocol));
        if (socket.get() < 0) {
            exchange.handshake_error = std::string("socket: ") + std::strerror(errno);
            continue;
        }
        int one = 1;
        ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!source_address.empty()) {
            sockaddr_in local{};
            local.sin_family = AF_INET;
            if (address->ai_family != AF_INET ||
                ::inet_pton(AF_INET, source_address.c_str(), &local.sin_addr) != 1 ||
                ::bind(socket.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
                exchange.handshake_error = "bind " + source_address + ": " + std::strerror(errno);
                continue;
            }
        }
        if (::connect(socket.get(), address->ai_addr, address->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                exchange.handshake_error = std::string("connect: ") + std::strerror(errno);
                continue;
            }
            WaitResult waited = wait_for(socket.get(), POLLOUT, deadline);
            if (waited == WaitResult::TimedOut) {
                exchange.timed_out = true;
                exchange.handshake_error = "connect: deadline passed";
                return Socket();
            }
            int error = 0;
            socklen_t length = sizeof error;
            if (waited == WaitResult::Failed ||
                ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 ||
                error != 0) {
                exchange.handshake_error =
                    std::string("connect: ") + std::strerror(error != 0 ? error : errno);
                continue;
            }
        }
        exchange.handshake_error.clear();
        return socket;
    }
    return Socket();
}

std::string openssl_errors() {
    std::string text;
    while (unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) text += "; ";
        text += buffer;
    }
    return text;
}

// Drives one nonblocking SSL call to completion. Returns its result (> 0 success), or 0 with
// `ssl_error` set; sets timed_out when the deadline passed first.
template <typename Operation>
int run_ssl(SSL* ssl, int fd, Clock::time_point deadline, Operation operation, int& ssl_error,
            bool& timed_out) {
    while (true) {
        ERR_clear_error();
        int result = operation();
        if (result > 0) return result;
        ssl_error = SSL_get_error(ssl, result);
        short events = 0;
        if (ssl_error == SSL_ERROR_WANT_READ) events = POLLIN;
        if (ssl_error == SSL_ERROR_WANT_WRITE) events = POLLOUT;
        if (events == 0) return 0;
        WaitResult waited = wait_for(fd, events, deadline);
        if (waited == WaitResult::TimedOut) {
            timed_out = true;
            return 0;
        }
        if (waited == WaitResult::Failed) return 0;
    }
}

bool send_all_plain(int fd, const std::string& bytes, Clock::time_point deadline,
                    RawExchange& exchange) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t result = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (result > 0) {
            sent += static_cast<std::size_t>(result);
            continue;
        }
        if (result < 0 && errno == EINTR) continue;
        if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            WaitResult waited = wait_for(fd, POLLOUT, deadline);
            if (waited == WaitResult::TimedOut) {
                exchange.timed_out = true;
                return false;
            }
            if (waited == WaitResult::Ready) continue;
        }
        // The peer went away while we wrote: whatever it sent before may still be readable.
        return true;
    }
    return true;
}

void receive_plain(int fd, Clock::time_point deadline, RawExchange& exchange) {
    char buffer[16384];
    while (true) {
        ssize_t result = ::recv(fd, buffer, sizeof buffer, 0);
        if (result > 0) {
            exchange.received.append(buffer, static_cast<std::size_t>(result));
            continue;
        }
        if (result == 0) {
            exchange.closed_by_peer = true;
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            WaitResult waited = wait_for(fd, POLLIN, deadline);
            if (waited == WaitResult::TimedOut) {
                exchange.timed_out = true;
                return;
            }
            if (waited == WaitResult::Ready) continue;
        }
        // ECONNRESET and friends: the server closed, just not gracefully.
        exchange.closed_by_peer = true;
        return;
    }
}

}  // namespace

RawExchange raw_tls_exchange(const RawTlsOptions& options, const std::string& bytes) {
    SigpipeGuard sigpipe_guard;
    RawExchange exchange;
    Clock::time_point deadline = Clock::now() + options.deadline;
    Socket socket =
        connect_tcp(options.host, options.port, deadline, exchange, options.source_address);
    if (socket.get() < 0) return exchange;
    if (!options.cleartext_prefix.empty() &&
        ::send(socket.get(), options.cleartext_prefix.data(), options.cleartext_prefix.size(),
               MSG_NOSIGNAL) != static_cast<ssize_t>(options.cleartext_prefix.size())) {
        exchange.handshake_error = std::string("send: ") + std::strerror(errno);
        return exchange;
    }

    SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
    if (!context) {
        exchange.handshake_error = "SSL_CTX_new: " + openssl_errors();
        return exchange;
    }
    SSL_CTX_set_min_proto_version(context.get(), TLS1_VERSION);
    if (options.tls_max_version != 0) {
        SSL_CTX_set_max_proto_version(context.get(), options.tls_max_version);
        // OpenSSL's default security level refuses TLS 1.0/1.1 on the client side already; a
        // test asking for them wants to see whether the *server* refuses.
        if (options.tls_max_version < TLS1_2_VERSION) {
            SSL_CTX_set_security_level(context.get(), 0);
            SSL_CTX_set_cipher_list(context.get(), "DEFAULT:@SECLEVEL=0");
        }
    }
    // A server that closes without close_notify should read as "closed", not as an error.
    SSL_CTX_set_options(context.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!options.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(context.get(), options.ca_file.c_str(), nullptr) != 1) {
            exchange.handshake_error = "cannot load " + options.ca_file + ": " + openssl_errors();
            return exchange;
        }
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    }
    SslPtr ssl(SSL_new(context.get()));
    if (!ssl || SSL_set_fd(ssl.get(), socket.get()) != 1) {
        exchange.handshake_error = "SSL_new: " + openssl_errors();
        return exchange;
    }
    if (!options.sni.empty()) SSL_set_tlsext_host_name(ssl.get(), options.sni.c_str());
    if (!options.alpn.empty() &&
        SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>(options.alpn.data()),
                            static_cast<unsigned int>(options.alpn.size())) != 0) {
        exchange.handshake_error = "SSL_set_alpn_protos: " + openssl_errors();
        return exchange;
    }
    if (!options.ca_file.empty()) {
        // Verify the name we asked for; without SNI, the address we dialled (an IP SAN).
        const std::string& expected = options.sni.empty() ? options.host : options.sni;
        SSL_set1_host(ssl.get(), expected.c_str());
    }

    int ssl_error = SSL_ERROR_NONE;
    SSL* handle = ssl.get();
    if (run_ssl(
            handle, socket.get(), deadline, [handle] { return SSL_connect(handle); }, ssl_error,
            exchange.timed_out) <= 0) {
        std::string errors = openssl_errors();
        if (exchange.timed_out) {
            exchange.handshake_error = "handshake: deadline passed";
        } else {
            exchange.handshake_error = "handshake failed (SSL error " + std::to_string(ssl_error) +
                                       ")" + (errors.empty() ? "" : ": " + errors);
            long verify_result = SSL_get_verify_result(handle);
            if (verify_result != X509_V_OK) {
                exchange.handshake_error +=
                    std::string("; verify: ") + X509_verify_cert_error_string(verify_result);
            }
        }
        return exchange;
    }
    exchange.connected = true;
    const unsigned char* selected = nullptr;
    unsigned int selected_length = 0;
    SSL_get0_alpn_selected(handle, &selected, &selected_length);
    if (selected != nullptr) {
        exchange.alpn.assign(reinterpret_cast<const char*>(selected), selected_length);
    }
    if (X509* peer = SSL_get0_peer_certificate(handle)) {
        char subject[512];
        X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof subject);
        exchange.peer_subject = subject;
        unsigned char* der = nullptr;
        const int length = i2d_X509(peer, &der);
        if (length > 0) {
            exchange.peer_certificate_sha256 = sha256_hex(std::string_view(
                reinterpret_cast<const char*>(der), static_cast<std::size_t>(length)));
        }
        OPENSSL_free(der);
    }

    if (!bytes.empty()) {
        int written = run_ssl(
            handle, socket.get(), deadline,
            [handle, &bytes] {
                return SSL_write(handle, bytes.data(), static_cast<int>(bytes.size()));
            },
            ssl_error, exchange.timed_out);
        if (exchange.timed_out) return exchange;
        if (written <= 0) {
            // The server may already have answered and closed (an alert, say): keep reading.
            ERR_clear_error();
        }
    }

    char buffer[16384];
    while (true) {
        int result = run_ssl(
            handle, socket.get(), deadline,
            [handle, &buffer] { return SSL_read(handle, buffer, sizeof buffer); }, ssl_error,
            exchange.timed_out);
        if (result > 0) {
            exchange.received.append(buffer, static_cast<std::size_t>(result));
            continue;
        }
        // close_notify, EOF, a reset or a fatal alert: in every case the peer ended it.
        if (!exchange.timed_out) exchange.closed_by_peer = true;
        ERR_clear_error();
        return exchange;
    }
}

RawExchange raw_tcp_exchange(const std::string& host, std::uint16_t port, const std::string& bytes,
                             std::chrono::milliseconds deadline_after) {
    SigpipeGuard sigpipe_guard;
    RawExchange exchange;
    Clock::time_point deadline = Clock::now() + deadline_after;
    Socket socket = connect_tcp(host, port, deadline, exchange);
    if (socket.get() < 0) return exchange;
    exchange.connected = true;
    if (!send_all_plain(socket.get(), bytes, deadline, exchange)) return exchange;
    receive_plain(socket.get(), deadline, exchange);
    return exchange;
}

}  // namespace oidcgw::testing
