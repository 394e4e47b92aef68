// One HTTPS GET as an identity provider makes it for `probe`: libcurl, certificate and name
// verified against the system store (or --ca), no redirects followed, a size cap, one timeout,
// and optionally every connection to the issuer's host:port sent elsewhere (--connect-to).
#pragma once

#include "common/curl_transfer.h"  // connect_to_entry, for --connect-to

#include <chrono>
#include <cstddef>
#include <string>

namespace oidcgw {

struct ProbeFetchSettings {
    std::string ca_file;     // PEM bundle to trust instead of the system store; "" for the store
    std::string connect_to;  // CURLOPT_CONNECT_TO entry "HOST:PORT:TO_HOST:TO_PORT", or ""
    std::chrono::milliseconds timeout{10'000};
    std::size_t max_body_bytes = 1024 * 1024;
};

struct ProbeFetch {
    bool reached = false;   // a complete HTTP response arrived
    bool verified = false;  // ... over a connection whose certificate verified
    std::string tls_error;  // reached && !verified: why verification failed
    std::string error;      // !reached: why not (connect, TLS, timeout, too large)
    long status = 0;
    std::string content_type;  // as sent, "" when absent
    std::string location;      // the redirect target for a 3xx
    std::string body;
    std::chrono::milliseconds elapsed{0};  // request start to last byte
};

// GETs `url`. When the certificate does not verify, fetches again without verification so that
// the document can still be checked; the result then says reached && !verified.
ProbeFetch probe_fetch(const std::string& url, const ProbeFetchSettings& settings);

}  // namespace oidcgw
