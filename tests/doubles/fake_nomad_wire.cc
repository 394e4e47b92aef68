#include "fake_nomad_wire.h"

#include "common/ascii.h"
#include "common/raii.h"

#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>

namespace oidcgw::testing::fake_nomad_wire {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return equals_ignoring_ascii_case(a, b);
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// Just enough HTTP/1.x parsing to route and to keep a connection in sync.
std::optional<Request> parse_request_head(std::string_view head) {
    Request request;
    std::size_t line_end = head.find("\r\n");
    if (line_end == std::string_view::npos) return std::nullopt;
    std::string_view request_line = head.substr(0, line_end);
    std::size_t first_space = request_line.find(' ');
    std::size_t last_space = request_line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space) return std::nullopt;
    request.method = request_line.substr(0, first_space);
    std::string_view target = request_line.substr(first_space + 1, last_space - first_space - 1);
    request.version = request_line.substr(last_space + 1);
    if (request.method.empty() || target.empty() || request.version.rfind("HTTP/1.", 0) != 0) {
        return std::nullopt;
    }
    request.path = target.substr(0, target.find_first_of("?#"));
    if (const std::size_t mark = target.find('?'); mark != std::string::npos) {
        request.query = target.substr(mark + 1, target.find('#', mark) - mark - 1);
    }

    std::size_t position = line_end + 2;
    while (position < head.size()) {
        std::size_t end = head.find("\r\n", position);
        if (end == std::string_view::npos || end == position) break;
        std::string_view line = head.substr(position, end - position);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return std::nullopt;
        request.headers.emplace_back(std::string(line.substr(0, colon)),
                                     std::string(trim(line.substr(colon + 1))));
        position = end + 2;
    }
    return request;
}

// A request Content-Length we are willing to read past; nullopt for junk or anything huge.
std::optional<std::size_t> parse_body_length(const std::string& text) {
    constexpr std::size_t kMaxRequestBody = 1 << 20;
    if (text.empty() || text.size() > 7 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    std::size_t length = std::stoul(text);
    if (length > kMaxRequestBody) return std::nullopt;
    return length;
}

// True when an Accept-Encoding value lists gzip without q=0.
bool accepts_gzip(const std::string* accept_encoding) {
    if (accept_encoding == nullptr) return false;
    std::string_view rest = *accept_encoding;
    while (!rest.empty()) {
        std::size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        std::size_t semicolon = item.find(';');
        if (!equals_ignoring_case(trim(item.substr(0, semicolon)), "gzip")) continue;
        if (semicolon == std::string_view::npos) return true;
        std::string_view parameter = trim(item.substr(semicolon + 1));
        if (parameter.size() < 2 || !equals_ignoring_case(parameter.substr(0, 2), "q=")) {
            return true;
        }
        std::string_view quality = parameter.substr(2);
        return quality.find_first_not_of("0.") != std::string_view::npos;
    }
    return false;
}

std::string gzip_compress(const std::string& input) {
    z_stream stream{};
    // windowBits 15 + 16 asks zlib for the gzip wrapper instead of zlib's own.
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        throw std::runtime_error("fake_nomad: deflateInit2 failed");
    }
    struct DeflateEnd {
        z_stream* stream;
        ~DeflateEnd() { deflateEnd(stream); }
    } deflate_end{&stream};
    std::string output(deflateBound(&stream, static_cast<uLong>(input.size())) + 32, '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream.avail_in = static_cast<uInt>(input.size());
    stream.next_out = reinterpret_cast<Bytef*>(output.data());
    stream.avail_out = static_cast<uInt>(output.size());
    if (deflate(&stream, Z_FINISH) != Z_STREAM_END) {
        throw std::runtime_error("fake_nomad: deflate failed");
    }
    output.resize(stream.total_out);
    return output;
}

std::string http_date() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buffer[64];
    std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    return buffer;
}

const char* reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

// Go's encoding/json string form: HTML-sensitive characters and line separators escaped too.
std::string go_json_string(std::string_view text) {
    constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        switch (byte) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            default:
                break;
        }
        if (byte < 0x20 || byte == '<' || byte == '>' || byte == '&') {
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        } else if (byte == 0xe2 && i + 2 < text.size() &&
                   static_cast<unsigned char>(text[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(text[i + 2]) == 0xa8 ||
                    static_cast<unsigned char>(text[i + 2]) == 0xa9)) {
            out += static_cast<unsigned char>(text[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
            i += 2;
        } else {
            out += static_cast<char>(byte);
        }
    }
    return out + "\"";
}

// The value of `name` in a query string, undecoded.
std::optional<std::string> query_parameter(const std::string& query, std::string_view name) {
    std::size_t start = 0;
    while (start <= query.size()) {
        const std::size_t end = std::min(query.find('&', start), query.size());
        const std::string_view pair(query.data() + start, end - start);
        if (pair.substr(0, pair.find('=')) == name) {
            const std::size_t equals = pair.find('=');
            return equals == std::string_view::npos ? std::string()
                                                    : std::string(pair.substr(equals + 1));
        }
        start = end + 1;
    }
    return std::nullopt;
}

// Nomad's wait= values: "300s", "5m", "500ms"; capped at 10 minutes like Nomad.
std::chrono::milliseconds parse_wait(const std::string& text) {
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    const std::string unit(end != nullptr ? end : "");
    double milliseconds = number * 1000;
    if (unit == "ms") milliseconds = number;
    if (unit == "m") milliseconds = number * 60'000;
    return std::chrono::milliseconds(
        static_cast<long long>(std::clamp(milliseconds, 0.0, 600'000.0)));
}

FramedResponse frame_response(int status, std::vector<Header> headers, const std::string& body,
                              bool head_only, bool keep_alive, std::size_t chunked_above,
                              std::optional<std::size_t> declared_length) {
    FramedResponse framed;
    // Go writes handler headers sorted by name.
    std::stable_sort(headers.begin(), headers.end(),
                     [](const Header& a, const Header& b) { return a.first < b.first; });
    headers.emplace_back("Date", http_date());
    bool chunked = false;
    if (declared_length) {
        headers.emplace_back("Content-Length", std::to_string(*declared_length));
    } else if (body.size() > chunked_above) {
        chunked = true;
        headers.emplace_back("Transfer-Encoding", "chunked");
    } else {
        headers.emplace_back("Content-Length", std::to_string(body.size()));
    }
    if (!keep_alive) headers.emplace_back("Connection", "close");

    framed.head = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    for (const auto& [name, value] : headers) framed.head += name + ": " + value + "\r\n";
    framed.head += "\r\n";
    if (head_only) return framed;
    if (!chunked) {
        framed.body = body;
        return framed;
    }
    const auto append_chunk = [&framed](std::string_view data) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        framed.body += size;
        framed.body += data;
        framed.body += "\r\n";
    };
    const std::size_t half = body.size() / 2;
    append_chunk(std::string_view(body).substr(0, half));
    append_chunk(std::string_view(body).substr(half));
    framed.body += "0\r\n\r\n";
    return framed;
}

int listen_on(const std::string& host, std::uint16_t port, std::uint16_t* bound_port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* addresses = nullptr;
    const std::string service = std::to_string(port);
    if (int error = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &addresses); error != 0) {
        throw std::runtime_error("fake_nomad: cannot resolve " + host + ": " +
                                 ::gai_strerror(error));
    }
    std::unique_ptr<addrinfo, CDeleter<freeaddrinfo>> address_list(addresses);
    std::string last_error = "no address";
    for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
        int fd =
            ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
        if (fd < 0) {
            last_error = std::strerror(errno);
            continue;
        }
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, address->ai_addr, address->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
            last_error = std::strerror(errno);
            ::close(fd);
            continue;
        }
        sockaddr_storage bound{};
        socklen_t length = sizeof bound;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
        *bound_port =
            ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
        return fd;
    }
    throw std::runtime_error("fake_nomad: cannot listen on " + host + ":" + service + ": " +
                             last_error);
}

}  // namespace oidcgw::testing::fake_nomad_wire
