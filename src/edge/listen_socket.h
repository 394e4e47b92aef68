// Listening sockets for the public and health sides.
#pragma once

#include "common/raii.h"
#include "config/config.h"

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
