// Per-client limits on IPv6: one host owns a whole /64, so the per-address limits count IPv6
// clients per limits.ipv6_prefix_length prefix. The test makes its own network namespace (on a
// thread of its own: a namespace belongs to the thread that entered it, and the processes and
// sockets that thread makes), gives its loopback a few documentation addresses in two /64s, and
// runs the gateway there. Where namespaces cannot be made, it is skipped with the reason.
#include "gateway_fixture.h"
#include "prometheus_text.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace oidcgw::testing {
namespace {

constexpr const char* kListener = "2001:db8:ff::1";
constexpr const char* kSameHostA = "2001:db8:1:2::a";
constexpr const char* kSameHostB = "2001:db8:1:2::b";
constexpr const char* kSameHostC = "2001:db8:1:2:ffff::c";  // still the same /64
constexpr const char* kOtherHost = "2001:db8:1:3::a";

// Runs `command` and waits for it; its exit status, or -1.
int run_command(const std::vector<std::string>& command) {
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        std::vector<char*> arguments;
        for (const std::string& argument : command) {
            arguments.push_back(const_cast<char*>(argument.c_str()));
        }
        arguments.push_back(nullptr);
        ::execv(arguments[0], arguments.data());
        ::_exit(127);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// In a new network namespace (the calling thread's from now on): loopback up with the test's
// addresses. "" when done, else why not.
std::string enter_namespace_with_addresses() {
    if (::unshare(CLONE_NEWNET) != 0) {
        return std::string("cannot make a network namespace: ") + std::strerror(errno);
    }
    const std::string ip = "/usr/sbin/ip";
    if (run_command({ip, "link", "set", "lo", "up"}) != 0) return "ip link set lo up failed";
    for (const char* address : {kListener, kSameHostA, kSameHostB, kSameHostC, kOtherHost}) {
        if (run_command({ip, "-6", "addr", "add", std::string(address) + "/128", "dev", "lo",
                         "nodad"}) != 0) {
            return std::string("cannot add ") + address + " (IPv6 disabled?)";
        }
    }
    return {};
}

class Ipv6AdmissionE2E : public GatewayE2E {
  protected:
    // Holds a connection that has begun its handshake; true when the gateway kept it open.
    bool admitted(const char* source, std::vector<int>* held) {
        const int fd = connect_from(source, public_port_, kListener);
        if (fd < 0) {
            ADD_FAILURE() << "cannot connect from " << source;
            return false;
        }
        ::send(fd, "\x16\x03\x01", 3, MSG_NOSIGNAL);
        held->push_back(fd);
        return !closed_by_server(fd, 300ms);
    }

    double rejected_per_address() {
        const PrometheusParse metrics = parse_prometheus_text(health("/metrics").body);
        return find_sample(metrics, "oidc_gateway_connections_rejected_total",
                           {{"side", "public"}, {"reason", "max_connections_per_ip"}})
            .value_or(-1);
    }

    void run_in_namespace() {
        nlohmann::json config = base_config({nomad_->base_url()});
        config["listen"] = {"[" + std::string(kListener) + "]:" + std::to_string(public_port_)};
        config["limits"] = {{"max_connections_per_ip", 2}};
        start_gateway_with(config);  // from this thread: the gateway lives in the namespace
        ASSERT_TRUE(wait_until([&] { return health("/healthz").status == 200; }, 10s))
            << gateway_->log();

        std::vector<int> held;
        // Two addresses of one /64 fill its two places; a third address in it is refused.
        EXPECT_TRUE(admitted(kSameHostA, &held));
        EXPECT_TRUE(admitted(kSameHostB, &held));
        EXPECT_FALSE(admitted(kSameHostC, &held));
        // Another /64 is another client.
        EXPECT_TRUE(admitted(kOtherHost, &held));
        EXPECT_EQ(rejected_per_address(), 1);

        // Counted per address instead (128): the third address is a client of its own.
        config["limits"]["ipv6_prefix_length"] = 128;
        write_config_json(config);
        ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
        ASSERT_TRUE(wait_until([&] { return log_count("\"event\":\"reloaded\"") >= 1; }, 10s))
            << gateway_->log();
        EXPECT_TRUE(admitted(kSameHostC, &held));
        for (const int fd : held) ::close(fd);
        gateway_->stop();
    }
};

TEST_F(Ipv6AdmissionE2E, ClientsOfOneSlash64ShareTheirLimitsAndTheLengthIsConfigurable) {
    std::string skipped;
    std::thread in_namespace([&] {
        skipped = enter_namespace_with_addresses();
        if (skipped.empty()) run_in_namespace();
    });
    in_namespace.join();
    gateway_.reset();
    if (!skipped.empty()) GTEST_SKIP() << skipped;
}

}  // namespace
}  // namespace oidcgw::testing
