// The seccomp sandbox, exercised in forked children: a filter cannot be removed
// once installed, so each case runs in a process of its own and the parent
// judges how it ended.
#include "ops/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace oidcgw::testing {
namespace {

using namespace std::chrono_literals;

// Exit codes a child uses to say which of its own checks failed.
constexpr int kInstallFailed = 10;
constexpr int kCheckFailed = 11;
constexpr int kReachedAfterForbiddenCall = 12;

struct ChildOutcome {
    bool timed_out = false;
    std::optional<int> exit_code;  // when it exited
    std::optional<int> signal;     // when a signal ended it
};

// Runs `body` in a forked child and waits at most `limit` for it; the child's
// exit code is body's result. No core files: a SIGSYS kill would otherwise dump
// one.
ChildOutcome run_in_child(const std::function<int()>& body, std::chrono::milliseconds limit = 10s) {
    const pid_t pid = ::fork();
    ChildOutcome outcome;
    if (pid < 0) {
        outcome.timed_out = true;
        return outcome;
    }
    if (pid == 0) {
        const rlimit no_core{0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);
        ::_exit(body());
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            outcome.timed_out = true;
            return outcome;
        }
        std::this_thread::sleep_for(5ms);
    }
    if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
    return outcome;
}

// A field of /proc/<which>/status, e.g. "Seccomp" → "2"; "" when absent.
std::string status_field(const std::string& which, const std::string& name) {
    std::ifstream in("/proc/" + which + "/status");
    std::string line;
    const std::string prefix = name + ":\t";
    while (std::getline(in, line)) {
        if (line.starts_with(prefix)) return line.substr(prefix.size());
    }
    return "";
}

bool install(SandboxMode mode) {
    std::string error;
    return install_sandbox(mode, &error) && error.empty();
}

[[noreturn]] void exec_true() {
    char program[] = "/bin/true";
    char* const argv[] = {program, nullptr};
    char* const envp[] = {nullptr};
    ::execve(program, argv, envp);
    ::_exit(kReachedAfterForbiddenCall);
}

void expect_exit_zero(const ChildOutcome& outcome) {
    EXPECT_FALSE(outcome.timed_out);
    EXPECT_FALSE(outcome.signal.has_value()) << "killed by signal " << outcome.signal.value_or(0);
    EXPECT_EQ(outcome.exit_code, std::optional<int>(0));
}

void expect_killed_by_sigsys(const ChildOutcome& outcome) {
    EXPECT_FALSE(outcome.timed_out);
    EXPECT_EQ(outcome.signal, std::optional<int>(SIGSYS))
        << "exit code " << outcome.exit_code.value_or(-1);
}

TEST(Sandbox, EnforceAllowsWhatTheGatewayDoes) {
    expect_exit_zero(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        // Files, a pipe, a thread, time and randomness all keep working.
        int pipe_ends[2];
        if (::pipe2(pipe_ends, O_CLOEXEC) != 0) return kCheckFailed;
        std::thread writer([&pipe_ends] {
            const char byte = 'x';
            if (::write(pipe_ends[1], &byte, 1) != 1) ::_exit(kCheckFailed);
        });
        writer.join();
        char received = 0;
        if (::read(pipe_ends[0], &received, 1) != 1 || received != 'x') return kCheckFailed;
        ::close(pipe_ends[0]);
        ::close(pipe_ends[1]);
        if (status_field("self", "Name").empty()) return kCheckFailed;
        timespec now{};
        if (::clock_gettime(CLOCK_REALTIME, &now) != 0) return kCheckFailed;
        unsigned char random[16];
        if (::getrandom(random, sizeof random, 0) != sizeof random) return kCheckFailed;
        return 0;
    }));
}

TEST(Sandbox, StatusShowsOneMoreFilterInFilterMode) {
    expect_exit_zero(run_in_child([] {
        const std::string before = status_field("self", "Seccomp_filters");
        if (before.empty()) return kCheckFailed;
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        if (status_field("self", "Seccomp") != "2") return kCheckFailed;
        if (status_field("self", "Seccomp_filters") != std::to_string(std::stoi(before) + 1)) {
            return kCheckFailed;
        }
        return 0;
    }));
}

TEST(Sandbox, EnforceKillsTheProcessOnExecve) {
    expect_killed_by_sigsys(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        exec_true();
    }));
}

TEST(Sandbox, EnforceKillsProcessCreation) {
    // fork is clone without CLONE_THREAD; the child never exists.
    expect_killed_by_sigsys(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        return kReachedAfterForbiddenCall;
    }));
}

TEST(Sandbox, EnforceKillsTheWholeProcessWhenAnotherThreadMisbehaves) {
    expect_killed_by_sigsys(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        std::thread offender([] { exec_true(); });
        offender.join();
        return kReachedAfterForbiddenCall;
    }));
}

TEST(Sandbox, CoversThreadsStartedBeforeInstallation) {
    // The thread exists before the filter and waits for it; then it must find
    // itself filtered and be killed (with the whole process) by a forbidden call.
    expect_killed_by_sigsys(run_in_child([] {
        std::atomic<bool> installed{false};
        std::atomic<bool> thread_filtered{false};
        std::thread early([&] {
            while (!installed.load()) std::this_thread::sleep_for(1ms);
            const std::string task = "self/task/" + std::to_string(::gettid());
            thread_filtered = status_field(task, "Seccomp") == "2";
            if (!thread_filtered) ::_exit(kCheckFailed);
            exec_true();
        });
        if (!install(SandboxMode::Enforce)) ::_exit(kInstallFailed);
        installed = true;
        early.join();
        return kReachedAfterForbiddenCall;
    }));
}

TEST(Sandbox, EnforceKillsAnUnlistedHarmlessCall) {
    expect_killed_by_sigsys(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        char directory[256];
        ::syscall(SYS_getcwd, directory, sizeof directory);
        return kReachedAfterForbiddenCall;
    }));
}

TEST(Sandbox, LogModeLetsTheSameCallThrough) {
    expect_exit_zero(run_in_child([] {
        if (!install(SandboxMode::Log)) return kInstallFailed;
        if (status_field("self", "Seccomp") != "2") return kCheckFailed;
        char directory[256] = "";
        if (::syscall(SYS_getcwd, directory, sizeof directory) <= 0 || directory[0] != '/') {
            return kCheckFailed;
        }
        return 0;
    }));
}

TEST(Sandbox, OffInstallsNothing) {
    expect_exit_zero(run_in_child([] {
        const std::string before = status_field("self", "Seccomp_filters");
        if (!install(SandboxMode::Off)) return kInstallFailed;
        if (status_field("self", "Seccomp_filters") != before) return kCheckFailed;
        exec_true();  // replaces the child with /bin/true, which exits 0
    }));
}

TEST(Sandbox, Clone3SaysNotImplementedSoGlibcUsesClone) {
    expect_exit_zero(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        errno = 0;
        if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return kCheckFailed;
        return 0;
    }));
}

TEST(Sandbox, ExecutableMemoryIsRefusedWithoutKilling) {
    expect_exit_zero(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        void* writable =
            ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (writable == MAP_FAILED) return kCheckFailed;
        errno = 0;
        if (::mprotect(writable, 4096, PROT_READ | PROT_EXEC) != -1 || errno != EPERM) {
            return kCheckFailed;
        }
        errno = 0;
        void* executable =
            ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (executable != MAP_FAILED || errno != EPERM) return kCheckFailed;
        ::munmap(writable, 4096);
        return 0;
    }));
}

TEST(Sandbox, SignalsOnlyToItself) {
    expect_killed_by_sigsys(run_in_child([] {
        if (!install(SandboxMode::Enforce)) return kInstallFailed;
        if (::kill(::getpid(), 0) != 0) return kCheckFailed;
        ::kill(1, 0);  // probing another process is already too much
        return kReachedAfterForbiddenCall;
    }));
}

}  // namespace
}  // namespace oidcgw::testing
