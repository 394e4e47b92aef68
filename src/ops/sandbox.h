// The gateway's seccomp sandbox: once start-up is done (listeners bound, files read, threads
// started), only the system calls a running gateway makes are allowed, so a compromised parser
// cannot spawn a program, trace another process or reconfigure the host.
#pragma once

#include <string>

namespace oidcgw {

// The configuration's "sandbox" key: "enforce" (the default), "log" or "off".
enum class SandboxMode { Enforce, Log, Off };

// Installs the allow-list on every thread of the process (existing ones too, through seccomp's
// thread synchronisation; threads started later inherit it). Enforce: any other system call kills
// the whole process with SIGSYS. Log: other calls are allowed, and the kernel logs each one (audit
// log or dmesg, "type=1326 ... syscall=N"), to find what Enforce would refuse. Off: nothing.
// Beyond the list: clone only for threads (never a new process); clone3 fails with ENOSYS so that
// glibc falls back to clone, whose flags a filter can see; mmap/mprotect asking for executable
// memory fail with EPERM (a library loaded lazily fails to load instead of killing the gateway);
// kill/tgkill only towards this process; ioctl only FIONREAD and TCGETS; sockets only IPv4, IPv6,
// Unix and netlink (the resolver's interface query).
// Once installed it cannot be removed or loosened; a second call only adds another filter.
// Returns false with *error set when the kernel or libseccomp refuses; nothing is installed then.
bool install_sandbox(SandboxMode mode, std::string* error);

}  // namespace oidcgw
