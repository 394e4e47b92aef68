// Listening sockets for the public and health sides.
#pragma once

#include "config.h"

#include <string>

namespace oidcgw {

struct ListenSocketOptions {
    bool reuse_port = false;  // SO_REUSEPORT: one socket per worker, the kernel spreads accepts
    int backlog = 4096;
    int defer_accept_seconds = 0;  // TCP_DEFER_ACCEPT: wake only when the client has sent data
};

// Resolves `address` (numeric or a name such as localhost; the first result is used), then
// socket, bind, listen. Returns a non-blocking, close-on-exec descriptor, or -1 with *error set.
int open_listen_socket(const ListenAddress& address, const ListenSocketOptions& options,
                       std::string* error);

}  // namespace oidcgw

namespace oidcgw {

// A descriptor closed on destruction unless released; carries listening sockets from the thread
// that opens them to the loop that adopts them.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();

    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    int fd_ = -1;
};

}  // namespace oidcgw
