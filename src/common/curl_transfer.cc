#include "common/curl_transfer.h"

namespace oidcgw {
namespace {

std::string bracketed(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

bool append_capped(CappedBody& sink, std::string_view data) {
    if (sink.body->size() + data.size() > sink.cap) {
        sink.over_cap = true;
        return false;
    }
    sink.body->append(data);
    return true;
}

std::size_t write_capped_body(char* data, std::size_t size, std::size_t count, void* user) {
    const std::size_t bytes = size * count;
    // 0 cuts the transfer at the cap instead of reading on.
    return append_capped(*static_cast<CappedBody*>(user), std::string_view(data, bytes)) ? bytes
                                                                                         : 0;
}

std::string connect_to_entry(const std::string& from_host, unsigned from_port,
                             const std::string& to_host, unsigned to_port) {
    return bracketed(from_host) + ":" + std::to_string(from_port) + ":" + bracketed(to_host) + ":" +
           std::to_string(to_port);
}

CurlSlistPtr make_curl_list(std::initializer_list<const char*> lines) {
    CurlSlistPtr list;
    for (const char* line : lines) {
        curl_slist* head = curl_slist_append(list.get(), line);
        if (head == nullptr) break;  // out of memory: the lines so far
        if (!list) list.reset(head);
    }
    return list;
}

void set_up_get(CURL* curl, const CurlGet& get, const CurlGetLists& lists, CappedBody* body) {
    curl_easy_reset(curl);
    if (lists.connect_to) curl_easy_setopt(curl, CURLOPT_CONNECT_TO, lists.connect_to.get());
    curl_easy_setopt(curl, CURLOPT_URL, get.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, get.protocols);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never through an environment-configured proxy
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(get.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, lists.headers.get());
    curl_easy_setopt(curl, CURLOPT_USERAGENT, get.user_agent);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(body->cap));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_capped_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, get.verify_peer ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, get.verify_peer ? 2L : 0L);
}

}  // namespace oidcgw
