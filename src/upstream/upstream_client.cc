#include "upstream/upstream_client.h"

#include "common/ascii.h"
#include "common/curl_transfer.h"
#include "common/file_reading.h"
#include "common/text_escape.h"

#include "version.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace oidcgw {
namespace {

struct TransferState {
    std::string content_encoding;
    const std::atomic<bool>* stop;
    std::optional<std::uint64_t> nomad_index;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* state = static_cast<TransferState*>(user);
    const std::size_t bytes = size * count;
    const std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {  // a new response head (e.g. after 100 Continue)
        state->content_encoding.clear();
        state->nomad_index.reset();
        return bytes;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;
    const std::string name = to_lower_ascii(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' ||
                              value.back() == '\t')) {
        value.remove_suffix(1);
    }
    if (name == "content-encoding") {
        state->content_encoding = std::string(value);
    } else if (name == "x-nomad-index") {
        std::uint64_t index = 0;
        const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), index);
        if (error == std::errc() && end == value.data() + value.size()) state->nomad_index = index;
    }
    return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* state = static_cast<TransferState*>(user);
    return state->stop->load(std::memory_order_relaxed) ? 1 : 0;
}

// An error body (e.g. Nomad's "No cluster leader") or header value in a detail, quoted and
// escaped by the untrusted-text policy and cut short, so the operator sees why without the log
// carrying arbitrary upstream bytes. Trailing whitespace (a final newline) is left out; "" when
// nothing remains.
constexpr std::size_t kMaxExcerptBytes = 82;  // 80 bytes and the quotes

std::string quoted_excerpt(std::string_view text) {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                             text.back() == '\n')) {
        text.remove_suffix(1);
    }
    return text.empty() ? std::string()
                        : quote_untrusted(text.substr(0, 4 * kMaxExcerptBytes), kMaxExcerptBytes);
}

std::string classify_curl_error(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
            return "dns";
        case CURLE_COULDNT_CONNECT:
            return "connect";
        case CURLE_PARTIAL_FILE:
            return "truncated";  // closed mid-body, or fewer bytes than Content-Length
        case CURLE_OPERATION_TIMEDOUT:
            return "timeout";
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CLIENTCERT:
            return "tls";
        case CURLE_ABORTED_BY_CALLBACK:
            return "aborted";
        case CURLE_FILESIZE_EXCEEDED:
            return "too_large";
        default:
            return "transport";
    }
}

}  // namespace

// A CA bundle, certificate chain or key: the same cap as the public certificates.
constexpr std::size_t kMaxPemBytes = 4 * 1024 * 1024;

std::optional<LoadedUpstreamTls> load_upstream_tls(const UpstreamTls& tls, std::string* error) {
    LoadedUpstreamTls material;
    material.server_name = tls.server_name;
    const auto read = [&](const std::string& path, const char* key, std::string* out) {
        if (path.empty()) return true;
        std::string problem;
        if (!read_regular_file(path, kMaxPemBytes, out, &problem)) {
            *error = std::string(key) + ": cannot read \"" + path + "\": " + problem;
            return false;
        }
        return true;
    };
    if (!read(tls.ca, "ca", &material.ca_pem) ||
        !read(tls.certificate, "certificate", &material.certificate_pem) ||
        !read(tls.private_key, "private_key", &material.private_key_pem)) {
        return std::nullopt;
    }
    return material;
}

UpstreamClient::UpstreamClient(UpstreamClientSettings settings)
    : settings_(std::move(settings)), handle_(curl_easy_init()) {}

FetchResult UpstreamClient::get(const UpstreamUrl& upstream, std::string_view path,
                                const std::atomic<bool>& stop,
                                std::optional<std::chrono::milliseconds> timeout) {
    FetchResult result;
    if (!handle_) {
        result.error_code = "transport";
        result.error = "libcurl could not create a handle";
        return result;
    }
    // set_up_get resets per-request options but keeps the connection cache, so the JWKS fetch
    // reuses the discovery fetch's TLS connection.
    CURL* curl = handle_.get();

    const LoadedUpstreamTls* tls = settings_.tls ? &*settings_.tls : nullptr;
    CurlGet get;
    get.url = upstream.url_for(path);
    get.protocols = "http,https";
    get.user_agent = "oidc-gateway/" OIDCGW_VERSION;
    get.timeout = timeout.value_or(settings_.timeout);
    CurlGetLists lists;
    lists.headers = make_curl_list({"Accept: application/json", "Accept-Encoding: identity"});
    if (upstream.https && tls != nullptr && !tls->server_name.empty()) {
        // Dial the configured address but speak to (SNI) and verify the certificate's name:
        // Nomad's certificates name server.<region>.nomad, not the IP operators configure.
        UpstreamUrl named = upstream;
        named.host = tls->server_name;
        get.url = named.url_for(path);
        const std::string entry =
            connect_to_entry(tls->server_name, upstream.port, upstream.host, upstream.port);
        lists.connect_to = make_curl_list({entry.c_str()});
    }
    CappedBody body{&result.body, settings_.max_body_bytes};
    set_up_get(curl, get, lists, &body);

    TransferState state{{}, &stop, {}};
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
    // Blobs are copied by libcurl (CURL_BLOB_COPY); the PEM text never goes back to disk.
    const auto blob = [](const std::string& pem) {
        return curl_blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
    };
    if (tls != nullptr) {
        if (!tls->ca_pem.empty()) {
            curl_blob ca = blob(tls->ca_pem);
            curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
        }
        if (!tls->certificate_pem.empty()) {
            curl_blob certificate = blob(tls->certificate_pem);
            curl_blob key = blob(tls->private_key_pem);
            curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
            curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &certificate);
            curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
            curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
        }
    }
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);

    const auto started = std::chrono::steady_clock::now();
    const CURLcode code = curl_easy_perform(curl);
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.http_status);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

    if (body.over_cap || code == CURLE_FILESIZE_EXCEEDED) {
        result.error_code = "too_large";
        result.error = "body larger than max_document_bytes (" +
                       std::to_string(settings_.max_body_bytes) + "); transfer cut";
        result.body.clear();
        return result;
    }
    if (code != CURLE_OK) {
        result.error_code = classify_curl_error(code);
        result.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
        // With TLS 1.3 the server judges the client certificate after the client has finished
        // its side of the handshake, so a refusal arrives as a failed read or write (an alert,
        // a reset, a broken pipe) before any response byte. The operator is better served by
        // "tls" and a hint than by "transport".
        long header_bytes = 0;
        curl_easy_getinfo(curl, CURLINFO_HEADER_SIZE, &header_bytes);
        const bool ended_before_response =
            upstream.https && header_bytes == 0 &&
            (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR || code == CURLE_GOT_NOTHING ||
             result.error.find("getpeername") != std::string::npos);
        if (ended_before_response) {
            result.error_code = "tls";
            result.error +=
                " (the upstream ended the connection around the TLS handshake: was "
                "the client certificate refused?)";
        }
        result.body.clear();
        return result;
    }
    if (result.http_status >= 300 && result.http_status < 400) {
        result.error_code = "redirect";
        result.error = "HTTP " + std::to_string(result.http_status) + " redirect (not followed)";
        result.body.clear();
        return result;
    }
    if (result.http_status != 200) {
        result.error_code = "http_status";
        result.error = "HTTP " + std::to_string(result.http_status);
        const std::string excerpt = quoted_excerpt(result.body);
        if (!excerpt.empty()) result.error += ": " + excerpt;
        result.body.clear();
        return result;
    }
    if (!state.content_encoding.empty() && state.content_encoding != "identity") {
        result.error_code = "content_encoding";
        result.error = "Content-Encoding " +
                       quote_untrusted(state.content_encoding, kMaxExcerptBytes) +
                       " although identity was asked";
        result.body.clear();
        return result;
    }
    result.nomad_index = state.nomad_index;
    result.ok = true;
    return result;
}

}  // namespace oidcgw
