// Fetches one document from one upstream with libcurl: verified TLS (optionally mutual), a name
// to verify that differs from the address dialled, identity encoding, no redirects, a hard size
// cap and one total timeout. One client per thread; it keeps connections alive between calls.
#pragma once

#include "common/raii.h"
#include "config/config.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

struct FetchResult {
    bool ok = false;       // a 200 with an acceptable body
    long http_status = 0;  // 0 when no response arrived
    std::string body;
    std::string error_code;  // when !ok: dns, connect, timeout, tls, truncated, too_large,
                             // http_status, redirect, content_encoding, aborted, transport
    std::string error;       // when !ok: a sentence for operators
    std::chrono::milliseconds elapsed{0};
    std::optional<std::uint64_t> nomad_index;  // X-Nomad-Index, when the upstream sent one
};

// The upstream TLS files that config/config.h's UpstreamTls names (paths), read into memory by
// load_upstream_tls when the configuration is (re)loaded: libcurl would otherwise reopen them for
// every connection, after privileges were dropped and outside the transactional reload.
struct LoadedUpstreamTls {
    std::string ca_pem;           // empty: the system store
    std::string certificate_pem;  // empty: no client certificate
    std::string private_key_pem;
    std::string server_name;

    bool operator==(const LoadedUpstreamTls&) const = default;
};

// Reads the files `tls` names; nullopt with *error naming the config key (relative to
// upstream_tls) when one cannot be read.
std::optional<LoadedUpstreamTls> load_upstream_tls(const UpstreamTls& tls, std::string* error);

struct UpstreamClientSettings {
    std::optional<LoadedUpstreamTls> tls;
    std::chrono::milliseconds timeout{10'000};
    std::size_t max_body_bytes = 1024 * 1024;
};

class UpstreamClient {
  public:
    explicit UpstreamClient(UpstreamClientSettings settings);

    // GET `path` on `upstream`. Returns early (error_code "aborted") once *stop becomes true.
    // `timeout` overrides the configured total timeout (a blocking query waits longer).
    FetchResult get(const UpstreamUrl& upstream, std::string_view path,
                    const std::atomic<bool>& stop,
                    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  private:
    UpstreamClientSettings settings_;
    CurlPtr handle_;
};

}  // namespace oidcgw
