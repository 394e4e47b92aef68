#include "ops/sandbox.h"

#include "common/raii.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace oidcgw {
namespace {

using SeccompFilterPtr = std::unique_ptr<void, CDeleter<seccomp_release>>;

// AddressSanitizer's runtime makes calls of its own once the sandbox is in: LeakSanitizer's exit
// check starts a tracer task (clone without CLONE_THREAD) that ptrace-attaches to every thread.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerRuntime = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerRuntime = true;
#else
constexpr bool kSanitizerRuntime = false;
#endif
#else
constexpr bool kSanitizerRuntime = false;
#endif

// clone's flags are its first argument on every architecture but s390.
#if defined(__s390__) || defined(__s390x__)
constexpr unsigned kCloneFlagsArgument = 1;
#else
constexpr unsigned kCloneFlagsArgument = 0;
#endif

// Calls allowed whatever their arguments. Found by running the gateway under `strace -f` and
// with the sandbox in Log mode through start, serving, reload, upstream fetches, cache writes,
// /metrics and stop, also under AddressSanitizer.
constexpr int kAllowedAnyArguments[] = {
    // Event loops: libevent's epoll backend and its cross-thread notification (eventfd or a
    // pipe); libcurl and the resolver poll.
    SCMP_SYS(epoll_create1), SCMP_SYS(epoll_create), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(eventfd2), SCMP_SYS(pipe2),
    SCMP_SYS(poll), SCMP_SYS(ppoll),
    // Connections: public and health clients, upstream fetches, DNS, sd_notify. A reload may
    // open new listeners.
    SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
    SCMP_SYS(shutdown), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname),
    SCMP_SYS(getpeername), SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
    SCMP_SYS(pread64), SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
    SCMP_SYS(sendmmsg), SCMP_SYS(close), SCMP_SYS(fcntl),
    // Files: a reload re-reads the configuration, certificates and CA bundles; the disk cache
    // writes a temporary file (mkstemp), syncs it and renames it into place.
    SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(stat),
    SCMP_SYS(statx), SCMP_SYS(lseek), SCMP_SYS(getdents64), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
    SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
    SCMP_SYS(access),  // a reload checks that cache_dir is writable
    SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
    // The ACME client makes cache_dir/acme and holds its ordering lock there.
    SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(flock),
    // Memory: malloc, thread stacks and their release.
    SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(brk), SCMP_SYS(mremap),
    // Threads and their synchronisation (workers, refreshers, libcurl's resolver threads, the
    // stopper thread started on SIGTERM).
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(exit), SCMP_SYS(exit_group),
    // Signals: the main thread's sigtimedwait loop; abort and raise.
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigtimedwait),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
    // The kernel resumes a sleep or futex wait that a stop (SIGSTOP/SIGCONT, a cgroup freeze,
    // docker pause, a debugger or strace attaching) interrupted through restart_syscall: without
    // it the first stop and continue kills the process.
    SCMP_SYS(restart_syscall),
    // Rare paths of glibc: qsort (OpenSSL sorts its stacks with it) asks for the memory size
    // once an array is large; getrlimit for the descriptor limit.
    SCMP_SYS(sysinfo), SCMP_SYS(getrlimit),
    // Time, identity, randomness.
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
    SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(getpid), SCMP_SYS(gettid),
    SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getrandom),
    SCMP_SYS(uname),  // glibc's resolver reads the host name when it loads resolv.conf
};

// Extra calls of the sanitizer runtime (see kSanitizerRuntime); never in a release build.
constexpr int kAllowedForSanitizers[] = {
    SCMP_SYS(ptrace),   SCMP_SYS(wait4),    SCMP_SYS(getppid),
    SCMP_SYS(getdents), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
};
// LeakSanitizer's tracer task: shares memory and files, yet is not a thread.
constexpr scmp_datum_t kSanitizerTracerCloneFlags =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED;

// Argument conditions, built without libseccomp's SCMP_A* macros (C compound literals).
scmp_arg_cmp argument_equals(unsigned index, scmp_datum_t value) {
    return scmp_arg_cmp{index, SCMP_CMP_EQ, value, 0};
}

scmp_arg_cmp argument_masked_equals(unsigned index, scmp_datum_t mask, scmp_datum_t value) {
    return scmp_arg_cmp{index, SCMP_CMP_MASKED_EQ, mask, value};
}

std::string seccomp_failure(const char* what, int result) {
    return std::string("seccomp: ") + what + ": " + std::strerror(-result);
}

struct RuleAdder {
    scmp_filter_ctx filter;
    std::string* error;

    bool add(std::uint32_t action, int syscall, const char* name,
             std::initializer_list<scmp_arg_cmp> conditions = {}) {
        const int result = seccomp_rule_add_array(
            filter, action, syscall, static_cast<unsigned>(conditions.size()),
            conditions.size() == 0 ? nullptr : conditions.begin());
        if (result == 0) return true;
        *error = seccomp_failure(name, result);
        return false;
    }
};

bool add_rules(scmp_filter_ctx filter, std::string* error) {
    RuleAdder rules{filter, error};
    for (const int syscall : kAllowedAnyArguments) {
        if (!rules.add(SCMP_ACT_ALLOW, syscall, "allow-list")) return false;
    }
    // Threads only: nothing in the gateway ever needs a new process.
    if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone",
                   {argument_masked_equals(kCloneFlagsArgument, CLONE_THREAD, CLONE_THREAD)})) {
        return false;
    }
    if constexpr (kSanitizerRuntime) {
        for (const int syscall : kAllowedForSanitizers) {
            if (!rules.add(SCMP_ACT_ALLOW, syscall, "sanitizer allow-list")) return false;
        }
        if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone",
                       {argument_equals(kCloneFlagsArgument, kSanitizerTracerCloneFlags)})) {
            return false;
        }
    }
    // clone3 passes its flags in memory, out of a filter's sight; glibc falls back to clone when
    // the kernel says it has none.
    if (!rules.add(SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3")) return false;

    // Memory, but never executable: a library loaded after start-up (say an NSS module on a
    // reload's name lookup) fails to load instead of killing the gateway.
    for (const int syscall : {SCMP_SYS(mmap), SCMP_SYS(mprotect)}) {
        if (!rules.add(SCMP_ACT_ALLOW, syscall, "mmap/mprotect",
                       {argument_masked_equals(2, PROT_EXEC, 0)}) ||
            !rules.add(SCMP_ACT_ERRNO(EPERM), syscall, "mmap/mprotect",
                       {argument_masked_equals(2, PROT_EXEC, PROT_EXEC)})) {
            return false;
        }
    }

    // Limits may be read, never changed (prlimit64 with no new limit).
    if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), "prlimit64", {argument_equals(2, 0)})) {
        return false;
    }

    // Signals only to this process (abort, pthread_kill).
    const auto self = static_cast<scmp_datum_t>(::getpid());
    if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(kill), "kill", {argument_equals(0, self)}) ||
        !rules.add(SCMP_ACT_ALLOW, SCMP_SYS(tgkill), "tgkill", {argument_equals(0, self)})) {
        return false;
    }

    // The resolver and libevent ask how much a socket holds; stdio (and the sanitizer runtime's
    // reports) ask whether a stream is a terminal.
    for (const unsigned long request : {FIONREAD, TCGETS}) {
        if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(ioctl), "ioctl", {argument_equals(1, request)})) {
            return false;
        }
    }

    // Sockets of the families the gateway speaks; netlink only for the resolver's route query.
    for (const int family : {AF_INET, AF_INET6, AF_UNIX}) {
        if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
                       {argument_equals(0, static_cast<scmp_datum_t>(family))})) {
            return false;
        }
    }
    if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
                   {argument_equals(0, AF_NETLINK), argument_equals(2, NETLINK_ROUTE)})) {
        return false;
    }
    // libcurl's threaded resolver signals the end of a lookup through a Unix socket pair.
    if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(socketpair), "socketpair",
                   {argument_equals(0, AF_UNIX)})) {
        return false;
    }

    // Thread names; the sanitizer runtime also lets its tracer attach and ties it to the process.
    std::vector<int> prctl_options = {PR_SET_NAME, PR_GET_NAME};
    if constexpr (kSanitizerRuntime) {
        prctl_options.insert(prctl_options.end(),
                             {PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_PDEATHSIG});
    }
    for (const int option : prctl_options) {
        if (!rules.add(SCMP_ACT_ALLOW, SCMP_SYS(prctl), "prctl",
                       {argument_equals(0, static_cast<scmp_datum_t>(option))})) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool install_sandbox(SandboxMode mode, std::string* error) {
    if (mode == SandboxMode::Off) return true;
    // API level 3 brings SCMP_ACT_KILL_PROCESS and SCMP_ACT_LOG (kernel 4.14, libseccomp 2.4).
    if (seccomp_api_get() < 3) {
        *error = "seccomp: the kernel or libseccomp lacks kill-process and log actions";
        return false;
    }
    const std::uint32_t refused =
        mode == SandboxMode::Enforce ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_LOG;
    SeccompFilterPtr filter(seccomp_init(refused));
    if (!filter) {
        *error = "seccomp: cannot create a filter";
        return false;
    }
    // Every thread, not only the caller; and a call made through another architecture's ABI
    // (int 0x80 on x86-64) is refused alike rather than killing just its thread.
    int result = seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_TSYNC, 1);
    if (result != 0) {
        *error = seccomp_failure("thread synchronisation", result);
        return false;
    }
    result = seccomp_attr_set(filter.get(), SCMP_FLTATR_ACT_BADARCH, refused);
    if (result != 0) {
        *error = seccomp_failure("foreign architecture action", result);
        return false;
    }
    // A binary tree rather than a list: every system call walks the filter. Only a speed-up, so
    // a libseccomp without it is no reason to fail.
    seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (!add_rules(filter.get(), error)) return false;
    result = seccomp_load(filter.get());
    if (result != 0) {
        *error = seccomp_failure("load", result);
        return false;
    }
    return true;
}

}  // namespace oidcgw
