// The ACME client's HTTPS (RFC 8555 section 6.1): GET of the directory, HEAD of newNonce, and
// POSTs of JWS bodies, over one libcurl handle that keeps the connection. Every answer is read
// up to a cap, with the headers ACME needs (Replay-Nonce, Location, Retry-After, Link). A
// transfer is bounded by a timeout and ends early once `stop` is set.
#pragma once

#include "common/raii.h"

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace oidcgw {

struct AcmeHttpResponse {
    long status = 0;    // 0: no answer
    std::string error;  // why there was no answer (connection, TLS, timeout, too large, stopped)
    std::string body;
    std::string content_type;
    std::string location;
    std::string replay_nonce;
    // Retry-After in seconds, clamped to 0..86400 (0: none); libcurl reads both of its forms.
    std::chrono::seconds retry_after{0};
    std::vector<std::string> alternate_links;  // Link: <url>;rel="alternate"

    bool answered() const { return status != 0; }
    bool success() const { return status >= 200 && status < 300; }
};

struct AcmeHttpSettings {
    std::string ca_pem;  // verifies the CA's server; "" uses the system store
    std::chrono::milliseconds timeout{30'000};
    std::size_t max_body_bytes = 256 * 1024;
};

class AcmeHttp {
  public:
    AcmeHttp(AcmeHttpSettings settings, const std::atomic<bool>& stop);

    AcmeHttpResponse get(const std::string& url);
    AcmeHttpResponse head(const std::string& url);
    // Content-Type exactly application/jose+json, as RFC 8555 section 6.2 requires.
    AcmeHttpResponse post_jose(const std::string& url, const std::string& body);

  private:
    enum class Method { Get, Head, Post };
    AcmeHttpResponse perform(Method method, const std::string& url, const std::string& body);

    AcmeHttpSettings settings_;
    const std::atomic<bool>& stop_;
    CurlPtr curl_;
};

// The URLs of a Link header value's entries with rel="alternate" (RFC 8288), in order. Pure.
std::vector<std::string> alternate_link_urls(std::string_view header_value);

}  // namespace oidcgw
