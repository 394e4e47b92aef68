// The HTTP/1.x wire side of the fake Nomad agent: just enough request parsing to route and keep a
// connection in sync, Nomad's (Go's) response conventions, and blocking reads and writes over a
// plain socket or a TLS session. Internal to the test doubles.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oidcgw::testing::fake_nomad_wire {

using Header = std::pair<std::string, std::string>;

bool equals_ignoring_case(std::string_view a, std::string_view b);
std::string_view trim(std::string_view text);

struct Request {
    std::string method;
    std::string path;   // target without query or fragment
    std::string query;  // after '?', without fragment
    std::string version;
    std::vector<Header> headers;

    const std::string* header(std::string_view name) const {
        for (const auto& [key, value] : headers) {
            if (equals_ignoring_case(key, name)) return &value;
        }
        return nullptr;
    }
};

// Just enough HTTP/1.x parsing to route and to keep a connection in sync.
std::optional<Request> parse_request_head(std::string_view head);
// A request Content-Length we are willing to read past; nullopt for junk or anything huge.
std::optional<std::size_t> parse_body_length(const std::string& text);
// True when an Accept-Encoding value lists gzip without q=0.
bool accepts_gzip(const std::string* accept_encoding);
std::string gzip_compress(const std::string& input);
std::string http_date();
const char* reason_phrase(int status);
// Go's encoding/json string form: HTML-sensitive characters and line separators escaped too.
std::string go_json_string(std::string_view text);
// The value of `name` in a query string, undecoded.
std::optional<std::string> query_parameter(const std::string& query, std::string_view name);
// Nomad's wait= values: "300s", "5m", "500ms"; capped at 10 minutes like Nomad.
std::chrono::milliseconds parse_wait(const std::string& text);

// A response as Go's net/http frames it: `headers` (the handler's) sorted by name, then Date,
// then Content-Length, or above `chunked_above` bytes Transfer-Encoding: chunked in two chunks
// (so a client that only handles one gets caught). `declared_length` replaces the true
// Content-Length (a lying upstream). No body for HEAD.
struct FramedResponse {
    std::string head;
    std::string body;
};
FramedResponse frame_response(int status, std::vector<Header> headers, const std::string& body,
                              bool head_only, bool keep_alive, std::size_t chunked_above,
                              std::optional<std::size_t> declared_length);

// A listening TCP socket on host:port (0: ephemeral); *bound_port gets the port. Throws
// std::runtime_error when nothing can be bound.
int listen_on(const std::string& host, std::uint16_t port, std::uint16_t* bound_port);

// Blocking reads and writes over a plain socket or a TLS session on it.
class Stream {
  public:
    Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}

    // > 0 bytes read; 0 on end of stream or any error.
    std::size_t read_some(char* buffer, std::size_t size) {
        if (ssl_ != nullptr) {
            int result =
                SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
            if (result > 0) return static_cast<std::size_t>(result);
            ERR_clear_error();
            return 0;
        }
        while (true) {
            ssize_t result = ::recv(fd_, buffer, size, 0);
            if (result > 0) return static_cast<std::size_t>(result);
            if (result < 0 && errno == EINTR) continue;
            return 0;
        }
    }

    bool write_all(std::string_view bytes) {
        if (bytes.empty()) return true;
        if (ssl_ != nullptr) {
            // Without SSL_MODE_ENABLE_PARTIAL_WRITE a blocking SSL_write sends everything or fails.
            bool ok = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0;
            if (!ok) ERR_clear_error();
            return ok;
        }
        while (!bytes.empty()) {
            ssize_t result = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (result < 0 && errno == EINTR) continue;
            if (result <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(result));
        }
        return true;
    }

    void close_notify() {
        if (ssl_ != nullptr && SSL_shutdown(ssl_) < 0) ERR_clear_error();
    }

  private:
    int fd_;
    SSL* ssl_;
};

}  // namespace oidcgw::testing::fake_nomad_wire
