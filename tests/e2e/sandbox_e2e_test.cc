// End-to-end sandbox: the gateway process runs under its seccomp filter once started (the kernel
// shows it in /proc/PID/status), and everything it does from then on still works inside it:
// serving, fetching by host name, a SIGHUP reload that re-reads files and opens a listener, and
// the graceful stop.
#include "gateway_fixture.h"

#include <fstream>
#include <sstream>

namespace oidcgw::testing {
namespace {

// The "Seccomp:" field of /proc/PID/status: 0 none, 1 strict, 2 filter; -1 when absent.
int seccomp_mode(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Seccomp:", 0) == 0) return std::stoi(line.substr(8));
    }
    return -1;
}

// Every thread of the process (the filter is synchronised to all of them).
std::vector<int> seccomp_modes_of_threads(pid_t pid) {
    std::vector<int> modes;
    const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& entry : std::filesystem::directory_iterator(task_dir)) {
        std::ifstream status(entry.path() / "status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("Seccomp:", 0) == 0) modes.push_back(std::stoi(line.substr(8)));
        }
    }
    return modes;
}

class SandboxE2E : public GatewayE2E {
  protected:
    // The upstream by name rather than by address, so name resolution runs inside the filter.
    std::string upstream_by_name() { return "https://localhost:" + std::to_string(nomad_->port()); }
};

TEST_F(SandboxE2E, RunsUnderTheFilterAndStillServesReloadsAndStops) {
    start_gateway({upstream_by_name()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(seccomp_mode(gateway_->pid()), 2);
    const std::vector<int> thread_modes = seccomp_modes_of_threads(gateway_->pid());
    ASSERT_GT(thread_modes.size(), 1u);
    for (const int mode : thread_modes) EXPECT_EQ(mode, 2);
    EXPECT_EQ(log_count("\"sandbox_installed\""), 1u) << gateway_->log();

    const HttpResponse before = get("/.well-known/jwks.json");
    ASSERT_EQ(before.status, 200) << before.error;
    EXPECT_EQ(before.body, jwks_);

    // The reload re-reads the config and certificate files, opens a new listener and adds an
    // issuer whose refresher thread starts under the filter.
    const std::uint16_t added_port = free_loopback_port();
    const std::string second_issuer = issuer_ + "/eu";
    FakeNomad* second = start_nomad(nomad_server_);
    second->set_document("/.well-known/openid-configuration",
                         nomad_discovery_document(second_issuer));
    second->set_document("/.well-known/jwks.json", jwks_);
    nlohmann::json config = base_config({upstream_by_name()});
    config["listen"].push_back("127.0.0.1:" + std::to_string(added_port));
    config["issuers"].push_back(issuer_entry(second_issuer, {second->base_url()}));
    write_config_json(config);
    ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until(
        [&] {
            const HttpResponse status = health("/status");
            return status.status == 200 &&
                   nlohmann::json::parse(status.body)["last_reload"]["result"] == "success";
        },
        15s))
        << gateway_->log();
    ASSERT_TRUE(wait_until([&] { return get("/eu/.well-known/jwks.json").status == 200; }, 15s))
        << gateway_->log();
    HttpRequestOptions added_listener;
    added_listener.ca_file = public_pki_->ca_file();
    added_listener.headers = {"Host: " + host_header()};  // the issuer's host names the port
    added_listener.resolve =
        std::string(kPublicHost) + ":" + std::to_string(added_port) + ":127.0.0.1";
    const HttpResponse via_added =
        http_request(std::string("https://") + kPublicHost + ":" + std::to_string(added_port) +
                         "/.well-known/openid-configuration",
                     added_listener);
    EXPECT_EQ(via_added.status, 200) << via_added.error;
    EXPECT_TRUE(gateway_->running());
    EXPECT_EQ(seccomp_mode(gateway_->pid()), 2);

    // A graceful stop (threads joined, sockets closed, cache already written) exits 0, not by
    // SIGSYS.
    EXPECT_EQ(gateway_->stop(SIGTERM), 0) << gateway_->log();
}

TEST_F(SandboxE2E, LogModeInstallsAFilterAndOffInstallsNone) {
    nlohmann::json config = base_config({nomad_->base_url()});
    config["sandbox"] = "log";
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(seccomp_mode(gateway_->pid()), 2);
    EXPECT_NE(gateway_->log().find("\"mode\":\"log\""), std::string::npos) << gateway_->log();
    EXPECT_EQ(gateway_->stop(SIGTERM), 0);

    config["sandbox"] = "off";
    start_gateway_with(config);
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    EXPECT_EQ(seccomp_mode(gateway_->pid()), 0);
    EXPECT_EQ(get("/.well-known/jwks.json").status, 200);
}

}  // namespace
}  // namespace oidcgw::testing
