// tls_load: the TLS client side of scripts/bench, built by it into its work directory.
//
//   tls_load handshakes --connect IP:PORT --host HOST[:PORT] --path PATH --concurrency N
//                       --seconds S (--resume | --no-resume)
//     Each of N slots makes one connection per request ("Connection: close"), for S seconds.
//     --no-resume never offers a session (no pre_shared_key, no session id, no ticket
//     extension); --resume offers the session the server sent on that slot's previous
//     connection, like a client that comes back. Latency is connect() to the last byte of the
//     response, so it includes the TCP and TLS handshakes. Prints one line:
//       requests=N errors=N reused=N tickets=N seconds=S rps=R p50_us=U p99_us=U
//     where reused counts handshakes the server resumed (SSL_session_reused) and tickets the
//     sessions/tickets the server sent.
//
//   tls_load idle --connect IP:PORT --host HOST[:PORT] --path PATH --connections N
//                 --hold-seconds S --ready-file FILE
//     Opens N keep-alive connections (full handshake and one GET each, at most 64 under way),
//     writes "opened=N" to FILE, then holds them idle until SIGTERM/SIGINT or S seconds. Prints
//       opened=N closed_by_server=N
//
// Exit status 0 when the run completed, 1 on failure, 2 on a bad command line.
#include "common/raii.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw::bench {
namespace {

using SslSessionPtr = std::unique_ptr<SSL_SESSION, CDeleter<SSL_SESSION_free>>;
using Clock = std::chrono::steady_clock;

constexpr int kMaxHandshakesUnderWay = 64;
constexpr std::size_t kMaxResponseBytes = 1 << 20;

struct Options {
    std::string mode;
    sockaddr_in address{};
    std::string host;
    std::string path;
    int concurrency = 16;
    double seconds = 10;
    bool resume = false;
    bool resume_given = false;
    int connections = 0;
    double hold_seconds = 60;
    std::string ready_file;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "tls_load: %s\n", message.c_str());
    std::exit(2);
}

Options parse_options(int argc, char** argv) {
    if (argc < 2) usage_error("usage: tls_load handshakes|idle OPTIONS (see the source)");
    Options options;
    options.mode = argv[1];
    if (options.mode != "handshakes" && options.mode != "idle") usage_error("unknown mode");
    for (int i = 2; i < argc; ++i) {
        const std::string_view argument = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(std::string(argument) + " needs a value");
            return argv[++i];
        };
        if (argument == "--connect") {
            const std::string text = value();
            const std::size_t colon = text.rfind(':');
            if (colon == std::string::npos) usage_error("--connect needs IP:PORT");
            options.address.sin_family = AF_INET;
            options.address.sin_port =
                htons(static_cast<uint16_t>(std::stoi(text.substr(colon + 1))));
            if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &options.address.sin_addr) != 1) {
                usage_error("--connect needs an IPv4 address");
            }
        } else if (argument == "--host") {
            options.host = value();
        } else if (argument == "--path") {
            options.path = value();
        } else if (argument == "--concurrency") {
            options.concurrency = std::stoi(value());
        } else if (argument == "--seconds") {
            options.seconds = std::stod(value());
        } else if (argument == "--resume" || argument == "--no-resume") {
            options.resume = argument == "--resume";
            options.resume_given = true;
        } else if (argument == "--connections") {
            options.connections = std::stoi(value());
        } else if (argument == "--hold-seconds") {
            options.hold_seconds = std::stod(value());
        } else if (argument == "--ready-file") {
            options.ready_file = value();
        } else {
            usage_error("unknown option " + std::string(argument));
        }
    }
    if (options.address.sin_family != AF_INET || options.host.empty() || options.path.empty()) {
        usage_error("--connect, --host and --path are required");
    }
    if (options.mode == "handshakes" && (!options.resume_given || options.concurrency < 1)) {
        usage_error("handshakes needs --resume or --no-resume and --concurrency >= 1");
    }
    if (options.mode == "idle" && (options.connections < 1 || options.ready_file.empty())) {
        usage_error("idle needs --connections >= 1 and --ready-file");
    }
    return options;
}

// One client connection and where it is in its life.
struct Slot {
    enum class State { Free, Connecting, Handshaking, Writing, Reading, Draining, Idle };

    State state = State::Free;
    int fd = -1;
    SslPtr ssl;
    SslSessionPtr session;  // the latest one the server sent on this slot (for --resume)
    Clock::time_point started;
    std::string request;
    std::size_t request_sent = 0;
    std::string response;
    std::size_t expected_bytes = 0;  // head + Content-Length, once the head is complete
    std::uint32_t events = 0;        // what epoll watches now
};

// Counts every session (TLS 1.3 ticket) the server sends and keeps the newest on its slot.
int on_new_session(SSL* ssl, SSL_SESSION* session);

class Client {
  public:
    explicit Client(const Options& options) : options_(options) {
        context_.reset(SSL_CTX_new(TLS_client_method()));
        if (!context_) throw std::runtime_error("SSL_CTX_new failed");
        SSL_CTX_set_min_proto_version(context_.get(), TLS1_2_VERSION);
        SSL_CTX_set_verify(context_.get(), SSL_VERIFY_NONE, nullptr);
        // Sessions reach us only through the callback: nothing is resumed unless we ask.
        SSL_CTX_set_session_cache_mode(context_.get(),
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_set_app_data(context_.get(), this);
        SSL_CTX_sess_set_new_cb(context_.get(), on_new_session);
        if (!options.resume) SSL_CTX_set_options(context_.get(), SSL_OP_NO_TICKET);
        static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        SSL_CTX_set_alpn_protos(context_.get(), kAlpn, sizeof kAlpn);
        epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
    }
    ~Client() {
        for (Slot& slot : slots_) close_slot(slot);
        if (epoll_fd_ >= 0) ::close(epoll_fd_);
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    int run_handshakes() {
        const bool keep_alive = false;
        slots_.resize(static_cast<std::size_t>(options_.concurrency));
        latencies_us_.reserve(1 << 20);
        const Clock::time_point begin = Clock::now();
        const Clock::time_point stop_starting =
            begin + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(options_.seconds));
        const Clock::time_point give_up = stop_starting + std::chrono::seconds(10);
        for (Slot& slot : slots_) start(slot, keep_alive);
        std::vector<epoll_event> ready(256);
        while (busy_slots() > 0 && Clock::now() < give_up) {
            const int count =
                epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), 100);
            if (count < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
            for (int i = 0; i < count; ++i) {
                Slot& slot = slots_[ready[static_cast<std::size_t>(i)].data.u64];
                advance(slot);
                if (slot.state == Slot::State::Free && Clock::now() < stop_starting) {
                    start(slot, keep_alive);
                }
            }
        }
        const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
        errors_ += busy_slots();  // still under way at give_up
        std::sort(latencies_us_.begin(), latencies_us_.end());
        const std::size_t completed = latencies_us_.size();
        std::printf(
            "requests=%zu errors=%llu reused=%llu tickets=%llu seconds=%.3f rps=%.1f p50_us=%u "
            "p99_us=%u\n",
            completed, static_cast<unsigned long long>(errors_),
            static_cast<unsigned long long>(reused_), static_cast<unsigned long long>(tickets_),
            elapsed, static_cast<double>(completed) / elapsed, percentile(0.50), percentile(0.99));
        return completed > 0 ? 0 : 1;
    }

    int run_idle() {
        const bool keep_alive = true;
        slots_.resize(static_cast<std::size_t>(options_.connections));
        const Clock::time_point give_up = Clock::now() + std::chrono::seconds(120);
        std::size_t next = 0;
        std::vector<epoll_event> ready(256);
        while (Clock::now() < give_up) {
            while (next < slots_.size() && busy_slots() - idle_ < kMaxHandshakesUnderWay) {
                start(slots_[next++], keep_alive);
            }
            if (idle_ + errors_ >= slots_.size()) break;
            const int count =
                epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), 100);
            if (count < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
            for (int i = 0; i < count; ++i)
                advance(slots_[ready[static_cast<std::size_t>(i)].data.u64]);
        }
        const std::size_t opened = idle_;
        if (opened != slots_.size()) {
            std::fprintf(stderr, "tls_load: opened %zu of %zu connections (%llu errors)\n", opened,
                         slots_.size(), static_cast<unsigned long long>(errors_));
            return 1;
        }
        {
            std::ofstream ready_file(options_.ready_file);
            ready_file << "opened=" << opened << "\n";
        }
        // Hold until told to stop; a connection the server closes meanwhile becomes readable.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        const int signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
        epoll_event signal_event{};
        signal_event.events = EPOLLIN;
        signal_event.data.u64 = slots_.size();
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd, &signal_event);
        const Clock::time_point hold_until =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options_.hold_seconds));
        std::size_t closed_by_server = 0;
        bool stop = false;
        while (!stop && Clock::now() < hold_until) {
            const int count =
                epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), 100);
            for (int i = 0; i < count; ++i) {
                const std::uint64_t index = ready[static_cast<std::size_t>(i)].data.u64;
                if (index == slots_.size()) {
                    stop = true;
                    continue;
                }
                Slot& slot = slots_[index];
                char byte = 0;
                const ssize_t peeked = ::recv(slot.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                if (peeked == 0 || (peeked < 0 && errno != EAGAIN)) {
                    ++closed_by_server;
                    close_slot(slot);
                } else if (peeked > 0) {
                    // Bytes on an idle connection (a late ticket): take them, keep the connection.
                    char scratch[4096];
                    ERR_clear_error();
                    const int result = SSL_read(slot.ssl.get(), scratch, sizeof scratch);
                    if (result <= 0 &&
                        SSL_get_error(slot.ssl.get(), result) != SSL_ERROR_WANT_READ) {
                        ++closed_by_server;
                        close_slot(slot);
                    }
                }
            }
        }
        ::close(signal_fd);
        std::printf("opened=%zu closed_by_server=%zu\n", opened, closed_by_server);
        return 0;
    }

    void remember_session(SSL* ssl, SSL_SESSION* session) {
        ++tickets_;
        Slot* slot = static_cast<Slot*>(SSL_get_app_data(ssl));
        if (slot != nullptr) slot->session.reset(session);
    }

  private:
    std::size_t busy_slots() const { return busy_; }

    std::uint32_t percentile(double fraction) const {
        if (latencies_us_.empty()) return 0;
        const std::size_t index = std::min(
            latencies_us_.size() - 1,
            static_cast<std::size_t>(fraction * static_cast<double>(latencies_us_.size())));
        return latencies_us_[index];
    }

    void start(Slot& slot, bool keep_alive) {
        slot.request = "GET " + options_.path + " HTTP/1.1\r\nHost: " + options_.host +
                       (keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
        slot.request_sent = 0;
        slot.response.clear();
        slot.expected_bytes = 0;
        slot.events = 0;
        slot.started = Clock::now();
        slot.state = Slot::State::Connecting;
        ++busy_;
        slot.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (slot.fd < 0) {
            fail(slot);
            return;
        }
        const int on = 1;
        ::setsockopt(slot.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        slot.ssl.reset(SSL_new(context_.get()));
        SSL_set_fd(slot.ssl.get(), slot.fd);
        SSL_set_app_data(slot.ssl.get(), &slot);
        const std::string server_name = options_.host.substr(0, options_.host.rfind(':'));
        SSL_set_tlsext_host_name(slot.ssl.get(), server_name.c_str());
        if (options_.resume && slot.session) SSL_set_session(slot.ssl.get(), slot.session.get());
        SSL_set_connect_state(slot.ssl.get());
        epoll_event event{};
        event.events = 0;
        event.data.u64 = static_cast<std::uint64_t>(&slot - slots_.data());
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, slot.fd, &event);
        const int result = ::connect(slot.fd, reinterpret_cast<const sockaddr*>(&options_.address),
                                     sizeof options_.address);
        if (result < 0 && errno != EINPROGRESS) {
            fail(slot);
            return;
        }
        if (result == 0) slot.state = Slot::State::Handshaking;
        if (result < 0) {
            watch(slot, EPOLLOUT);
            return;
        }
        advance(slot);
    }

    void watch(Slot& slot, std::uint32_t events) {
        if (slot.events == events) return;
        epoll_event event{};
        event.events = events;
        event.data.u64 = static_cast<std::uint64_t>(&slot - slots_.data());
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, slot.fd, &event);
        slot.events = events;
    }

    // Watches for what OpenSSL waits on; false when the connection failed.
    bool wait_for_tls(Slot& slot, int result) {
        switch (SSL_get_error(slot.ssl.get(), result)) {
            case SSL_ERROR_WANT_READ:
                watch(slot, EPOLLIN);
                return true;
            case SSL_ERROR_WANT_WRITE:
                watch(slot, EPOLLOUT);
                return true;
            default:
                return false;
        }
    }

    void advance(Slot& slot) {
        for (;;) {
            switch (slot.state) {
                case Slot::State::Free:
                case Slot::State::Idle:
                    return;
                case Slot::State::Connecting: {
                    int error = 0;
                    socklen_t length = sizeof error;
                    ::getsockopt(slot.fd, SOL_SOCKET, SO_ERROR, &error, &length);
                    if (error != 0) return fail(slot);
                    slot.state = Slot::State::Handshaking;
                    break;
                }
                case Slot::State::Handshaking: {
                    ERR_clear_error();
                    const int result = SSL_do_handshake(slot.ssl.get());
                    if (result != 1) {
                        if (!wait_for_tls(slot, result)) fail(slot);
                        return;
                    }
                    if (SSL_session_reused(slot.ssl.get()) == 1) ++reused_;
                    slot.state = Slot::State::Writing;
                    break;
                }
                case Slot::State::Writing: {
                    ERR_clear_error();
                    const int result =
                        SSL_write(slot.ssl.get(), slot.request.data() + slot.request_sent,
                                  static_cast<int>(slot.request.size() - slot.request_sent));
                    if (result <= 0) {
                        if (!wait_for_tls(slot, result)) fail(slot);
                        return;
                    }
                    slot.request_sent += static_cast<std::size_t>(result);
                    if (slot.request_sent == slot.request.size()) slot.state = Slot::State::Reading;
                    break;
                }
                case Slot::State::Reading:
                case Slot::State::Draining: {
                    char buffer[16384];
                    ERR_clear_error();
                    const int result = SSL_read(slot.ssl.get(), buffer, sizeof buffer);
                    if (result <= 0) {
                        const int error = SSL_get_error(slot.ssl.get(), result);
                        const bool ended =
                            error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL;
                        if (slot.state == Slot::State::Draining && ended) {
                            // The server closed after its response: done. Marked as a clean
                            // close without sending close_notify, or SSL_free would mark the
                            // session not resumable.
                            SSL_set_shutdown(slot.ssl.get(),
                                             SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
                            close_slot(slot);
                            return;
                        }
                        if (!wait_for_tls(slot, result)) fail(slot);
                        return;
                    }
                    if (slot.state == Slot::State::Draining) break;  // ignore any trailing bytes
                    slot.response.append(buffer, static_cast<std::size_t>(result));
                    if (slot.response.size() > kMaxResponseBytes) return fail(slot);
                    if (!response_complete(slot)) break;
                    if (slot.response.compare(0, 12, "HTTP/1.1 200") != 0) return fail(slot);
                    response_done(slot);
                    if (slot.state == Slot::State::Idle) return;
                    break;
                }
            }
        }
    }

    bool response_complete(Slot& slot) {
        if (slot.expected_bytes == 0) {
            const std::size_t head_end = slot.response.find("\r\n\r\n");
            if (head_end == std::string::npos) return false;
            std::string head = slot.response.substr(0, head_end + 2);
            std::transform(head.begin(), head.end(), head.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            const std::size_t field = head.find("\r\ncontent-length:");
            const std::size_t body_bytes =
                field == std::string::npos ? 0
                                           : std::strtoull(head.c_str() + field + 17, nullptr, 10);
            slot.expected_bytes = head_end + 4 + body_bytes;
        }
        return slot.response.size() >= slot.expected_bytes;
    }

    void response_done(Slot& slot) {
        const auto elapsed =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - slot.started);
        if (options_.mode == "idle") {
            slot.state = Slot::State::Idle;
            ++idle_;
            watch(slot, EPOLLIN);  // only to notice the server closing it
            return;
        }
        latencies_us_.push_back(static_cast<std::uint32_t>(elapsed.count()));
        // Read on to the server's close_notify and FIN, so the server closes first (as it does
        // after "Connection: close") and keeps the TIME_WAIT, not our ephemeral ports.
        slot.state = Slot::State::Draining;
    }

    void fail(Slot& slot) {
        ++errors_;
        if (slot.session && options_.resume) slot.session.reset();  // start over with a full one
        close_slot(slot);
    }

    void close_slot(Slot& slot) {
        if (slot.state == Slot::State::Idle) --idle_;
        if (slot.state != Slot::State::Free) --busy_;
        if (slot.ssl) SSL_set_app_data(slot.ssl.get(), nullptr);
        slot.ssl.reset();
        if (slot.fd >= 0) ::close(slot.fd);  // also removes it from the epoll set
        slot.fd = -1;
        slot.state = Slot::State::Free;
    }

    const Options& options_;
    SslCtxPtr context_;
    int epoll_fd_ = -1;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> latencies_us_;
    std::uint64_t errors_ = 0;
    std::uint64_t reused_ = 0;
    std::uint64_t tickets_ = 0;
    std::size_t idle_ = 0;  // slots in State::Idle
    std::size_t busy_ = 0;  // slots not in State::Free
};

int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* client = static_cast<Client*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (client == nullptr) return 0;
    client->remember_session(ssl, session);
    return 1;  // the slot owns the session now
}

}  // namespace
}  // namespace oidcgw::bench

int main(int argc, char** argv) {
    using oidcgw::bench::Client;
    const oidcgw::bench::Options options = oidcgw::bench::parse_options(argc, argv);
    ::signal(SIGPIPE, SIG_IGN);
    if (options.mode == "idle") {
        // Delivered through the signalfd while holding, not to a default handler.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    }
    try {
        Client client(options);
        return options.mode == "idle" ? client.run_idle() : client.run_handshakes();
    } catch (const std::exception& error) {
        std::fprintf(stderr, "tls_load: %s\n", error.what());
        return 1;
    }
}
