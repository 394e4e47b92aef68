#include "fake_nomad.h"

#include "common/raii.h"
#include "fake_nomad_wire.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <list>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace oidcgw::testing {
namespace {

constexpr std::string_view kJwksPath = "/.well-known/jwks.json";
constexpr std::string_view kDiscoveryPath = "/.well-known/openid-configuration";
constexpr std::size_t kMaxHeadBytes = 64 * 1024;
constexpr auto kDripInterval = std::chrono::milliseconds(200);
constexpr auto kAcceptRetryPause = std::chrono::milliseconds(20);
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

using namespace fake_nomad_wire;

std::string openssl_errors() {
    std::string text;
    while (unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) text += "; ";
        text += buffer;
    }
    return text;
}

int select_http11(SSL*, const unsigned char** out, unsigned char* out_length,
                  const unsigned char* offered, unsigned int offered_length, void*) {
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, kAlpnHttp11, sizeof kAlpnHttp11, offered,
                              offered_length) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;  // like Go: carry on without ALPN rather than fail
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

// A document as Nomad serves it; the JWKS carries the blocking-query headers.
FakeResponse nomad_document_response(const std::string& path, const std::string& body,
                                     std::uint64_t index) {
    FakeResponse response;
    response.body = body;
    response.extra_headers = {{"Vary", "Accept-Encoding"}};
    if (path == kJwksPath) {
        response.extra_headers.insert(response.extra_headers.end(),
                                      {{"Cache-Control", "max-age=86400"},
                                       {"X-Nomad-Index", std::to_string(index)},
                                       {"X-Nomad-Knownleader", "true"},
                                       {"X-Nomad-Lastcontact", "0"}});
    }
    return response;
}

}  // namespace

// The Impl's own types, named (not in the anonymous namespace) since a member of FakeNomad::Impl
// may not have a type of internal linkage.
namespace fake_nomad_internal {

struct Connection {
    int fd = -1;  // closed (and set to -1) only under the mutex, so stop() never hits a reused fd
    std::thread thread;
    bool finished = false;
};

struct Route {
    FakeResponse response;
    Fault fault = Fault::None;
    std::vector<std::string> churn{};  // set_churning_documents: answered in turn, at once
    std::size_t churn_next = 0;
};

// What one request gets, already in wire form.
struct PlannedResponse {
    std::string head;
    std::string body;  // framed (chunked or not); empty for HEAD
    Fault fault = Fault::None;
};

}  // namespace fake_nomad_internal

using fake_nomad_internal::Connection;
using fake_nomad_internal::PlannedResponse;
using fake_nomad_internal::Route;

struct FakeNomad::Impl {
    FakeNomadOptions options;
    SslCtxPtr ssl_context;
    int listen_fd = -1;
    std::uint16_t bound_port = 0;
    std::thread accept_thread;

    mutable std::mutex mutex;
    std::condition_variable stop_signal;
    bool running = false;
    bool stopping = false;
    std::list<std::unique_ptr<Connection>> connections;
    std::map<std::string, Route> routes;
    std::map<std::string, std::uint64_t> document_indexes;
    std::map<std::string, int> index_strips;  // blocking-query answers left to strip the index of
    std::map<std::string, int> request_counts;
    std::map<std::string, std::string> last_heads;

    void build_tls_context();
    void bind_listener();
    void accept_loop();
    void serve_connection(Connection* connection);
    // False when the connection must close after this request.
    bool serve_request(Stream& stream, const Request& request, const std::string& raw_head,
                       bool keep_alive);
    PlannedResponse plan_response(const Request& request, bool keep_alive);

    // Sleeps up to `duration` (forever when nullopt); true when stop() was called.
    bool wait_for_stop(std::optional<std::chrono::milliseconds> duration) {
        std::unique_lock lock(mutex);
        if (!duration) {
            stop_signal.wait(lock, [this] { return stopping; });
            return true;
        }
        return stop_signal.wait_for(lock, *duration, [this] { return stopping; });
    }
};

void FakeNomad::Impl::build_tls_context() {
    ssl_context.reset(SSL_CTX_new(TLS_server_method()));
    if (!ssl_context) throw std::runtime_error("fake_nomad: SSL_CTX_new: " + openssl_errors());
    SSL_CTX* context = ssl_context.get();
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);  // Nomad's floor
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_use_certificate_chain_file(context, options.certificate_file.c_str()) != 1) {
        throw std::runtime_error("fake_nomad: cannot load certificate " + options.certificate_file +
                                 ": " + openssl_errors());
    }
    if (SSL_CTX_use_PrivateKey_file(context, options.private_key_file.c_str(), SSL_FILETYPE_PEM) !=
            1 ||
        SSL_CTX_check_private_key(context) != 1) {
        throw std::runtime_error("fake_nomad: cannot use private key " + options.private_key_file +
                                 ": " + openssl_errors());
    }
    if (!options.client_ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(context, options.client_ca_file.c_str(), nullptr) != 1) {
            throw std::runtime_error("fake_nomad: cannot load client CA " + options.client_ca_file +
                                     ": " + openssl_errors());
        }
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str())) {
            SSL_CTX_set_client_CA_list(context, names);  // takes ownership
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    // Resumed sessions with client verification need a context id, or OpenSSL refuses them.
    static constexpr unsigned char kSessionContext[] = "fake_nomad";
    SSL_CTX_set_session_id_context(context, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_alpn_select_cb(context, select_http11, nullptr);
}

void FakeNomad::Impl::bind_listener() {
    listen_fd = listen_on(options.listen_host, options.port, &bound_port);
}

void FakeNomad::Impl::accept_loop() {
    while (true) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        int accept_errno = errno;
        std::list<std::unique_ptr<Connection>> finished;
        {
            std::unique_lock lock(mutex);
            if (stopping) {
                if (fd >= 0) ::close(fd);
                return;
            }
            // Join finished connections as we go so a long test does not pile up threads.
            for (auto it = connections.begin(); it != connections.end();) {
                auto next = std::next(it);
                if ((*it)->finished) finished.splice(finished.end(), connections, it);
                it = next;
            }
            if (fd >= 0) {
                int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                auto connection = std::make_unique<Connection>();
                connection->fd = fd;
                Connection* raw = connection.get();
                try {
                    raw->thread = std::thread([this, raw] { serve_connection(raw); });
                    connections.push_back(std::move(connection));
                } catch (const std::system_error&) {
                    ::close(fd);
                }
            }
        }
        for (auto& connection : finished) connection->thread.join();
        if (fd < 0 && accept_errno != EINTR && accept_errno != ECONNABORTED) {
            // EMFILE and the like: back off briefly instead of spinning.
            if (wait_for_stop(kAcceptRetryPause)) return;
        }
    }
}

void FakeNomad::Impl::serve_connection(Connection* connection) {
    // A client that hangs up mid-response must not kill the process with SIGPIPE; a blocked
    // thread-directed SIGPIPE is simply discarded when this thread ends.
    sigset_t sigpipe;
    sigemptyset(&sigpipe);
    sigaddset(&sigpipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe, nullptr);

    int fd = connection->fd;  // stable: only this thread closes it
    try {
        SslPtr ssl;
        bool usable = true;
        if (ssl_context) {
            ssl.reset(SSL_new(ssl_context.get()));
            usable = ssl && SSL_set_fd(ssl.get(), fd) == 1 && SSL_accept(ssl.get()) == 1;
            if (!usable) ERR_clear_error();
        }
        if (usable) {
            Stream stream(fd, ssl.get());
            std::string buffer;
            char chunk[16384];
            bool open = true;
            while (open) {
                std::size_t head_end;
                while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
                    std::size_t received =
                        buffer.size() > kMaxHeadBytes ? 0 : stream.read_some(chunk, sizeof chunk);
                    if (received == 0) {
                        open = false;
                        break;
                    }
                    buffer.append(chunk, received);
                }
                if (!open) break;
                std::string raw_head = buffer.substr(0, head_end + 4);
                buffer.erase(0, head_end + 4);

                std::optional<Request> request = parse_request_head(raw_head);
                if (!request) {
                    stream.write_all(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; "
                        "charset=utf-8\r\nConnection: close\r\nContent-Length: 11\r\n\r\n"
                        "Bad Request");
                    break;
                }
                // Discard a request body so the next request on the connection parses; chunked
                // request bodies are not worth supporting here, so those close the connection.
                bool keep_alive = request->header("Transfer-Encoding") == nullptr;
                if (const std::string* length = request->header("Content-Length")) {
                    std::optional<std::size_t> parsed = parse_body_length(*length);
                    std::size_t body_length = parsed.value_or(0);
                    if (!parsed) keep_alive = false;
                    while (keep_alive && buffer.size() < body_length) {
                        std::size_t received = stream.read_some(chunk, sizeof chunk);
                        if (received == 0) break;
                        buffer.append(chunk, received);
                    }
                    buffer.erase(0, std::min(body_length, buffer.size()));
                }
                const std::string* connection_header = request->header("Connection");
                if (request->version == "HTTP/1.0") {
                    keep_alive = keep_alive && connection_header != nullptr &&
                                 equals_ignoring_case(*connection_header, "keep-alive");
                } else if (connection_header != nullptr &&
                           equals_ignoring_case(*connection_header, "close")) {
                    keep_alive = false;
                }
                open = serve_request(stream, *request, raw_head, keep_alive);
            }
        }
        ssl.reset();
    } catch (const std::exception&) {
        // Nothing to report to: dropping the connection is what a broken upstream does anyway.
    }
    std::lock_guard lock(mutex);
    ::close(fd);
    connection->fd = -1;
    connection->finished = true;
}

PlannedResponse FakeNomad::Impl::plan_response(const Request& request, bool keep_alive) {
    FakeResponse response;
    PlannedResponse plan;
    {
        std::unique_lock lock(mutex);
        request_counts[request.path] += 1;
        // Nomad's blocking query: ?index=N&wait=D holds the request until the path's index passes
        // N or the wait ends (set_document moves the index and wakes waiters).
        const auto index_parameter = query_parameter(request.query, "index");
        const auto churning = [&] {
            const auto found = routes.find(request.path);
            return found != routes.end() && !found->second.churn.empty();
        };
        if (request.method == "GET" && index_parameter && document_indexes.count(request.path) &&
            !churning()) {
            const std::uint64_t seen = std::strtoull(index_parameter->c_str(), nullptr, 10);
            const auto wait = parse_wait(query_parameter(request.query, "wait").value_or("300s"));
            stop_signal.wait_for(lock, wait,
                                 [&] { return stopping || document_indexes[request.path] > seen; });
        }
        auto route = routes.find(request.path);
        bool nomad_path = request.path == kJwksPath || request.path == kDiscoveryPath;
        if ((route != routes.end() || nomad_path) && request.method != "GET") {
            // Nomad's handlers reject every other method, HEAD included.
            response = FakeResponse{
                405, "Invalid method", "text/plain; charset=utf-8", {{"Vary", "Accept-Encoding"}}};
        } else if (route == routes.end()) {
            std::string message = request.path == kDiscoveryPath
                                      ? "OIDC Discovery endpoint disabled"
                                      : "404 page not found\n";
            response = FakeResponse{
                404, message, "text/plain; charset=utf-8", {{"Vary", "Accept-Encoding"}}};
        } else if (Route& found = route->second; !found.churn.empty()) {
            // Each blocking query finds the next body (and a higher index); plain requests get
            // the current one, so the round a change triggers confirms that change.
            if (index_parameter) {
                found.churn_next = (found.churn_next + 1) % found.churn.size();
                ++document_indexes[request.path];
            }
            response = nomad_document_response(request.path, found.churn[found.churn_next],
                                               document_indexes[request.path]);
        } else {
            response = found.response;
        }
        if (route != routes.end()) plan.fault = route->second.fault;
        if (auto strip = index_strips.find(request.path);
            index_parameter && strip != index_strips.end() && strip->second > 0) {
            --strip->second;
            std::erase_if(response.extra_headers,
                          [](const Header& header) { return header.first == "X-Nomad-Index"; });
        }
    }

    bool head_only = request.method == "HEAD";
    bool compress = response.gzip_body ||
                    (!response.body.empty() && accepts_gzip(request.header("Accept-Encoding")));
    std::string body = compress ? gzip_compress(response.body) : response.body;

    std::vector<Header> headers = response.extra_headers;
    if (!response.content_type.empty()) headers.emplace_back("Content-Type", response.content_type);
    if (compress) headers.emplace_back("Content-Encoding", "gzip");
    std::optional<std::size_t> declared_length;
    if (plan.fault == Fault::ShortContentLength) {
        declared_length = body.size() + body.size() / 2 + 16;
    }
    FramedResponse framed = frame_response(response.status, std::move(headers), body, head_only,
                                           keep_alive, options.chunked_above, declared_length);
    plan.head = std::move(framed.head);
    plan.body = std::move(framed.body);
    return plan;
}

bool FakeNomad::Impl::serve_request(Stream& stream, const Request& request,
                                    const std::string& raw_head, bool keep_alive) {
    {
        std::lock_guard lock(mutex);
        last_heads[request.path] = raw_head;
    }
    PlannedResponse plan = plan_response(request, keep_alive);
    switch (plan.fault) {
        case Fault::None:
            return stream.write_all(plan.head + plan.body) && keep_alive;
        case Fault::Hang:
            wait_for_stop(std::nullopt);
            return false;
        case Fault::StallAfterHeaders:
            if (stream.write_all(plan.head)) wait_for_stop(std::nullopt);
            return false;
        case Fault::CloseMidBody:
            stream.write_all(plan.head + plan.body.substr(0, plan.body.size() / 2));
            return false;
        case Fault::ShortContentLength:
            stream.write_all(plan.head + plan.body);
            return false;
        case Fault::DripBody:
            if (!stream.write_all(plan.head)) return false;
            for (char byte : plan.body) {
                if (wait_for_stop(kDripInterval)) return false;
                if (!stream.write_all(std::string_view(&byte, 1))) return false;
            }
            return keep_alive;
    }
    return false;
}

FakeNomad::FakeNomad(FakeNomadOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
}

FakeNomad::~FakeNomad() {
    stop();
}

void FakeNomad::start() {
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->running) throw std::runtime_error("fake_nomad: already started");
    }
    if (impl_->options.tls) {
        impl_->build_tls_context();
    } else {
        impl_->ssl_context.reset();
    }
    impl_->bind_listener();
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = false;
        impl_->running = true;
    }
    try {
        impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
    } catch (...) {
        ::close(impl_->listen_fd);
        impl_->listen_fd = -1;
        std::lock_guard lock(impl_->mutex);
        impl_->running = false;
        throw;
    }
}

void FakeNomad::stop() {
    {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->running) return;
        impl_->stopping = true;
    }
    impl_->stop_signal.notify_all();
    // shutdown() wakes the blocked accept(); closing alone would not.
    ::shutdown(impl_->listen_fd, SHUT_RDWR);
    if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
    ::close(impl_->listen_fd);
    impl_->listen_fd = -1;

    std::list<std::unique_ptr<Connection>> remaining;
    {
        std::lock_guard lock(impl_->mutex);
        // Wakes threads blocked in reads and writes; each closes its own descriptor.
        for (auto& connection : impl_->connections) {
            if (connection->fd >= 0) ::shutdown(connection->fd, SHUT_RDWR);
        }
        remaining.swap(impl_->connections);
    }
    for (auto& connection : remaining) connection->thread.join();
    std::lock_guard lock(impl_->mutex);
    impl_->running = false;
}

std::uint16_t FakeNomad::port() const {
    return impl_->bound_port;
}

std::string FakeNomad::base_url() const {
    const std::string& host = impl_->options.listen_host;
    std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return std::string(impl_->options.tls ? "https://" : "http://") + authority + ":" +
           std::to_string(port());
}

void FakeNomad::set_document(const std::string& path, const std::string& body) {
    std::lock_guard lock(impl_->mutex);
    impl_->stop_signal.notify_all();  // wakes blocking queries on this path
    const std::uint64_t index = ++impl_->document_indexes[path];
    impl_->routes[path] = Route{nomad_document_response(path, body, index), Fault::None};
}

void FakeNomad::set_churning_documents(const std::string& path, std::vector<std::string> bodies) {
    if (bodies.empty()) throw std::invalid_argument("fake_nomad: no bodies to churn through");
    std::lock_guard lock(impl_->mutex);
    impl_->stop_signal.notify_all();  // a blocking query waiting now answers at once too
    const std::uint64_t index = ++impl_->document_indexes[path];
    Route route{nomad_document_response(path, bodies.front(), index), Fault::None};
    route.churn = std::move(bodies);
    impl_->routes[path] = std::move(route);
}

void FakeNomad::strip_index_header(const std::string& path, int count) {
    std::lock_guard lock(impl_->mutex);
    impl_->index_strips[path] = count;
}

void FakeNomad::set_response(const std::string& path, FakeResponse response) {
    std::lock_guard lock(impl_->mutex);
    impl_->routes[path] = Route{std::move(response), Fault::None};
}

void FakeNomad::set_fault(const std::string& path, Fault fault) {
    std::lock_guard lock(impl_->mutex);
    impl_->routes[path].fault = fault;
}

void FakeNomad::remove(const std::string& path) {
    std::lock_guard lock(impl_->mutex);
    impl_->routes.erase(path);
}

int FakeNomad::request_count(const std::string& path) const {
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->request_counts.find(path);
    return found == impl_->request_counts.end() ? 0 : found->second;
}

std::string FakeNomad::last_request_head(const std::string& path) const {
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->last_heads.find(path);
    return found == impl_->last_heads.end() ? std::string() : found->second;
}

std::string nomad_discovery_document(const std::string& issuer) {
    std::string base = issuer;
    if (!base.empty() && base.back() == '/') base.pop_back();
    return R"({"id_token_signing_alg_values_supported":["RS256","EdDSA"],"issuer":)" +
           go_json_string(issuer) + R"(,"jwks_uri":)" +
           go_json_string(base + std::string(kJwksPath)) +
           R"(,"response_types_supported":["code"],"subject_types_supported":["public"]})";
}

}  // namespace oidcgw::testing
