#include "sd_notify.h"

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

// A datagram socket standing in for systemd's notification socket. NOTIFY_SOCKET points at it
// for the lifetime of the object and is unset afterwards.
class NotifySocket {
  public:
    // `name` is a path, or "@name" for an abstract socket.
    explicit NotifySocket(const std::string& name)
        : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        name.copy(address.sun_path, sizeof address.sun_path - 1);
        if (name.starts_with('@')) address.sun_path[0] = '\0';
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                                   (name.starts_with('@') ? 0 : 1));
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
            ::close(fd_);
            throw std::runtime_error("bind failed for " + name);
        }
        ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
    }
    ~NotifySocket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // The next datagram, waiting at most two seconds.
    std::optional<std::string> receive() const {
        pollfd readable{fd_, POLLIN, 0};
        if (::poll(&readable, 1, 2000) != 1) return std::nullopt;
        char buffer[4096];
        const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
        if (got < 0) return std::nullopt;
        return std::string(buffer, static_cast<std::size_t>(got));
    }

    bool nothing_pending() const {
        pollfd readable{fd_, POLLIN, 0};
        return ::poll(&readable, 1, 0) == 0;
    }

  private:
    int fd_;
};

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

}  // namespace
}  // namespace oidcgw::testing
