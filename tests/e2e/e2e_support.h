// Running the real oidc-gateway binary (or another server, such as pebble) in end-to-end tests:
// a child process stopped by its pid, an HTTPS client with the public test CA, and bounded
// polling.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw::testing {

// A port free on 127.0.0.1 that nothing else can take before the gateway binds it: below the
// kernel's ephemeral range and reserved for this process (see e2e_support.cc).
std::uint16_t free_loopback_port();

// Polls `condition` every 25 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A child process started with fork/exec, its output appended to a log file, and stopped by its
// pid. It gets SIGKILL if the test process dies first, so no child outlives a crashed test.
class ChildProcess {
  public:
    // `command`: the executable's path, then its arguments. `environment`: the child's whole
    // environment ("NAME=value"), or none to inherit the test's.
    ChildProcess(std::vector<std::string> command, std::string log_path,
                 std::optional<std::vector<std::string>> environment = std::nullopt);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    void start();
    bool running();
    // SIGTERM (or `signal`), wait up to `timeout`, SIGKILL after that. Returns the exit status
    // (or 128+signal when killed by one), -1 when it was not running.
    int stop(int signal_number = 15, std::chrono::milliseconds timeout = std::chrono::seconds(15));
    // Waits for the process to exit by itself.
    int wait_exit(std::chrono::milliseconds timeout);
    pid_t pid() const { return pid_; }
    std::string log() const;

  private:
    std::vector<std::string> command_;
    std::string log_path_;
    std::optional<std::vector<std::string>> environment_;
    pid_t pid_ = -1;
};

// The oidc-gateway binary under test, run with `arguments`.
class GatewayProcess : public ChildProcess {
  public:
    GatewayProcess(std::vector<std::string> arguments, std::string log_path);
};

// Runs the gateway binary to completion (e.g. `check`), capturing stdout+stderr.
struct CommandOutput {
    int exit_status = -1;
    std::string output;
};
CommandOutput run_gateway_command(const std::vector<std::string>& arguments,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(20));

struct HttpResponse {
    long status = 0;  // 0: no response (connection or TLS failure)
    std::string error;
    std::multimap<std::string, std::string> headers;  // names lowercased
    std::string body;
    std::string peer_subject;     // the server certificate's subject, when asked for
    bool new_connection = false;  // a connection was opened for this request
    std::string header(const std::string& name) const;  // first value or ""
    bool has_header(const std::string& name) const;
};

struct HttpRequestOptions {
    std::string method = "GET";
    std::vector<std::string> headers;  // "Name: value"
    std::string ca_file;               // verify the server against this CA (https)
    std::string resolve;               // CURLOPT_RESOLVE entry "host:port:127.0.0.1"
    // CURLOPT_CONNECT_TO entry "host:port:127.0.0.1:other_port": the URL (Host, SNI) stays,
    // the connection goes elsewhere (a load balancer in front of the gateway).
    std::string connect_to;
    std::chrono::milliseconds timeout{5000};
    bool capture_certificate = false;  // fill peer_subject
    std::string source_address;        // local address to connect from (e.g. 127.0.0.2)
};

HttpResponse http_request(const std::string& url, const HttpRequestOptions& options = {});

// One libcurl handle kept across requests, so they share a keep-alive connection.
class KeepAliveClient {
  public:
    explicit KeepAliveClient(HttpRequestOptions options);
    ~KeepAliveClient();
    KeepAliveClient(const KeepAliveClient&) = delete;
    KeepAliveClient& operator=(const KeepAliveClient&) = delete;
    HttpResponse get(const std::string& url);

  private:
    HttpRequestOptions options_;
    void* handle_;  // CURL*
};

// A TCP connection from `source` (a loopback address) to destination:port (IPv4 or IPv6, the
// two of one family), with 5 s send and receive timeouts (which bound connect too); -1 on
// failure.
int connect_from(const std::string& source, std::uint16_t port,
                 const std::string& destination = "127.0.0.1");

// True when the server has closed `fd` (EOF or reset) within `timeout`. Bytes still in flight
// (TLS session tickets, a close_notify) are read and discarded on the way.
bool closed_by_server(int fd, std::chrono::milliseconds timeout);

// Descriptors the process holds now.
std::size_t open_descriptors(pid_t pid);

// User plus system CPU time the process has used, in clock ticks.
long cpu_ticks(pid_t pid);

}  // namespace oidcgw::testing
