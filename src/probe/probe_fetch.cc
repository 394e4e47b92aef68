#include "probe/probe_fetch.h"

#include "common/raii.h"
#include "version.h"

#include <curl/curl.h>

namespace oidcgw {
namespace {

struct Transfer {
    std::string* body;
    std::size_t cap;
    bool over_cap = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t bytes = size * count;
    if (transfer->body->size() + bytes > transfer->cap) {
        transfer->over_cap = true;
        return 0;  // cut the transfer at the cap
    }
    transfer->body->append(data, bytes);
    return bytes;
}

bool is_verification_failure(CURLcode code) {
    // CURLE_SSL_CACERT became an alias of CURLE_PEER_FAILED_VERIFICATION in libcurl 7.62.
    return code == CURLE_PEER_FAILED_VERIFICATION;
}

std::string bracketed(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// One attempt; `verify` false skips certificate and name checks.
CURLcode perform(CURL* curl, const std::string& url, const ProbeFetchSettings& settings,
                 bool verify, ProbeFetch* result, Transfer* transfer, std::string* error) {
    curl_easy_reset(curl);
    CurlSlistPtr connect_to;
    if (!settings.connect_to.empty()) {
        connect_to.reset(curl_slist_append(nullptr, settings.connect_to.c_str()));
        curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to.get());
    }
    CurlSlistPtr headers(curl_slist_append(nullptr, "Accept: application/json"));
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");  // from the outside means directly
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(settings.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "oidc-gateway-probe/" OIDCGW_VERSION);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(settings.max_body_bytes));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, transfer);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (!settings.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);

    const CURLcode code = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    if (code != CURLE_OK) {
        *error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
        if (transfer->over_cap || code == CURLE_FILESIZE_EXCEEDED) {
            *error =
                "the body is larger than " + std::to_string(settings.max_body_bytes) + " bytes";
        }
        return code;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result->status);
    const char* content_type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
    result->content_type = content_type != nullptr ? content_type : "";
    const char* location = nullptr;
    curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
    result->location = location != nullptr ? location : "";
    curl_off_t total_us = 0;
    curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total_us);
    result->elapsed = std::chrono::milliseconds(total_us / 1000);
    return code;
}

}  // namespace

ProbeFetch probe_fetch(const std::string& url, const ProbeFetchSettings& settings) {
    ProbeFetch result;
    CurlPtr curl(curl_easy_init());
    if (!curl) {
        result.error = "libcurl could not create a handle";
        return result;
    }
    Transfer transfer{&result.body, settings.max_body_bytes};
    std::string error;
    CURLcode code = perform(curl.get(), url, settings, true, &result, &transfer, &error);
    if (code == CURLE_OK) {
        result.reached = true;
        result.verified = true;
        return result;
    }
    if (!is_verification_failure(code)) {
        result.error = error;
        result.body.clear();
        return result;
    }
    result.tls_error = error;
    result.body.clear();
    transfer = Transfer{&result.body, settings.max_body_bytes};
    code = perform(curl.get(), url, settings, false, &result, &transfer, &error);
    if (code != CURLE_OK) {
        result.error = error;
        result.body.clear();
        return result;
    }
    result.reached = true;
    return result;
}

std::string connect_to_entry(const std::string& from_host, unsigned from_port,
                             const std::string& to_host, unsigned to_port) {
    return bracketed(from_host) + ":" + std::to_string(from_port) + ":" + bracketed(to_host) + ":" +
           std::to_string(to_port);
}

}  // namespace oidcgw
