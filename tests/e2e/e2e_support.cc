#include "e2e_support.h"

#include "common/ascii.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace oidcgw::testing {
namespace {

int decode_wait_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// Waits for `pid` up to `timeout`; returns the decoded status or -2 when still running.
int wait_for_pid(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return decode_wait_status(status);
        if (done < 0) return -1;
        if (std::chrono::steady_clock::now() >= deadline) return -2;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// `environment` null: the child inherits the test's environment.
pid_t spawn(const std::vector<std::string>& arguments, int output_fd,
            const std::vector<std::string>* environment = nullptr) {
    std::vector<char*> argv;
    for (const std::string& argument : arguments)
        argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    // Built before fork: the child of a threaded process may only make async-signal-safe calls.
    std::vector<char*> envp;
    if (environment != nullptr) {
        for (const std::string& entry : *environment)
            envp.push_back(const_cast<char*>(entry.c_str()));
        envp.push_back(nullptr);
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(output_fd, STDOUT_FILENO);
        ::dup2(output_fd, STDERR_FILENO);
        // The test process may block signals in threads; start the child with a clean mask.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        // A crashed or killed test must not leave its servers holding ports.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        if (environment != nullptr) {
            ::execve(argv[0], argv.data(), envp.data());
        } else {
            ::execv(argv[0], argv.data());
        }
        ::_exit(127);
    }
    return pid;
}

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* response = static_cast<HttpResponse*>(user);
    std::string line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) {
        response->headers.clear();  // a new response head (e.g. after 100-continue)
        return size * count;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) return size * count;
    const std::string name = to_lower_ascii(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    response->headers.emplace(name, value);
    return size * count;
}

}  // namespace

// A port that the kernel never hands to a client connection (it lies below the ephemeral range)
// and that no other test process takes: each candidate is reserved by an flock on a file in
// /tmp/oidc-gateway-test-ports held until this process exits, then checked free by a bind.
// (Binding port 0 and closing it, as before, let a parallel test's connect take the port before
// the gateway bound it.)
std::uint16_t free_loopback_port() {
    static std::mutex mutex;
    static std::vector<int> reservations;  // lock files held for the life of the process
    const std::lock_guard lock(mutex);
    int ephemeral_low = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
    const int low = std::max(1024, ephemeral_low - 12'000);
    const int count = ephemeral_low - low;
    if (count <= 0) throw std::runtime_error("no port range below the ephemeral ports");
    const std::string dir = "/tmp/oidc-gateway-test-ports";
    ::mkdir(dir.c_str(), 01777);
    std::minstd_rand random(
        static_cast<unsigned>(::getpid()) ^
        static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
    const int start = static_cast<int>(random() % static_cast<unsigned>(count));
    for (int i = 0; i < count; ++i) {
        const int port = low + (start + i) % count;
        const std::string path = dir + "/" + std::to_string(port);
        const int lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (lock_fd < 0) continue;
        if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(lock_fd);
            continue;
        }
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int on = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as the gateway binds
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        if (!free) {
            ::close(lock_fd);
            continue;
        }
        reservations.push_back(lock_fd);
        return static_cast<std::uint16_t>(port);
    }
    throw std::runtime_error("no free loopback port below the ephemeral range");
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
}

ChildProcess::ChildProcess(std::vector<std::string> command, std::string log_path,
                           std::optional<std::vector<std::string>> environment)
    : command_(std::move(command)),
      log_path_(std::move(log_path)),
      environment_(std::move(environment)) {}

ChildProcess::~ChildProcess() {
    if (pid_ > 0) stop(SIGKILL, std::chrono::seconds(5));
}

void ChildProcess::start() {
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot open " + log_path_);
    pid_ = spawn(command_, fd, environment_ ? &*environment_ : nullptr);
    ::close(fd);
}

bool ChildProcess::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int ChildProcess::stop(int signal_number, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal_number);
    int status = wait_for_pid(pid_, timeout);
    if (status == -2) {
        ::kill(pid_, SIGKILL);
        status = wait_for_pid(pid_, std::chrono::seconds(5));
    }
    pid_ = -1;
    return status;
}

int ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    const int status = wait_for_pid(pid_, timeout);
    if (status != -2) pid_ = -1;
    return status;
}

std::string ChildProcess::log() const {
    std::ifstream in(log_path_);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

namespace {

std::vector<std::string> gateway_command(const std::vector<std::string>& arguments) {
    std::vector<std::string> command{OIDCGW_BINARY};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return command;
}

}  // namespace

GatewayProcess::GatewayProcess(std::vector<std::string> arguments, std::string log_path)
    : ChildProcess(gateway_command(arguments), std::move(log_path)) {}

CommandOutput run_gateway_command(const std::vector<std::string>& arguments,
                                  std::chrono::milliseconds timeout) {
    char path[] = "/tmp/oidcgw-command-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    const pid_t pid = spawn(gateway_command(arguments), fd);
    ::close(fd);
    CommandOutput result;
    result.exit_status = wait_for_pid(pid, timeout);
    if (result.exit_status == -2) {
        ::kill(pid, SIGKILL);
        wait_for_pid(pid, std::chrono::seconds(5));
        result.exit_status = -1;
    }
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    result.output = content.str();
    ::unlink(path);
    return result;
}

std::string HttpResponse::header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

bool HttpResponse::has_header(const std::string& name) const {
    return headers.count(name) > 0;
}

namespace {

// Runs one request on `handle` (fresh or reused) with `options`.
HttpResponse perform(CURL* handle, const std::string& url, const HttpRequestOptions& options) {
    HttpResponse response;
    curl_slist* headers = nullptr;
    for (const std::string& header : options.headers) {
        headers = curl_slist_append(headers, header.c_str());
    }
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                            curl_slist_free_all);
    curl_slist* resolve = nullptr;
    if (!options.resolve.empty()) resolve = curl_slist_append(nullptr, options.resolve.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> resolve_list(resolve,
                                                                             curl_slist_free_all);
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_PATH_AS_IS, 1L);  // send "..", "//" as written
    curl_easy_setopt(handle, CURLOPT_PROXY, "");
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(handle, CURLOPT_RESOLVE, resolve_list.get());
    curl_slist* connect_to = nullptr;
    if (!options.connect_to.empty()) {
        connect_to = curl_slist_append(nullptr, options.connect_to.c_str());
    }
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> connect_to_list(
        connect_to, curl_slist_free_all);
    curl_easy_setopt(handle, CURLOPT_CONNECT_TO, connect_to_list.get());
    if (!options.ca_file.empty()) curl_easy_setopt(handle, CURLOPT_CAINFO, options.ca_file.c_str());
    if (options.capture_certificate) curl_easy_setopt(handle, CURLOPT_CERTINFO, 1L);
    if (!options.source_address.empty()) {
        curl_easy_setopt(handle, CURLOPT_INTERFACE, options.source_address.c_str());
    }
    if (options.method == "HEAD") {
        curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else if (options.method != "GET") {
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, options.method.c_str());
    }
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response);
    const CURLcode code = curl_easy_perform(handle);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(handle, CURLOPT_RESOLVE, nullptr);
    if (code != CURLE_OK) {
        response.error = curl_easy_strerror(code);
        response.status = 0;
        return response;
    }
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
    long connects = 0;
    curl_easy_getinfo(handle, CURLINFO_NUM_CONNECTS, &connects);
    response.new_connection = connects > 0;
    if (options.capture_certificate) {
        curl_certinfo* info = nullptr;
        curl_easy_getinfo(handle, CURLINFO_CERTINFO, &info);
        if (info != nullptr && info->num_of_certs > 0) {
            for (curl_slist* item = info->certinfo[0]; item != nullptr; item = item->next) {
                const std::string line = item->data;
                if (line.rfind("Subject:", 0) == 0) response.peer_subject = line.substr(8);
            }
        }
    }
    return response;
}

}  // namespace

HttpResponse http_request(const std::string& url, const HttpRequestOptions& options) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    return perform(curl.get(), url, options);
}

KeepAliveClient::KeepAliveClient(HttpRequestOptions options)
    : options_(std::move(options)), handle_(curl_easy_init()) {}

KeepAliveClient::~KeepAliveClient() {
    curl_easy_cleanup(static_cast<CURL*>(handle_));
}

HttpResponse KeepAliveClient::get(const std::string& url) {
    return perform(static_cast<CURL*>(handle_), url, options_);
}

// A TCP connection from `source` (a loopback address) to 127.0.0.1:port; -1 on failure.
int connect_from(const std::string& source, std::uint16_t port, const std::string& destination) {
    const bool ipv6 = destination.find(':') != std::string::npos;
    const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    // Bounds connect() too: on Linux a blocking connect gives up after the send timeout.
    const timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_storage local{};
    sockaddr_storage remote{};
    socklen_t length = 0;
    bool parsed = false;
    if (ipv6) {
        auto* local6 = reinterpret_cast<sockaddr_in6*>(&local);
        auto* remote6 = reinterpret_cast<sockaddr_in6*>(&remote);
        local6->sin6_family = remote6->sin6_family = AF_INET6;
        remote6->sin6_port = htons(port);
        parsed = ::inet_pton(AF_INET6, source.c_str(), &local6->sin6_addr) == 1 &&
                 ::inet_pton(AF_INET6, destination.c_str(), &remote6->sin6_addr) == 1;
        length = sizeof(sockaddr_in6);
    } else {
        auto* local4 = reinterpret_cast<sockaddr_in*>(&local);
        auto* remote4 = reinterpret_cast<sockaddr_in*>(&remote);
        local4->sin_family = remote4->sin_family = AF_INET;
        remote4->sin_port = htons(port);
        parsed = ::inet_pton(AF_INET, source.c_str(), &local4->sin_addr) == 1 &&
                 ::inet_pton(AF_INET, destination.c_str(), &remote4->sin_addr) == 1;
        length = sizeof(sockaddr_in);
    }
    if (!parsed || ::bind(fd, reinterpret_cast<sockaddr*>(&local), length) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&remote), length) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// True when the server has closed `fd` (EOF or reset) within `timeout`. Bytes still in flight
// (TLS session tickets, a close_notify) are read and discarded on the way.
bool closed_by_server(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd entry{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) {
            return false;
        }
        const ssize_t received = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (received == 0) return true;
        if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    }
}

// Descriptors the process holds now.
std::size_t open_descriptors(pid_t pid) {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        ++count;
    }
    return count;
}

// User plus system CPU time the process has used, in clock ticks.
long cpu_ticks(pid_t pid) {
    std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // Fields after the parenthesised command name, which may itself hold spaces.
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int index = 3; fields >> field; ++index) {
        if (index == 14) utime = std::stol(field);
        if (index == 15) {
            stime = std::stol(field);
            break;
        }
    }
    return utime + stime;
}

}  // namespace oidcgw::testing
