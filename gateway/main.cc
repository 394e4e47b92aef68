// oidc-gateway: entry point. Signals are handled synchronously here (sigwait), so no signal
// handler ever runs inside the event loops or libcurl.
#include "acme/tls_alpn_challenges.h"
#include "command_line.h"
#include "common/logger.h"
#include "config/config.h"
#include "ops/sandbox.h"
#include "ops/sd_notify.h"
#include "runtime/gateway.h"
#include "runtime/gateway_settings.h"
#include "version.h"

#include <curl/curl.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

namespace {

using oidcgw::CommandKind;

int run_check(const std::string& path) {
    const oidcgw::ConfigResult result = oidcgw::load_config_file(path);
    if (!result.config) {
        std::cerr << "oidc-gateway: " << path << ": " << result.error.to_string() << "\n";
        return 2;
    }
    // The public TLS context is built exactly as `serve` builds it, so `check` finds what the
    // server would refuse (e.g. two certificates of one key type).
    std::string tls_error;
    std::vector<std::string> tls_warnings;
    oidcgw::AcmeTlsInputs acme;  // with tls.acme, certificates may come from the CA alone
    if (result.config->acme) acme.challenges = std::make_shared<oidcgw::TlsAlpnChallenges>();
    if (!oidcgw::public_tls_context(*result.config, std::make_shared<oidcgw::SessionTicketKeys>(),
                                    acme, &tls_warnings, &tls_error)) {
        std::cerr << "oidc-gateway: " << path << ": " << tls_error << "\n";
        return 2;
    }
    for (const std::string& warning : result.config->warnings) {
        std::cerr << "oidc-gateway: warning: " << warning << "\n";
    }
    for (const std::string& warning : tls_warnings) {
        std::cerr << "oidc-gateway: warning: " << warning << "\n";
    }
    std::cout << "oidc-gateway: configuration " << path << " is valid ("
              << result.config->issuers.size() << " issuer"
              << (result.config->issuers.size() == 1 ? "" : "s") << ")\n";
    return 0;
}

int run_serve(const std::string& path) {
    oidcgw::Logger logger;
    oidcgw::ConfigResult result = oidcgw::load_config_file(path);
    if (!result.config) {
        logger.error("config_invalid", {{"file", path}, {"detail", result.error.to_string()}});
        return 2;
    }
    logger.configure(result.config->log_format, result.config->log_level);

    // Block the signals we wait for before any thread exists, so every thread inherits the mask
    // and only the loop below receives them. SIGPIPE is ignored: a peer vanishing mid-write is an
    // ordinary error return.
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &waited, nullptr);
    signal(SIGPIPE, SIG_IGN);

    const oidcgw::SandboxMode sandbox = result.config->sandbox;
    oidcgw::Gateway gateway(logger);
    std::string error;
    if (!gateway.start(std::move(*result.config), &error)) {
        logger.error("start_failed", {{"detail", error}});
        return 1;
    }
    // Everything that needs more than the allow-list (binding, the privilege drop, starting the
    // threads) is done by now.
    if (!oidcgw::install_sandbox(sandbox, &error)) {
        logger.error("sandbox_failed", {{"detail", error}});
        gateway.stop(std::chrono::milliseconds(0));
        return 1;
    }
    if (sandbox != oidcgw::SandboxMode::Off) {
        logger.info("sandbox_installed",
                    {{"mode", sandbox == oidcgw::SandboxMode::Enforce ? "enforce" : "log"}});
    }
    oidcgw::notify_ready();

    std::atomic<bool> stopped{false};
    std::thread stopper;
    // systemd's watchdog is fed from here, a few times per interval, and only while every event
    // loop is live: a stuck worker then gets the gateway restarted.
    const std::optional<std::chrono::microseconds> watchdog = oidcgw::watchdog_interval();
    auto last_watchdog = std::chrono::steady_clock::time_point{};
    for (;;) {
        timespec poll_interval{0, 200'000'000};
        const int signal_number = sigtimedwait(&waited, nullptr, &poll_interval);
        if (stopped) break;
        const bool live = gateway.check_liveness();
        if (watchdog && live && std::chrono::steady_clock::now() - last_watchdog >= *watchdog / 4) {
            oidcgw::notify_watchdog();
            last_watchdog = std::chrono::steady_clock::now();
        }
        if (signal_number == SIGHUP) {
            if (stopper.joinable()) continue;  // stopping: a reload would be pointless
            logger.info("reloading", {{"file", path}});
            oidcgw::notify_reloading();
            gateway.reload(&error);  // logs and records its own outcome
            oidcgw::notify_ready();
        } else if (signal_number == SIGTERM || signal_number == SIGINT) {
            const char* name = signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
            if (stopper.joinable()) {
                logger.warn("stopping_now", {{"signal", name}, {"detail", "second signal"}});
                std::_Exit(1);
            }
            logger.info("stopping", {{"signal", name}});
            oidcgw::notify_stopping();
            // Stop on another thread so that this one can still hear a second signal.
            stopper = std::thread([&gateway, &stopped] {
                gateway.stop(gateway.shutdown_timeout());
                stopped = true;
            });
        }
    }
    stopper.join();
    logger.info("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    const oidcgw::CommandLine command = oidcgw::parse_command_line(arguments);
    switch (command.kind) {
        case CommandKind::Help:
            std::cout << oidcgw::usage_text();
            return 0;
        case CommandKind::Version:
            std::cout << "oidc-gateway " OIDCGW_VERSION "\n";
            return 0;
        case CommandKind::Invalid:
            std::cerr << "oidc-gateway: " << command.error << "\n\n" << oidcgw::usage_text();
            return 2;
        case CommandKind::Check:
            return run_check(command.config_path);
        case CommandKind::Probe:
            return oidcgw::run_probe(command.probe, std::cout, std::cerr);
        case CommandKind::Thumbprint:
            return oidcgw::run_thumbprint(command.thumbprint, std::cout, std::cerr);
        case CommandKind::Serve:
            break;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        std::cerr << "oidc-gateway: libcurl initialisation failed\n";
        return 1;
    }
    const int status = run_serve(command.config_path);
    curl_global_cleanup();
    return status;
}
