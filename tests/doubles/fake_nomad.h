// A Nomad-shaped upstream for tests and the demo: serves /.well-known/openid-configuration and
// /.well-known/jwks.json the way a Nomad agent's HTTP API does (headers, 405 for non-GET, chunked
// bodies, gzip only when asked, HTTPS with an optional client-certificate requirement), plus
// faults a test can switch on. Runs on its own threads; every wait is bounded.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace oidcgw::testing {

struct FakeNomadOptions {
    std::string listen_host = "127.0.0.1";
    std::uint16_t port = 0;  // 0: ephemeral
    bool tls = true;
    std::string certificate_file{};    // server chain PEM (tls)
    std::string private_key_file{};    // server key PEM (tls)
    std::string client_ca_file{};      // when set, a client certificate from this CA is required
    std::size_t chunked_above = 1024;  // bodies larger than this go out chunked, like Go's server
};

// What a path answers. Default for a path that was set with set_document: 200 with the body.
struct FakeResponse {
    int status = 200;
    std::string body{};
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> extra_headers{};
    bool gzip_body = false;  // send the body gzip-compressed with Content-Encoding: gzip
                             // even if not asked (a misbehaving upstream)
};

enum class Fault {
    None,
    Hang,                // accept, read the request, never answer
    StallAfterHeaders,   // send the head, then nothing
    CloseMidBody,        // send the head and half the body, then close
    ShortContentLength,  // declare a Content-Length larger than the body sent, then close
    DripBody,            // send the body one byte every 200 ms
};

class FakeNomad {
  public:
    explicit FakeNomad(FakeNomadOptions options);
    ~FakeNomad();  // stops
    FakeNomad(const FakeNomad&) = delete;
    FakeNomad& operator=(const FakeNomad&) = delete;

    void start();  // binds and starts serving; throws std::runtime_error on failure
    void stop();   // closes the listener and every connection, joins threads; idempotent
    std::uint16_t port() const;
    std::string base_url() const;  // "https://127.0.0.1:PORT" (or http://)

    // Serve `body` at `path` as Nomad would (200, application/json, Vary, and for the JWKS path
    // X-Nomad-Index/Cache-Control headers). Replaces any earlier response or fault for the path.
    // X-Nomad-Index moves up by one on every set_document call for the path.
    void set_document(const std::string& path, const std::string& body);
    void set_response(const std::string& path, FakeResponse response);  // clears the fault too
    // The fault applies to every request on the path, whatever the method; the path keeps its
    // response (an empty 200 application/json if it had none). Fault::None clears it.
    void set_fault(const std::string& path, Fault fault);
    // The path then answers 404 like Nomad (text/plain; the discovery path says "OIDC Discovery
    // endpoint disabled"). Non-GET on a configured path or on either well-known path: 405.
    void remove(const std::string& path);

    // ---- Hostile behaviours ----
    // From now on every request to `path` is answered at once, blocking query or not: each
    // blocking query (`?index=`) with the next of `bodies` in turn and an X-Nomad-Index one
    // higher than the last, other requests with the current body (200 and headers as
    // set_document gives them). An upstream that changes, or claims to, as fast as it is asked;
    // with a single body the gateway refuses, every answer is a change that fails.
    // set_document or set_response on the path ends it.
    void set_churning_documents(const std::string& path, std::vector<std::string> bodies);
    // The next `count` answers to blocking queries (`?index=`) on `path` carry no X-Nomad-Index,
    // as from a proxy that drops it or another agent answering for a moment.
    void strip_index_header(const std::string& path, int count);

    // How many requests reached `path` (query ignored), and the raw head of the last one
    // (request line and headers, up to and including the blank line).
    int request_count(const std::string& path) const;
    std::string last_request_head(const std::string& path) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Nomad's discovery document for `issuer`, byte for byte as Nomad renders it.
std::string nomad_discovery_document(const std::string& issuer);

}  // namespace oidcgw::testing
