// Privileges are only ever dropped in forked children: the test process itself keeps its ids.
#include "ops/privileges.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>

namespace oidcgw::testing {
namespace {

// What a child observed about itself after its attempt, sent back through a pipe.
struct ChildReport {
    bool dropped = false;
    uid_t uid = 0;
    uid_t euid = 0;
    gid_t gid = 0;
    gid_t egid = 0;
    int supplementary_groups = -1;
    gid_t first_supplementary_group = 0;
    bool setuid_root_failed = false;
    bool seteuid_root_failed = false;
    int no_new_privs = -1;
    bool second_drop_same_user = false;
    bool second_drop_other_user = false;
    char error[256] = {};
    char other_user_error[256] = {};
};

void copy_text(const std::string& text, char (&out)[256]) {
    out[text.copy(out, sizeof out - 1)] = '\0';
}

// Runs `action` in a forked child and returns its report; waits at most 10 seconds.
ChildReport run_in_child(const std::function<void(ChildReport*)>& action) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) {
        ::close(pipe_fds[0]);
        ChildReport report;
        action(&report);
        const ssize_t written = ::write(pipe_fds[1], &report, sizeof report);
        ::_exit(written == static_cast<ssize_t>(sizeof report) ? 0 : 1);
    }
    ::close(pipe_fds[1]);
    ChildReport report;
    std::size_t received = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (received < sizeof report) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd readable{pipe_fds[0], POLLIN, 0};
        if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) break;
        const ssize_t got = ::read(pipe_fds[0], reinterpret_cast<char*>(&report) + received,
                                   sizeof report - received);
        if (got <= 0) break;
        received += static_cast<std::size_t>(got);
    }
    ::close(pipe_fds[0]);
    if (received < sizeof report) ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_EQ(received, sizeof report) << "the child sent no complete report";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return report;
}

void observe(ChildReport* report) {
    report->uid = ::getuid();
    report->euid = ::geteuid();
    report->gid = ::getgid();
    report->egid = ::getegid();
    gid_t groups[8] = {};
    report->supplementary_groups = ::getgroups(8, groups);
    if (report->supplementary_groups > 0) report->first_supplementary_group = groups[0];
    report->setuid_root_failed = ::setuid(0) != 0;
    report->seteuid_root_failed = ::seteuid(0) != 0;
    report->no_new_privs = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

class PrivilegesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string error;
        const auto nobody = lookup_user("nobody", &error);
        ASSERT_TRUE(nobody) << error;
        nobody_ = *nobody;
        const auto daemon_group = lookup_group("daemon", &error);
        ASSERT_TRUE(daemon_group) << error;
        daemon_gid_ = *daemon_group;
    }

    UserAccount nobody_;
    gid_t daemon_gid_ = 0;
};

TEST_F(PrivilegesTest, LookupKnownAndUnknownNames) {
    EXPECT_NE(nobody_.uid, 0u);
    std::string error;
    const auto root = lookup_user("root", &error);
    ASSERT_TRUE(root) << error;
    EXPECT_EQ(root->uid, 0u);
    EXPECT_EQ(root->primary_gid, 0u);
    const auto root_group = lookup_group("root", &error);
    ASSERT_TRUE(root_group) << error;
    EXPECT_EQ(*root_group, 0u);

    EXPECT_FALSE(lookup_user("oidcgw-no-such-user", &error));
    EXPECT_EQ(error, "no such user \"oidcgw-no-such-user\"");
    EXPECT_FALSE(lookup_group("oidcgw-no-such-group", &error));
    EXPECT_EQ(error, "no such group \"oidcgw-no-such-group\"");
}

TEST_F(PrivilegesTest, UnknownNamesFailBeforeChangingAnything) {
    const uid_t uid_before = ::geteuid();
    std::string error;
    EXPECT_FALSE(drop_privileges("oidcgw-no-such-user", "", &error));
    EXPECT_EQ(error, "no such user \"oidcgw-no-such-user\"");
    EXPECT_FALSE(drop_privileges("nobody", "oidcgw-no-such-group", &error));
    EXPECT_EQ(error, "no such group \"oidcgw-no-such-group\"");
    EXPECT_FALSE(drop_privileges("root", "", &error));
    EXPECT_EQ(error, "user \"root\" has uid 0: choose an unprivileged account");
    EXPECT_EQ(::geteuid(), uid_before);
}

TEST_F(PrivilegesTest, RootDropsToNobodyForGood) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
    const ChildReport report = run_in_child([](ChildReport* child) {
        std::string error;
        child->dropped = drop_privileges("nobody", "", &error);
        copy_text(error, child->error);
        observe(child);
        // Now unprivileged: the same user again is fine, another one is refused.
        child->second_drop_same_user = drop_privileges("nobody", "", &error);
        child->second_drop_other_user = drop_privileges("daemon", "", &error);
        copy_text(error, child->other_user_error);
    });
    ASSERT_TRUE(report.dropped) << report.error;
    EXPECT_EQ(report.uid, nobody_.uid);
    EXPECT_EQ(report.euid, nobody_.uid);
    EXPECT_EQ(report.gid, nobody_.primary_gid);
    EXPECT_EQ(report.egid, nobody_.primary_gid);
    EXPECT_EQ(report.supplementary_groups, 1);
    EXPECT_EQ(report.first_supplementary_group, nobody_.primary_gid);
    EXPECT_TRUE(report.setuid_root_failed);
    EXPECT_TRUE(report.seteuid_root_failed);
    EXPECT_EQ(report.no_new_privs, 1);
    EXPECT_TRUE(report.second_drop_same_user);
    EXPECT_FALSE(report.second_drop_other_user);
    EXPECT_EQ(std::string(report.other_user_error),
              "cannot switch to user \"daemon\": running as uid " + std::to_string(nobody_.uid) +
                  " gid " + std::to_string(nobody_.primary_gid) + ", and only root can switch");
    // The test process itself is untouched.
    EXPECT_EQ(::geteuid(), 0u);
}

TEST_F(PrivilegesTest, ExplicitGroupReplacesThePrimaryOne) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
    ASSERT_NE(daemon_gid_, nobody_.primary_gid);
    const ChildReport report = run_in_child([](ChildReport* child) {
        std::string error;
        child->dropped = drop_privileges("nobody", "daemon", &error);
        copy_text(error, child->error);
        observe(child);
        // Already nobody, but the group asked for must match as well.
        child->second_drop_same_user = drop_privileges("nobody", "daemon", &error);
        child->second_drop_other_user = drop_privileges("nobody", "nogroup", &error);
        copy_text(error, child->other_user_error);
    });
    ASSERT_TRUE(report.dropped) << report.error;
    EXPECT_EQ(report.uid, nobody_.uid);
    EXPECT_EQ(report.gid, daemon_gid_);
    EXPECT_EQ(report.egid, daemon_gid_);
    EXPECT_EQ(report.supplementary_groups, 1);
    EXPECT_EQ(report.first_supplementary_group, daemon_gid_);
    EXPECT_TRUE(report.setuid_root_failed);
    EXPECT_EQ(report.no_new_privs, 1);
    EXPECT_TRUE(report.second_drop_same_user);
    EXPECT_FALSE(report.second_drop_other_user);
    EXPECT_TRUE(std::string(report.other_user_error)
                    .starts_with("cannot switch to user \"nobody\" and group \"nogroup\""))
        << report.other_user_error;
}

TEST(SetNoNewPrivileges, SetsTheFlag) {
    const ChildReport report = run_in_child([](ChildReport* child) {
        std::string error;
        child->dropped = set_no_new_privileges(&error);
        copy_text(error, child->error);
        child->no_new_privs = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    });
    ASSERT_TRUE(report.dropped) << report.error;
    EXPECT_EQ(report.no_new_privs, 1);
}

}  // namespace
}  // namespace oidcgw::testing
