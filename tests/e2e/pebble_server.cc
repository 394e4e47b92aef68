#include "pebble_server.h"

#include "common/base64url.h"
#include "jwt_tools.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
#include <resolv.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace oidcgw::testing {
namespace {

constexpr const char* kPebbleBinary = "/usr/bin/pebble";
constexpr const char* kChallengeServerBinary = "/usr/bin/pebble-challtestsrv";
constexpr const char* kEabKeyId = "oidc-gateway-test";
constexpr auto kStartTimeout = std::chrono::seconds(15);
constexpr auto kStopTimeout = std::chrono::seconds(5);
constexpr auto kProbeTimeout = std::chrono::milliseconds(1000);

std::string loopback(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

std::string random_mac_key() {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    return encode_base64url(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::uint16_t read_u16(const unsigned char* bytes) {
    return static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
}

// The addresses of `type` in the answer section of a DNS response to `query`.
std::vector<std::string> answer_addresses(const unsigned char* response, std::size_t length,
                                          const unsigned char* query, int type) {
    std::vector<std::string> addresses;
    constexpr std::size_t kHeaderLength = 12;
    const bool is_answer_to_query = length >= kHeaderLength && response[0] == query[0] &&
                                    response[1] == query[1] && (response[2] & 0x80) != 0;
    if (!is_answer_to_query || (response[3] & 0x0f) != ns_r_noerror) return addresses;
    const unsigned char* end = response + length;
    const unsigned char* cursor = response + kHeaderLength;
    // Each record's owner name is skipped: only the question's name was asked about.
    auto skip_name = [&cursor, end]() {
        const int name_length = dn_skipname(cursor, end);
        if (name_length < 0) return false;
        cursor += name_length;
        return true;
    };
    for (int question = read_u16(response + 4); question > 0; --question) {
        if (!skip_name() || end - cursor < 4) return {};
        cursor += 4;  // type, class
    }
    for (int answer = read_u16(response + 6); answer > 0; --answer) {
        if (!skip_name() || end - cursor < 10) return {};
        const int record_type = read_u16(cursor);
        const std::uint16_t data_length = read_u16(cursor + 8);
        cursor += 10;  // type, class, TTL, data length
        if (end - cursor < data_length) return {};
        const int family = record_type == ns_t_a && data_length == 4       ? AF_INET
                           : record_type == ns_t_aaaa && data_length == 16 ? AF_INET6
                                                                           : AF_UNSPEC;
        if (record_type == type && family != AF_UNSPEC) {
            std::array<char, INET6_ADDRSTRLEN> text{};
            if (::inet_ntop(family, cursor, text.data(), text.size()) != nullptr) {
                addresses.emplace_back(text.data());
            }
        }
        cursor += data_length;
    }
    return addresses;
}

}  // namespace

PebbleServer::PebbleServer(std::string work_dir, PebbleOptions options)
    : work_dir_(std::filesystem::absolute(work_dir).string()),
      options_(options),
      acme_port_(free_loopback_port()),
      management_port_(free_loopback_port()),
      http_validation_port_(free_loopback_port()),
      dns_port_(free_loopback_port()),
      dns_management_port_(free_loopback_port()),
      eab_mac_key_(random_mac_key()),
      https_pki_(work_dir_, "pebble-https") {
    if (options_.validation_port == 0) options_.validation_port = free_loopback_port();
    // pebble's HTTPS answers on "localhost" (what directory_url names) and 127.0.0.1.
    https_certificate_ = https_pki_.issue(
        {.common_name = "localhost", .dns_names = {"localhost"}, .ip_addresses = {"127.0.0.1"}});
    write_configuration();
    // Whole environments, so nothing in the test's (a PEBBLE_VA_ALWAYS_VALID, say) changes them.
    challenge_server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kChallengeServerBinary,
                                 // Every name is 127.0.0.1 and has no AAAA: pebble's VA asks
                                 // AAAA first and would otherwise dial [::1].
                                 "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01",
                                 loopback(dns_port_), "-management", loopback(dns_management_port_),
                                 // Its own challenge responders are off: the gateway answers.
                                 "-http01", "", "-https01", "", "-tlsalpn01", ""},
        process_log_path("pebble-challtestsrv"), std::vector<std::string>{});
    pebble_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kPebbleBinary, "-config", work_dir_ + "/pebble.json", "-dnsserver",
                                 loopback(dns_port_), "-strict"},
        process_log_path("pebble"),
        std::vector<std::string>{
            // Sleeping, the VA waits up to 3 s before each of its connections: a window in which
            // a test sees the challenge pending.
            options_.validation_sleeps ? "PEBBLE_VA_SLEEPTIME=3" : "PEBBLE_VA_NOSLEEP=1",
            "PEBBLE_WFE_NONCEREJECT=" + std::to_string(options_.nonce_reject_percent),
            "PEBBLE_AUTHZREUSE=" + std::to_string(options_.authz_reuse_percent)});
}

PebbleServer::~PebbleServer() {
    stop();
}

void PebbleServer::write_configuration() const {
    nlohmann::json pebble = {
        {"listenAddress", loopback(acme_port_)},
        {"managementListenAddress", loopback(management_port_)},
        // Absolute, as work_dir_ is: pebble resolves relative paths against its working directory.
        {"certificate", https_certificate_.certificate},
        {"privateKey", https_certificate_.private_key},
        {"httpPort", http_validation_port_},
        {"tlsPort", options_.validation_port},
        {"ocspResponderURL", ""},
        {"externalAccountBindingRequired", options_.external_account_binding_required},
        {"externalAccountMACKeys", {{kEabKeyId, eab_mac_key_}}}};
    if (options_.certificate_validity.count() > 0) {
        pebble["certificateValidityPeriod"] = options_.certificate_validity.count();
    }
    write_file(work_dir_ + "/pebble.json", nlohmann::json{{"pebble", pebble}}.dump(2) + "\n");
}

void PebbleServer::start() {
    if (running()) throw std::logic_error("PebbleServer::start: already running");
    for (const char* binary : {kChallengeServerBinary, kPebbleBinary}) {
        if (::access(binary, X_OK) != 0) {
            throw std::runtime_error(std::string("PebbleServer: no ") + binary +
                                     " (scripts/setup installs the Debian package pebble)");
        }
    }
    stop();  // one of the two may still run after it lost the other
    ++starts_;
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    // challtestsrv logs a failed bind and keeps running, so only an answer shows its DNS is up.
    start_until_ready(*challenge_server_, "pebble-challtestsrv", deadline, [this] {
        return dns_lookup("pebble-fixture.test", DnsRecordType::A) ==
               std::vector<std::string>{"127.0.0.1"};
    });
    start_until_ready(*pebble_, "pebble", deadline, [this] { return serving(); });
}

// Throws (with both logs, neither process left running) when `process` exits before `ready`
// holds or `deadline` passes first.
void PebbleServer::start_until_ready(ChildProcess& process, const std::string& name,
                                     std::chrono::steady_clock::time_point deadline,
                                     const std::function<bool()>& ready) {
    // Each start's lines follow a marker, since a restart appends to the same log.
    std::ofstream(process_log_path(name), std::ios::app)
        << "--- PebbleServer start " << starts_ << "\n";
    process.start();
    const auto time_left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    wait_until([&] { return !process.running() || ready(); }, time_left);
    if (!process.running()) {
        throw std::runtime_error(failure_with_logs(name + " exited while starting"));
    }
    if (!ready()) {
        throw std::runtime_error(failure_with_logs(name + " was not ready within " +
                                                   std::to_string(kStartTimeout.count()) + " s"));
    }
}

void PebbleServer::stop() {
    pebble_->stop(SIGTERM, kStopTimeout);
    challenge_server_->stop(SIGTERM, kStopTimeout);
}

bool PebbleServer::running() {
    const bool pebble_running = pebble_->running();
    const bool challenge_server_running = challenge_server_->running();
    return pebble_running && challenge_server_running;
}

std::string PebbleServer::directory_url() const {
    return "https://localhost:" + std::to_string(acme_port_) + "/dir";
}

std::string PebbleServer::https_ca_file() const {
    return https_pki_.ca_file();
}

HttpRequestOptions PebbleServer::https_options() const {
    HttpRequestOptions options;
    options.ca_file = https_ca_file();
    options.timeout = kProbeTimeout;
    return options;
}

std::string PebbleServer::root_pem() const {
    const HttpResponse response = http_request(root_url(), https_options());
    if (response.status != 200) {
        throw std::runtime_error("GET " + root_url() + " gave " + std::to_string(response.status) +
                                 " " + response.error);
    }
    return response.body;
}

std::string PebbleServer::challenge_server_management_url() const {
    return "http://" + loopback(dns_management_port_);
}

std::vector<std::string> PebbleServer::dns_lookup(const std::string& name,
                                                  DnsRecordType type) const {
    const int record_type = type == DnsRecordType::A ? ns_t_a : ns_t_aaaa;
    std::array<unsigned char, 512> query{};
    const int query_length = res_mkquery(ns_o_query, name.c_str(), ns_c_in, record_type, nullptr, 0,
                                         nullptr, query.data(), query.size());
    if (query_length < 0) throw std::runtime_error("cannot build a DNS query for " + name);
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(dns_port_);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::array<unsigned char, 1500> response{};
    ssize_t received = -1;
    // A connected UDP socket reports a closed port as ECONNREFUSED at once.
    pollfd entry{fd, POLLIN, 0};
    if (::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) == 0 &&
        ::send(fd, query.data(), static_cast<std::size_t>(query_length), 0) == query_length &&
        ::poll(&entry, 1, static_cast<int>(kProbeTimeout.count())) == 1) {
        received = ::recv(fd, response.data(), response.size(), 0);
    }
    ::close(fd);
    if (received <= 0) return {};
    return answer_addresses(response.data(), static_cast<std::size_t>(received), query.data(),
                            record_type);
}

std::string PebbleServer::log() const {
    return "=== pebble-challtestsrv\n" + challenge_server_->log() + "=== pebble\n" + pebble_->log();
}

std::string PebbleServer::eab_key_id() const {
    return kEabKeyId;
}

std::string PebbleServer::root_url() const {
    return "https://localhost:" + std::to_string(management_port_) + "/roots/0";
}

// The management API starts apart from the ACME API, so both are asked.
bool PebbleServer::serving() const {
    return http_request(directory_url(), https_options()).status == 200 &&
           http_request(root_url(), https_options()).status == 200;
}

// Stops both processes and returns `reason` with their logs, for the exception start() throws.
std::string PebbleServer::failure_with_logs(const std::string& reason) {
    stop();
    return "PebbleServer: " + reason + "\n" + log();
}

std::string PebbleServer::process_log_path(const std::string& name) const {
    return work_dir_ + "/" + name + ".log";
}

}  // namespace oidcgw::testing
