#include "ops/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <ctime>
#include <string>

namespace oidcgw {
namespace {

// Closes the datagram socket on every return path.
class SocketFd {
  public:
    explicit SocketFd(int fd) : fd_(fd) {}
    ~SocketFd() {
        if (fd_ >= 0) ::close(fd_);
    }
    SocketFd(const SocketFd&) = delete;
    SocketFd& operator=(const SocketFd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

}  // namespace

bool sd_notify_send(std::string_view state) {
    const char* socket_name = std::getenv("NOTIFY_SOCKET");
    if (socket_name == nullptr) return false;
    const std::string_view name(socket_name);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // Abstract names are "@name" in the variable and "\0name" in the address; a path needs its
    // terminating NUL to fit.
    const bool abstract = name.starts_with('@');
    const bool path = name.starts_with('/');
    if (!abstract && !path) return false;
    if (name.size() < 2 || name.size() + (abstract ? 0 : 1) > sizeof address.sun_path) {
        return false;
    }
    name.copy(address.sun_path, name.size());
    if (abstract) address.sun_path[0] = '\0';
    const auto address_length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));

    const SocketFd sender(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (sender.get() < 0) return false;
    const ssize_t sent = ::sendto(sender.get(), state.data(), state.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&address), address_length);
    return sent == static_cast<ssize_t>(state.size());
}

bool notify_ready() {
    return sd_notify_send("READY=1");
}

bool notify_reloading() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const unsigned long long microseconds =
        static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
        static_cast<unsigned long long>(now.tv_nsec) / 1'000ULL;
    return sd_notify_send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(microseconds));
}

bool notify_stopping() {
    return sd_notify_send("STOPPING=1");
}

bool notify_status(std::string_view status) {
    // A newline would start another assignment; the status is meant to be one line.
    std::string line = "STATUS=";
    for (const char c : status) line.push_back(c == '\n' ? ' ' : c);
    return sd_notify_send(line);
}

std::optional<std::chrono::microseconds> watchdog_interval() {
    const char* usec = std::getenv("WATCHDOG_USEC");
    if (usec == nullptr) return std::nullopt;
    if (const char* pid = std::getenv("WATCHDOG_PID")) {
        char* end = nullptr;
        const long long owner = std::strtoll(pid, &end, 10);
        if (end == pid || *end != '\0' || owner != static_cast<long long>(::getpid())) {
            return std::nullopt;
        }
    }
    char* end = nullptr;
    const unsigned long long value = std::strtoull(usec, &end, 10);
    if (end == usec || *end != '\0' || value == 0) return std::nullopt;
    return std::chrono::microseconds(static_cast<long long>(value));
}

bool notify_watchdog() {
    return sd_notify_send("WATCHDOG=1");
}

}  // namespace oidcgw
