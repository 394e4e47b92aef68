// libcurl fetches of the fake Nomad agent, the way the gateway's upstream client makes them, and
// the few helpers the fake_nomad tests share.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include "fake_nomad.h"
#include "test_pki.h"
#include "tls_test_client.h"

namespace oidcgw::testing {

// --- fake_nomad, fetched the way the gateway's upstream client does it: with libcurl ---

struct HttpResult {
    CURLcode code = CURLE_OK;
    long status = 0;
    long new_connections = 0;
    std::string body;
    std::vector<std::string> header_lines;

    std::optional<std::string> header(const std::string& name) const {
        for (const auto& line : header_lines) {
            if (line.size() > name.size() && line[name.size()] == ':' &&
                strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
                std::string value = line.substr(name.size() + 1);
                value.erase(0, value.find_first_not_of(' '));
                value.erase(value.find_last_not_of("\r\n ") + 1);
                return value;
            }
        }
        return std::nullopt;
    }
};

struct FetchOptions {
    std::string url;
    std::string resolve{};  // "host:port:address"
    std::string ca_file{};
    std::string certificate_file{};
    std::string private_key_file{};
    std::vector<std::string> request_headers{};
    std::string method = "GET";
};

inline std::size_t collect_bytes(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
}

inline std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::vector<std::string>*>(target)->emplace_back(data, size * count);
    return size * count;
}

// One transfer on `handle` (reused across calls so keep-alive can be observed).
inline HttpResult fetch(CURL* handle, const FetchOptions& options) {
    HttpResult result;
    curl_easy_setopt(handle, CURLOPT_URL, options.url.c_str());
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_bytes);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &result.header_lines);
    CurlSlistPtr resolve;
    if (!options.resolve.empty()) {
        resolve.reset(curl_slist_append(nullptr, options.resolve.c_str()));
    }
    curl_easy_setopt(handle, CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(handle, CURLOPT_CAINFO,
                     options.ca_file.empty() ? nullptr : options.ca_file.c_str());
    curl_easy_setopt(handle, CURLOPT_SSLCERT,
                     options.certificate_file.empty() ? nullptr : options.certificate_file.c_str());
    curl_easy_setopt(handle, CURLOPT_SSLKEY,
                     options.private_key_file.empty() ? nullptr : options.private_key_file.c_str());
    CurlSlistPtr headers;
    for (const auto& header : options.request_headers) {
        headers.reset(curl_slist_append(headers.release(), header.c_str()));
    }
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_NOBODY, options.method == "HEAD" ? 1L : 0L);
    if (options.method == "POST") {
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, "x=1");
    } else if (options.method == "GET") {
        curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    }
    result.code = curl_easy_perform(handle);
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &result.status);
    curl_easy_getinfo(handle, CURLINFO_NUM_CONNECTS, &result.new_connections);
    // The lists die with this call: make sure the handle no longer points at them.
    curl_easy_setopt(handle, CURLOPT_RESOLVE, nullptr);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
    return result;
}

inline std::optional<std::string> gunzip(const std::string& compressed) {
    z_stream stream{};
    if (inflateInit2(&stream, 15 + 16) != Z_OK) return std::nullopt;
    std::string output;
    char buffer[4096];
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    stream.avail_in = static_cast<uInt>(compressed.size());
    int status = Z_OK;
    while (status == Z_OK) {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof buffer;
        status = inflate(&stream, Z_NO_FLUSH);
        output.append(buffer, sizeof buffer - stream.avail_out);
    }
    inflateEnd(&stream);
    if (status != Z_STREAM_END) return std::nullopt;
    return output;
}

// Waits (bounded) until `condition` holds.
template <typename Condition>
inline bool eventually(Condition condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
}

inline std::string big_document(std::size_t size) {
    std::string body = R"({"keys":[],"padding":")";
    while (body.size() + 2 < size) body += static_cast<char>('a' + body.size() % 26);
    return body + "\"}";
}

constexpr char kServerName[] = "server.global.nomad";
constexpr char kJwks[] = "/.well-known/jwks.json";
constexpr char kDiscovery[] = "/.well-known/openid-configuration";

}  // namespace oidcgw::testing
