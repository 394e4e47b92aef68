// A datagram socket standing in for systemd's notification socket: NOTIFY_SOCKET points at it for
// the lifetime of the object (so a gateway started meanwhile inherits it) and is unset afterwards.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace oidcgw::testing {

class NotifySocket {
  public:
    // `name` is a path, or "@name" for an abstract socket.
    explicit NotifySocket(const std::string& name);
    ~NotifySocket();
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // The next datagram, waiting at most `timeout`.
    std::optional<std::string> receive(
        std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const;
    bool nothing_pending() const;

  private:
    int fd_;
};

}  // namespace oidcgw::testing
