#include "probe/probe_fetch.h"

#include "common/curl_transfer.h"
#include "version.h"

#include <curl/curl.h>

namespace oidcgw {
namespace {

bool is_verification_failure(CURLcode code) {
    // CURLE_SSL_CACERT became an alias of CURLE_PEER_FAILED_VERIFICATION in libcurl 7.62.
    return code == CURLE_PEER_FAILED_VERIFICATION;
}

// One attempt; `verify` false skips certificate and name checks.
CURLcode perform(CURL* curl, const std::string& url, const ProbeFetchSettings& settings,
                 bool verify, ProbeFetch* result, CappedBody* transfer, std::string* error) {
    CurlGet get;
    get.url = url;
    get.user_agent = "oidc-gateway-probe/" OIDCGW_VERSION;
    get.timeout = settings.timeout;
    get.verify_peer = verify;  // from the outside means directly, and only over https
    CurlGetLists lists;
    lists.headers = make_curl_list({"Accept: application/json"});
    if (!settings.connect_to.empty())
        lists.connect_to = make_curl_list({settings.connect_to.c_str()});
    set_up_get(curl, get, lists, transfer);
    if (!settings.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings.ca_file.c_str());
    char error_buffer[CURL_ERROR_SIZE] = {0};
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
    CappedBody transfer{&result.body, settings.max_body_bytes};
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
    transfer = CappedBody{&result.body, settings.max_body_bytes};
    code = perform(curl.get(), url, settings, false, &result, &transfer, &error);
    if (code != CURLE_OK) {
        result.error = error;
        result.body.clear();
        return result;
    }
    result.reached = true;
    return result;
}

}  // namespace oidcgw
