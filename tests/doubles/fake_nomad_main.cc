// fake_nomad: a stand-alone Nomad-shaped upstream for scripts/demo and the benchmark. Serves the
// discovery document and a JWKS the way a Nomad agent does, until SIGINT or SIGTERM. For the
// benchmark's scaling rows it can start with many keys (--keys) and publish the same JWKS for
// many issuers under path prefixes (--issuer-paths).
#include "fake_nomad.h"
#include "jwt_tools.h"
#include "test_pki.h"

#include <openssl/rand.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <future>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using oidcgw::testing::FakeNomad;
using oidcgw::testing::FakeNomadOptions;

constexpr int kUsageOrRuntimeError = 2;
constexpr long kTokenLifetimeSeconds = 3600;
constexpr std::size_t kDefaultKeys = 1;
// A rotation adds a key and drops the oldest beyond this (or beyond --keys, when larger).
constexpr std::size_t kMaxRotatedKeys = 3;
constexpr std::size_t kMaxKeys = 1000;         // what the gateway accepts in one JWKS
constexpr std::size_t kMaxIssuerPaths = 1000;  // a bound on the documents set at start
// Each path holds its own copy of the JWKS: a bound on keys x paths keeps that in memory.
constexpr std::size_t kMaxKeysTimesPaths = 100000;

constexpr std::string_view kUsage =
    "usage: fake_nomad [--listen HOST:PORT] [--cert FILE --key FILE] [--client-ca FILE]\n"
    "                  [--issuer URL] [--jwks FILE] [--token-out FILE] [--port-file FILE]\n"
    "                  [--keys N] [--issuer-paths N]\n"
    "--keys N: start with N generated RSA-2048 keys (default 1; the last one signs).\n"
    "--issuer-paths N: also serve, for K = 1..N, the discovery document of issuer URL/iK at\n"
    "  /iK/.well-known/openid-configuration and the same JWKS at /iK/.well-known/jwks.json.\n"
    "SIGUSR1 rotates a generated key set (a new signing key, like `keyring rotate -now`; the\n"
    "oldest keys leave beyond 3, or beyond --keys when larger).\n";

// Bad command lines get the usage text; failures while running do not.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct CommandLine {
    std::string listen = "127.0.0.1:0";
    std::string certificate_file;
    std::string private_key_file;
    std::string client_ca_file;
    std::string issuer;
    std::string jwks_file;
    std::string token_file;
    std::string port_file;
    std::size_t keys = kDefaultKeys;
    bool keys_given = false;
    std::size_t issuer_paths = 0;
};

std::size_t parse_count(const std::string& option, const std::string& text, std::size_t minimum,
                        std::size_t maximum) {
    if (text.empty() || text.size() > 6 ||
        text.find_first_not_of("0123456789") != std::string::npos || std::stoul(text) < minimum ||
        std::stoul(text) > maximum) {
        throw UsageError(option + " wants a number from " + std::to_string(minimum) + " to " +
                         std::to_string(maximum) + ", got '" + text + "'");
    }
    return std::stoul(text);
}

CommandLine parse_command_line(int argc, char** argv) {
    CommandLine command_line;
    for (int i = 1; i < argc; ++i) {
        std::string argument = argv[i];
        std::optional<std::string> inline_value;
        if (std::size_t equals = argument.find('='); equals != std::string::npos) {
            inline_value = argument.substr(equals + 1);
            argument.resize(equals);
        }
        auto value = [&]() -> std::string {
            if (inline_value) return *inline_value;
            if (i + 1 >= argc) throw UsageError(argument + " needs a value");
            return argv[++i];
        };
        if (argument == "--listen") {
            command_line.listen = value();
        } else if (argument == "--cert") {
            command_line.certificate_file = value();
        } else if (argument == "--key") {
            command_line.private_key_file = value();
        } else if (argument == "--client-ca") {
            command_line.client_ca_file = value();
        } else if (argument == "--issuer") {
            command_line.issuer = value();
        } else if (argument == "--jwks") {
            command_line.jwks_file = value();
        } else if (argument == "--token-out") {
            command_line.token_file = value();
        } else if (argument == "--port-file") {
            command_line.port_file = value();
        } else if (argument == "--keys") {
            command_line.keys = parse_count(argument, value(), 1, kMaxKeys);
            command_line.keys_given = true;
        } else if (argument == "--issuer-paths") {
            command_line.issuer_paths = parse_count(argument, value(), 1, kMaxIssuerPaths);
        } else {
            throw UsageError("unknown option " + argument);
        }
    }
    if (command_line.certificate_file.empty() != command_line.private_key_file.empty()) {
        throw UsageError("--cert and --key go together");
    }
    if (!command_line.client_ca_file.empty() && command_line.certificate_file.empty()) {
        throw UsageError("--client-ca needs TLS (--cert and --key)");
    }
    if (!command_line.token_file.empty()) {
        if (!command_line.jwks_file.empty()) {
            throw UsageError("--token-out needs a generated key: drop --jwks");
        }
        if (command_line.issuer.empty()) throw UsageError("--token-out needs --issuer");
    }
    if (command_line.keys * std::max<std::size_t>(command_line.issuer_paths, 1) >
        kMaxKeysTimesPaths) {
        throw UsageError("--keys times --issuer-paths may be at most " +
                         std::to_string(kMaxKeysTimesPaths));
    }
    if (command_line.keys_given && !command_line.jwks_file.empty()) {
        throw UsageError("--keys generates the key set: drop --jwks");
    }
    if (command_line.issuer_paths > 0 && command_line.issuer.empty()) {
        throw UsageError("--issuer-paths needs --issuer");
    }
    return command_line;
}

// "HOST:PORT" or "[IPv6]:PORT".
std::pair<std::string, std::uint16_t> split_listen_address(const std::string& listen) {
    std::size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
        throw UsageError("--listen wants HOST:PORT, got '" + listen + "'");
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    std::string port_text = listen.substr(colon + 1);
    if (port_text.find_first_not_of("0123456789") != std::string::npos || port_text.size() > 5 ||
        std::stoul(port_text) > 65535) {
        throw UsageError("--listen has a bad port '" + port_text + "'");
    }
    return {host, static_cast<std::uint16_t>(std::stoul(port_text))};
}

// Nomad's key IDs are 16 random bytes printed in UUID shape (no version bits).
std::string random_key_id() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    std::string kid;
    constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) kid += '-';
        kid += kHex[bytes[i] >> 4];
        kid += kHex[bytes[i] & 0xf];
    }
    return kid;
}

// Readers (scripts polling for the file) must never see it half written.
void write_file_atomically(const std::string& path, const std::string& content) {
    std::string temporary = path + ".tmp";
    oidcgw::testing::write_file(temporary, content);
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    if (error) throw std::runtime_error("cannot rename " + temporary + " to " + path);
}

int run(int argc, char** argv) {
    CommandLine command_line = parse_command_line(argc, argv);
    auto [host, port] = split_listen_address(command_line.listen);

    // Block the stop signals before any thread starts, so every thread inherits the mask and
    // only sigwait below ever sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGUSR1);  // rotate: a new active key (like `keyring rotate -now`)
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
        throw std::runtime_error("cannot block SIGINT/SIGTERM/SIGUSR1");
    }

    FakeNomadOptions options;
    options.listen_host = host;
    options.port = port;
    options.tls = !command_line.certificate_file.empty();
    options.certificate_file = command_line.certificate_file;
    options.private_key_file = command_line.private_key_file;
    options.client_ca_file = command_line.client_ca_file;
    FakeNomad nomad(options);

    // "" for the issuer itself, then "/i1" .. "/iN" (--issuer-paths): each serves its discovery
    // document and the one JWKS under its prefix.
    std::vector<std::string> prefixes{""};
    for (std::size_t k = 1; k <= command_line.issuer_paths; ++k) {
        prefixes.push_back("/i" + std::to_string(k));
    }
    const auto set_jwks = [&](const std::string& jwks) {
        for (const std::string& prefix : prefixes) {
            nomad.set_document(prefix + "/.well-known/jwks.json", jwks);
        }
    };
    if (!command_line.issuer.empty()) {
        std::string issuer = command_line.issuer;
        if (!issuer.empty() && issuer.back() == '/' && prefixes.size() > 1) issuer.pop_back();
        for (const std::string& prefix : prefixes) {
            nomad.set_document(prefix + "/.well-known/openid-configuration",
                               oidcgw::testing::nomad_discovery_document(
                                   prefix.empty() ? command_line.issuer : issuer + prefix));
        }
    }
    if (!command_line.jwks_file.empty()) {
        set_jwks(oidcgw::testing::read_file(command_line.jwks_file));
    }
    // Generated keys, oldest first; the last one signs. SIGUSR1 adds one, as a rotation does.
    std::vector<std::pair<oidcgw::EvpPkeyPtr, std::string>> keys;
    const std::size_t max_keys = std::max(kMaxRotatedKeys, command_line.keys);
    const auto rotate = [&](std::size_t new_keys) {
        // RSA key generation takes a third of a second or more: many keys in parallel.
        const std::size_t threads =
            std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, new_keys);
        std::vector<std::future<std::vector<oidcgw::EvpPkeyPtr>>> batches;
        for (std::size_t t = 0; t < threads; ++t) {
            const std::size_t count = new_keys / threads + (t < new_keys % threads ? 1 : 0);
            batches.push_back(std::async(std::launch::async, [count] {
                std::vector<oidcgw::EvpPkeyPtr> batch;
                for (std::size_t i = 0; i < count; ++i) {
                    batch.push_back(oidcgw::testing::generate_rsa_key(2048));
                }
                return batch;
            }));
        }
        for (auto& batch : batches) {
            for (auto& key : batch.get()) keys.emplace_back(std::move(key), random_key_id());
        }
        // Older keys leave the set eventually.
        while (keys.size() > max_keys) keys.erase(keys.begin());
        std::string jwks = "{\"keys\":[";
        for (std::size_t i = 0; i < keys.size(); ++i) {
            jwks += (i ? "," : "") +
                    oidcgw::testing::nomad_rsa_jwk(keys[i].first.get(), keys[i].second);
        }
        set_jwks(jwks + "]}");
        if (!command_line.token_file.empty()) {
            long now = static_cast<long>(std::time(nullptr));
            nlohmann::ordered_json claims = {
                {"iss", command_line.issuer},           {"aud", "demo"},
                {"sub", "global:default:demo:web:web"}, {"iat", now},
                {"exp", now + kTokenLifetimeSeconds},   {"nbf", now}};
            write_file_atomically(command_line.token_file,
                                  oidcgw::testing::sign_rs256_jwt(
                                      keys.back().first.get(), keys.back().second, claims.dump()));
        }
        return keys.back().second;
    };
    if (command_line.jwks_file.empty()) rotate(command_line.keys);

    nomad.start();
    if (!command_line.port_file.empty()) {
        write_file_atomically(command_line.port_file, std::to_string(nomad.port()) + "\n");
    }
    std::cout << "fake_nomad listening on " << nomad.base_url() << std::endl;

    for (;;) {
        int received = 0;
        if (sigwait(&stop_signals, &received) != 0) continue;
        if (received != SIGUSR1) break;
        if (!command_line.jwks_file.empty()) continue;  // a fixed JWKS does not rotate
        const std::string kid = rotate(1);
        // When the new set became visible upstream, for scripts that time the propagation.
        const auto published_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
        std::cout << "rotated: new signing key " << kid << " at " << published_ns << std::endl;
    }
    nomad.stop();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const UsageError& error) {
        std::cerr << "fake_nomad: " << error.what() << "\n" << kUsage;
        return kUsageOrRuntimeError;
    } catch (const std::exception& error) {
        std::string_view message = error.what();
        // Errors from FakeNomad itself already carry the program name.
        std::cerr << (message.starts_with("fake_nomad:") ? "" : "fake_nomad: ") << message << "\n";
        return kUsageOrRuntimeError;
    }
}
