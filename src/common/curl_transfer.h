// The libcurl set-up every GET of the gateway shares, whether it fetches from Nomad
// (upstream/upstream_client.cc) or probes the public side as an identity provider would
// (probe/probe_fetch.cc): a body collected up to a hard cap, connections sent to another address
// than the URL names (CURLOPT_CONNECT_TO), and the options that keep a transfer to what was asked
// (no redirects, no proxy from the environment, no signals, TLS 1.2 or later, one timeout).
#pragma once

#include "common/raii.h"

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace oidcgw {

// A response body collected up to `cap` bytes. The transfer is cut at the first write that would
// pass the cap (over_cap then says why it failed) instead of reading on.
struct CappedBody {
    std::string* body;
    std::size_t cap;
    bool over_cap = false;
};

// Appends `data` unless that would pass the cap; false (and over_cap set) when it would.
bool append_capped(CappedBody& sink, std::string_view data);

// CURLOPT_WRITEFUNCTION over a CappedBody (CURLOPT_WRITEDATA).
std::size_t write_capped_body(char* data, std::size_t size, std::size_t count, void* user);

// The CURLOPT_CONNECT_TO entry that sends connections for from_host:from_port to to_host:to_port
// (IPv6 literals bracketed).
std::string connect_to_entry(const std::string& from_host, unsigned from_port,
                             const std::string& to_host, unsigned to_port);

// A curl_slist of `lines` (header fields, CONNECT_TO entries); libcurl copies each line.
CurlSlistPtr make_curl_list(std::initializer_list<const char*> lines);

// What differs between the gateway's transfers; everything else is set alike.
struct CurlGet {
    std::string url;
    const char* protocols = "https";  // CURLOPT_PROTOCOLS_STR
    const char* user_agent = "";
    std::chrono::milliseconds timeout{10'000};  // the whole transfer
    bool verify_peer = true;                    // certificate and name
};

// The request's own lists; they must outlive the transfer.
struct CurlGetLists {
    CurlSlistPtr headers;
    CurlSlistPtr connect_to;  // null: connect where the URL says
};

// Resets `curl` (keeping its connection cache) and sets up a GET of `get.url` with `lists`,
// writing the body into `body` (CURLOPT_MAXFILESIZE_LARGE at its cap too, so a declared length
// over the cap fails before any byte is read).
void set_up_get(CURL* curl, const CurlGet& get, const CurlGetLists& lists, CappedBody* body);

}  // namespace oidcgw
