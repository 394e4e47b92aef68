// systemd's readiness protocol (Type=notify) without libsystemd: one datagram per state change to
// the AF_UNIX socket named by $NOTIFY_SOCKET. Without that variable every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace oidcgw {

// Sends `state` (e.g. "READY=1", newline-separated assignments) as one datagram to
// $NOTIFY_SOCKET: a file-system path, or an abstract socket when it starts with '@'. Returns
// false when the variable is unset or unusable or the send fails; never blocks.
bool sd_notify_send(std::string_view state);

// READY=1: listeners are bound and the first snapshot is loaded (or a reload finished).
bool notify_ready();
// RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC in µs), which systemd 253+ requires to
// accept the reload as started by the service itself.
bool notify_reloading();
// STOPPING=1: shutdown has begun.
bool notify_stopping();
// STATUS=<text>: a one-line status shown by `systemctl status`.
bool notify_status(std::string_view status);

// systemd's watchdog (WatchdogSec=): the interval from $WATCHDOG_USEC, when it is set, valid,
// and $WATCHDOG_PID (if present) names this process; nullopt otherwise.
std::optional<std::chrono::microseconds> watchdog_interval();
// WATCHDOG=1: the service is alive. Sent only while every event loop is live, so that systemd
// restarts a gateway with a stuck loop.
bool notify_watchdog();

}  // namespace oidcgw
