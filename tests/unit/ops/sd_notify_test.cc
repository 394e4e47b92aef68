#include "ops/sd_notify.h"

#include "notify_socket.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <random>
#include <string>

namespace oidcgw::testing {
namespace {

unsigned long long monotonic_microseconds() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
           static_cast<unsigned long long>(now.tv_nsec) / 1'000ULL;
}

TEST(SdNotify, WithoutNotifySocketNothingIsSent) {
    ::unsetenv("NOTIFY_SOCKET");
    EXPECT_FALSE(sd_notify_send("READY=1"));
    EXPECT_FALSE(notify_ready());
    EXPECT_FALSE(notify_reloading());
    EXPECT_FALSE(notify_stopping());
    EXPECT_FALSE(notify_status("x"));
}

TEST(SdNotify, PathSocketReceivesEachState) {
    TempDir dir;
    const NotifySocket socket(dir.file("notify"));
    EXPECT_TRUE(notify_ready());
    EXPECT_EQ(socket.receive(), "READY=1");

    const unsigned long long before = monotonic_microseconds();
    EXPECT_TRUE(notify_reloading());
    const unsigned long long after = monotonic_microseconds();
    const std::optional<std::string> reloading = socket.receive();
    ASSERT_TRUE(reloading);
    const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
    ASSERT_TRUE(reloading->starts_with(prefix)) << *reloading;
    const std::string digits = reloading->substr(prefix.size());
    ASSERT_FALSE(digits.empty());
    EXPECT_EQ(digits.find_first_not_of("0123456789"), std::string::npos) << digits;
    const unsigned long long stamp = std::stoull(digits);
    EXPECT_GE(stamp, before);
    EXPECT_LE(stamp, after);

    EXPECT_TRUE(notify_stopping());
    EXPECT_EQ(socket.receive(), "STOPPING=1");
    EXPECT_TRUE(notify_status("serving 2 issuers"));
    EXPECT_EQ(socket.receive(), "STATUS=serving 2 issuers");
    // A newline cannot smuggle in another assignment.
    EXPECT_TRUE(notify_status("ok\nREADY=1"));
    EXPECT_EQ(socket.receive(), "STATUS=ok READY=1");
    EXPECT_TRUE(sd_notify_send("WATCHDOG=1"));
    EXPECT_EQ(socket.receive(), "WATCHDOG=1");
    EXPECT_TRUE(socket.nothing_pending());
}

TEST(SdNotify, AbstractSocket) {
    std::random_device random;
    const std::string name =
        "@oidcgw-test-" + std::to_string(::getpid()) + "-" + std::to_string(random());
    const NotifySocket socket(name);
    EXPECT_TRUE(notify_ready());
    EXPECT_EQ(socket.receive(), "READY=1");
}

TEST(SdNotify, UnusableSocketNamesFail) {
    TempDir dir;
    ::setenv("NOTIFY_SOCKET", dir.file("nobody-listens").c_str(), 1);
    EXPECT_FALSE(notify_ready());
    ::setenv("NOTIFY_SOCKET", "", 1);
    EXPECT_FALSE(notify_ready());
    ::setenv("NOTIFY_SOCKET", "relative/path", 1);
    EXPECT_FALSE(notify_ready());
    ::setenv("NOTIFY_SOCKET", "@", 1);
    EXPECT_FALSE(notify_ready());
    ::setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
    EXPECT_FALSE(notify_ready());
    ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, WatchdogIntervalComesFromWatchdogUsecForThisProcessOnly) {
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    EXPECT_FALSE(watchdog_interval());
    ::setenv("WATCHDOG_USEC", "15000000", 1);
    EXPECT_EQ(watchdog_interval(), std::chrono::microseconds(15'000'000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    EXPECT_EQ(watchdog_interval(), std::chrono::microseconds(15'000'000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    EXPECT_FALSE(watchdog_interval()) << "meant for another process";
    ::unsetenv("WATCHDOG_PID");
    for (const char* invalid : {"", "0", "abc", "15s", "12 "}) {
        ::setenv("WATCHDOG_USEC", invalid, 1);
        EXPECT_FALSE(watchdog_interval()) << invalid;
    }
    ::unsetenv("WATCHDOG_USEC");
}

}  // namespace
}  // namespace oidcgw::testing
