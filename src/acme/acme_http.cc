#include "acme/acme_http.h"

#include "common/curl_transfer.h"
#include "version.h"

#include <curl/header.h>

#include <algorithm>

namespace oidcgw {
namespace {

constexpr const char* kUserAgent = "oidc-gateway/" OIDCGW_VERSION " (ACME client)";
constexpr curl_off_t kMaxRetryAfterSeconds = 86'400;

int abort_when_stopping(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

// The last value of a response header (libcurl matches names without regard to case, also for
// HTTP/2's lowercase names), or "".
std::string header_value(CURL* curl, const char* name) {
    curl_header* header = nullptr;
    if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK) return {};
    const std::size_t amount = header->amount;
    if (amount > 1 &&
        curl_easy_header(curl, name, amount - 1, CURLH_HEADER, -1, &header) != CURLHE_OK) {
        return {};
    }
    return header->value != nullptr ? std::string(header->value) : std::string();
}

std::vector<std::string> all_header_values(CURL* curl, const char* name) {
    std::vector<std::string> values;
    curl_header* header = nullptr;
    if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK) return values;
    const std::size_t amount = std::min<std::size_t>(header->amount, 32);
    for (std::size_t index = 0; index < amount; ++index) {
        if (curl_easy_header(curl, name, index, CURLH_HEADER, -1, &header) == CURLHE_OK &&
            header->value != nullptr) {
            values.emplace_back(header->value);
        }
    }
    return values;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

}  // namespace

std::vector<std::string> alternate_link_urls(std::string_view header_value) {
    std::vector<std::string> urls;
    std::size_t at = 0;
    while (at < header_value.size() && urls.size() < 16) {
        const std::size_t open = header_value.find('<', at);
        if (open == std::string_view::npos) break;
        const std::size_t close = header_value.find('>', open + 1);
        if (close == std::string_view::npos) break;
        const std::string_view url = header_value.substr(open + 1, close - open - 1);
        // The parameters run to the next entry's '<' (a ',' may sit inside a quoted value).
        const std::size_t next = header_value.find('<', close + 1);
        const std::string_view parameters = header_value.substr(
            close + 1, next == std::string_view::npos ? std::string_view::npos : next - close - 1);
        std::size_t parameter_at = 0;
        while (parameter_at < parameters.size()) {
            const std::size_t end = parameters.find_first_of(";,", parameter_at);
            const std::string_view parameter = trim(parameters.substr(
                parameter_at,
                end == std::string_view::npos ? std::string_view::npos : end - parameter_at));
            if (parameter == "rel=\"alternate\"" || parameter == "rel=alternate") {
                urls.emplace_back(url);
                break;
            }
            if (end == std::string_view::npos) break;
            parameter_at = end + 1;
        }
        at = close + 1;
    }
    return urls;
}

AcmeHttp::AcmeHttp(AcmeHttpSettings settings, const std::atomic<bool>& stop)
    : settings_(std::move(settings)), stop_(stop), curl_(curl_easy_init()) {}

AcmeHttpResponse AcmeHttp::get(const std::string& url) {
    return perform(Method::Get, url, {});
}

AcmeHttpResponse AcmeHttp::head(const std::string& url) {
    return perform(Method::Head, url, {});
}

AcmeHttpResponse AcmeHttp::post_jose(const std::string& url, const std::string& body) {
    return perform(Method::Post, url, body);
}

AcmeHttpResponse AcmeHttp::perform(Method method, const std::string& url, const std::string& body) {
    AcmeHttpResponse response;
    if (!curl_) {
        response.error = "cannot create a libcurl handle";
        return response;
    }
    if (stop_.load()) {
        response.error = "stopped";
        return response;
    }
    CURL* curl = curl_.get();
    CurlGetLists lists;
    if (method == Method::Post) {
        // "Expect:" keeps libcurl from waiting for a 100-continue on HTTP/1.1.
        lists.headers = make_curl_list({"Content-Type: application/jose+json", "Expect:"});
    }
    CappedBody sink{&response.body, settings_.max_body_bytes};
    set_up_get(curl, CurlGet{url, "https", kUserAgent, settings_.timeout, true}, lists, &sink);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, abort_when_stopping);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&stop_));
    if (!settings_.ca_pem.empty()) {
        curl_blob ca{const_cast<char*>(settings_.ca_pem.data()), settings_.ca_pem.size(),
                     CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (method == Method::Head) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (method == Method::Post) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    const CURLcode code = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    if (code != CURLE_OK) {
        if (sink.over_cap || code == CURLE_FILESIZE_EXCEEDED) {
            response.error = "the answer is larger than " +
                             std::to_string(settings_.max_body_bytes / 1024) + " KiB";
        } else if (code == CURLE_ABORTED_BY_CALLBACK) {
            response.error = "stopped";
        } else {
            response.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
        }
        response.body.clear();
        return response;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    response.content_type = header_value(curl, "Content-Type");
    response.location = header_value(curl, "Location");
    response.replay_nonce = header_value(curl, "Replay-Nonce");
    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK) {
        // A date in the past comes back negative before libcurl 8.12.
        response.retry_after =
            std::chrono::seconds(std::clamp<curl_off_t>(retry_after, 0, kMaxRetryAfterSeconds));
    }
    for (const std::string& link : all_header_values(curl, "Link")) {
        for (std::string& alternate : alternate_link_urls(link)) {
            response.alternate_links.push_back(std::move(alternate));
        }
    }
    return response;
}

}  // namespace oidcgw
