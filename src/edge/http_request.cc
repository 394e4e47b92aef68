// A single forward scan over the request head. Every byte is classified once through a 256-entry
// table; the scan stops at the first byte that breaks a rule, so errors are reported as soon as
// they are certain, and running out of bytes before that yields Incomplete (or 431 once the head
// limit has been reached). Only Host validation and the Connection token walk look at a value a
// second time, and those values are short.
#include "edge/http_request.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace oidcgw {
namespace {

constexpr std::size_t kMaxMethodLength = 32;
constexpr std::size_t kHttpVersionLength = 8;  // "HTTP/d.d"

// Byte classes, one bit each.
constexpr std::uint8_t kTokenByte = 1U << 0;        // RFC 9110 tchar
constexpr std::uint8_t kPlainTargetByte = 1U << 1;  // pchar and '/', except '%' and '?' (see below)
constexpr std::uint8_t kFieldValueByte = 1U << 2;   // VCHAR, SP, HTAB, obs-text
constexpr std::uint8_t kHostNameByte = 1U << 3;     // what we accept in a reg-name or IPv4 address
constexpr std::uint8_t kHexDigitByte = 1U << 4;
constexpr std::uint8_t kDigitByte = 1U << 5;
constexpr std::uint8_t kWhitespaceByte = 1U << 6;  // OWS: SP and HTAB

constexpr std::array<std::uint8_t, 256> make_byte_classes() {
    std::array<std::uint8_t, 256> classes{};
    auto mark = [&classes](std::string_view bytes, std::uint8_t flags) {
        for (char c : bytes) classes[static_cast<unsigned char>(c)] |= flags;
    };
    mark("0123456789", kTokenByte | kPlainTargetByte | kHostNameByte | kHexDigitByte | kDigitByte);
    mark("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
         kTokenByte | kPlainTargetByte | kHostNameByte);
    mark("ABCDEFabcdef", kHexDigitByte);
    mark("!#$%&'*+-.^_`|~", kTokenByte);
    mark("-._~", kPlainTargetByte);         // unreserved
    mark("!$&'()*+,;=", kPlainTargetByte);  // sub-delims
    mark(":@/", kPlainTargetByte);
    mark("-._", kHostNameByte);
    mark(" \t", kWhitespaceByte | kFieldValueByte);
    for (std::size_t c = 0x21; c <= 0xff; ++c) {
        if (c != 0x7f) classes[c] |= kFieldValueByte;  // VCHAR and obs-text
    }
    return classes;
}

constexpr std::array<std::uint8_t, 256> kByteClasses = make_byte_classes();

constexpr std::array<char, 256> make_lowercase_table() {
    std::array<char, 256> table{};
    for (std::size_t c = 0; c < table.size(); ++c) {
        table[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    return table;
}

constexpr std::array<char, 256> kLowercase = make_lowercase_table();

inline bool has_class(char c, std::uint8_t flags) {
    return (kByteClasses[static_cast<unsigned char>(c)] & flags) != 0;
}

// `lowercase_literal` must already be lower case; header names are case-insensitive.
bool equals_ignoring_case(std::string_view text, std::string_view lowercase_literal) {
    if (text.size() != lowercase_literal.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (kLowercase[static_cast<unsigned char>(text[i])] != lowercase_literal[i]) return false;
    }
    return true;
}

bool all_of_class(std::string_view text, std::uint8_t flags) {
    return std::all_of(text.begin(), text.end(), [flags](char c) { return has_class(c, flags); });
}

std::string_view trim_whitespace(std::string_view text) {
    while (!text.empty() && has_class(text.front(), kWhitespaceByte)) text.remove_prefix(1);
    while (!text.empty() && has_class(text.back(), kWhitespaceByte)) text.remove_suffix(1);
    return text;
}

// RFC 3986 IPv4address: four dec-octets without leading zeros.
bool is_ipv4_address(std::string_view text) {
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (text.empty() || text.front() != '.') return false;
            text.remove_prefix(1);
        }
        std::size_t digits = 0;
        int value = 0;
        while (digits < text.size() && digits < 3 && has_class(text[digits], kDigitByte)) {
            value = value * 10 + (text[digits] - '0');
            ++digits;
        }
        if (digits == 0 || value > 255 || (digits > 1 && text.front() == '0')) return false;
        text.remove_prefix(digits);
    }
    return text.empty();
}

// RFC 3986 IPv6address (no zone identifier, no IPvFuture): the text between the brackets.
bool is_ipv6_address(std::string_view text) {
    bool compressed = false;  // "::" seen; it stands for at least one group
    std::size_t groups = 0;
    if (text.starts_with("::")) {
        compressed = true;
        text.remove_prefix(2);
        if (text.empty()) return true;
    }
    while (true) {
        const std::size_t colon = text.find(':');
        const std::string_view group = text.substr(0, colon);
        if (group.empty()) return false;
        if (colon == std::string_view::npos) {
            // The last group may be an embedded IPv4 address, which fills two groups.
            if (group.find('.') != std::string_view::npos) {
                if (!is_ipv4_address(group)) return false;
                groups += 2;
            } else {
                if (group.size() > 4 || !all_of_class(group, kHexDigitByte)) return false;
                groups += 1;
            }
            break;
        }
        if (group.size() > 4 || !all_of_class(group, kHexDigitByte)) return false;
        groups += 1;
        text.remove_prefix(colon + 1);
        if (text.starts_with(":")) {
            if (compressed) return false;
            compressed = true;
            text.remove_prefix(1);
            if (text.empty()) break;
        } else if (text.empty()) {
            return false;  // a single trailing colon
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

// uri-host [ ":" port ] with uri-host limited to a reg-name of letters, digits, '-', '.', '_'
// (which also covers IPv4) or a bracketed IPv6 literal; port is 1-5 digits up to 65535.
bool is_valid_host(std::string_view value) {
    if (value.empty()) return false;
    std::size_t host_end = 0;
    if (value.front() == '[') {
        const std::size_t close = value.find(']');
        if (close == std::string_view::npos) return false;
        if (!is_ipv6_address(value.substr(1, close - 1))) return false;
        host_end = close + 1;
    } else {
        while (host_end < value.size() && has_class(value[host_end], kHostNameByte)) ++host_end;
        if (host_end == 0) return false;
    }
    if (host_end == value.size()) return true;
    if (value[host_end] != ':') return false;
    const std::string_view port = value.substr(host_end + 1);
    if (port.empty() || port.size() > 5 || !all_of_class(port, kDigitByte)) return false;
    int port_number = 0;
    for (char digit : port) port_number = port_number * 10 + (digit - '0');
    return port_number <= 65535;
}

class HeadParser {
  public:
    HeadParser(std::string_view input, const RequestLimits& limits)
        : data_(input.data()),
          window_(std::min(input.size(), limits.max_head_bytes)),
          window_is_full_(input.size() >= limits.max_head_bytes),
          line_cap_(limits.max_request_line_bytes),
          // Content bytes of the request line may sit at indexes below line_cap_; index line_cap_
          // itself must hold the CR, so the line scan may look one byte further.
          line_scan_end_(line_cap_ < window_ ? line_cap_ + 1 : window_),
          max_header_count_(limits.max_header_count) {}

    ParseResult run() {
        if (parse_request_line() && parse_header_fields()) finish();
        return result_;
    }

  private:
    std::string_view view(std::size_t begin, std::size_t end) const {
        return {data_ + begin, end - begin};
    }

    bool fail(int status, std::string_view reason) {
        result_.status = ParseStatus::Error;
        result_.error_status = status;
        result_.error_reason = reason;
        return false;
    }

    // The scan reached the end of the bytes it may look at.
    bool need_more() {
        if (window_is_full_) return fail(431, "request head exceeds max_head_bytes");
        result_.status = ParseStatus::Incomplete;
        return false;
    }

    // Same, inside the request line, where the line limit may be what stopped the scan.
    bool need_more_in_request_line(std::size_t position) {
        if (position > line_cap_) return fail(414, "request line exceeds max_request_line_bytes");
        return need_more();
    }

    // Expects pos_ at the CR that should end a line; moves past the CRLF.
    bool consume_crlf() {
        if (pos_ + 1 >= window_) return need_more();
        if (data_[pos_ + 1] != '\n') return fail(400, "bare CR in head");
        pos_ += 2;
        return true;
    }

    bool parse_request_line() {
        // Method token.
        const std::size_t method_scan_end = std::min(line_scan_end_, kMaxMethodLength + 1);
        while (pos_ < method_scan_end && has_class(data_[pos_], kTokenByte)) ++pos_;
        if (pos_ == method_scan_end) {
            if (pos_ > kMaxMethodLength) return fail(400, "method longer than 32 bytes");
            return need_more_in_request_line(pos_);
        }
        if (pos_ == 0) {
            if (data_[0] == '\r' || data_[0] == '\n') {
                return fail(400, "empty line before request line");
            }
            return fail(400, "request line does not start with a method token");
        }
        if (data_[pos_] != ' ') return fail(400, "method not followed by a single space");
        result_.request.method_token = view(0, pos_);
        ++pos_;

        // Request target, origin-form only.
        if (pos_ == line_scan_end_) return need_more_in_request_line(pos_);
        if (data_[pos_] != '/') {
            if (data_[pos_] == ' ') return fail(400, "more than one space after method");
            return fail(400, "request target not in origin form");
        }
        const std::size_t target_begin = pos_;
        std::size_t query_mark = 0;  // index of the first '?', 0 when none (index 0 is the method)
        while (true) {
            while (pos_ < line_scan_end_ && has_class(data_[pos_], kPlainTargetByte)) ++pos_;
            if (pos_ == line_scan_end_) return need_more_in_request_line(pos_);
            const char c = data_[pos_];
            if (c == '?') {
                if (query_mark == 0) query_mark = pos_;
                ++pos_;
            } else if (c == '%') {
                for (std::size_t i = 1; i <= 2; ++i) {
                    if (pos_ + i == line_scan_end_) return need_more_in_request_line(pos_ + i);
                    if (!has_class(data_[pos_ + i], kHexDigitByte)) {
                        return fail(400, "malformed percent-encoding in request target");
                    }
                }
                pos_ += 3;
            } else {
                break;
            }
        }
        const char after_target = data_[pos_];
        if (after_target == '\r') return fail(400, "request line without HTTP version");
        if (after_target == '\n') return fail(400, "bare LF in head");
        if (after_target != ' ') return fail(400, "forbidden byte in request target");
        Request& request = result_.request;
        request.target = view(target_begin, pos_);
        request.path = view(target_begin, query_mark == 0 ? pos_ : query_mark);
        request.query = query_mark == 0 ? view(pos_, pos_) : view(query_mark + 1, pos_);
        ++pos_;

        // HTTP version: checked byte by byte against the shape "HTTP/d.d".
        constexpr std::string_view kVersionShape = "HTTP/d.d";
        const std::size_t version_begin = pos_;
        for (char expected : kVersionShape) {
            if (pos_ == line_scan_end_) return need_more_in_request_line(pos_);
            const char c = data_[pos_];
            const bool matches = expected == 'd' ? has_class(c, kDigitByte) : c == expected;
            if (!matches) {
                if (c == '\n') return fail(400, "bare LF in head");
                return fail(400, "malformed HTTP version");
            }
            ++pos_;
        }
        if (pos_ == line_scan_end_) return need_more_in_request_line(pos_);
        if (data_[pos_] != '\r') {
            if (data_[pos_] == '\n') return fail(400, "bare LF in head");
            return fail(400, "unexpected bytes after HTTP version");
        }
        if (!consume_crlf()) return false;

        const char major = data_[version_begin + 5];
        const char minor = data_[version_begin + kHttpVersionLength - 1];
        if (major != '1' || (minor != '0' && minor != '1')) {
            return fail(505, "HTTP version not supported");
        }
        request.version = minor == '0' ? HttpVersion::Http10 : HttpVersion::Http11;

        const std::string_view method = request.method_token;
        if (method == "GET") {
            request.method = Method::Get;
        } else if (method == "HEAD") {
            request.method = Method::Head;
        } else if (method == "OPTIONS") {
            request.method = Method::Options;
        } else {
            request.method = Method::Other;
        }
        return true;
    }

    bool parse_header_fields() {
        std::size_t header_count = 0;
        while (true) {
            if (pos_ == window_) return need_more();
            const char first = data_[pos_];
            if (first == '\r') {
                return consume_crlf();
            }
            if (first == ' ' || first == '\t') return fail(400, "obsolete line folding in header");
            if (first == '\n') return fail(400, "bare LF in head");
            if (header_count == max_header_count_) {
                return fail(431, "more header fields than max_header_count");
            }

            const std::size_t name_begin = pos_;
            while (pos_ < window_ && has_class(data_[pos_], kTokenByte)) ++pos_;
            if (pos_ == window_) return need_more();
            const char after_name = data_[pos_];
            if (after_name != ':') {
                if (after_name == ' ' || after_name == '\t') {
                    return fail(400, "whitespace between header field name and colon");
                }
                if (after_name == '\r') return fail(400, "header field without colon");
                if (after_name == '\n') return fail(400, "bare LF in head");
                return fail(400, "header field name is not a token");
            }
            if (pos_ == name_begin) return fail(400, "empty header field name");
            const std::string_view name = view(name_begin, pos_);
            ++pos_;

            while (pos_ < window_ && has_class(data_[pos_], kWhitespaceByte)) ++pos_;
            const std::size_t value_begin = pos_;
            while (pos_ < window_ && has_class(data_[pos_], kFieldValueByte)) ++pos_;
            if (pos_ == window_) return need_more();
            if (data_[pos_] != '\r') {
                if (data_[pos_] == '\n') return fail(400, "bare LF in head");
                return fail(400, "control byte in header field value");
            }
            std::size_t value_end = pos_;
            while (value_end > value_begin && has_class(data_[value_end - 1], kWhitespaceByte)) {
                --value_end;
            }
            if (!consume_crlf()) return false;
            ++header_count;
            if (!note_header_field(name, view(value_begin, value_end))) return false;
        }
    }

    // Applies what the gateway cares about in one (syntactically valid) header field.
    bool note_header_field(std::string_view name, std::string_view value) {
        Request& request = result_.request;
        switch (name.size()) {
            case 4:
                if (equals_ignoring_case(name, "host")) {
                    if (host_seen_) return fail(400, "more than one Host header");
                    host_seen_ = true;
                    if (!is_valid_host(value)) return fail(400, "invalid Host header");
                    request.host = value;
                }
                break;
            case 6:
                if (equals_ignoring_case(name, "expect")) expect_seen_ = true;
                break;
            case 10:
                if (equals_ignoring_case(name, "connection")) return note_connection(value);
                break;
            case 13:
                if (equals_ignoring_case(name, "if-none-match")) {
                    ++if_none_match_count_;
                    request.if_none_match = value;
                }
                break;
            case 14:
                if (equals_ignoring_case(name, "content-length")) {
                    if (content_length_seen_) return fail(400, "more than one Content-Length");
                    content_length_seen_ = true;
                    if (value.empty() || !all_of_class(value, kDigitByte)) {
                        return fail(400, "Content-Length is not a number");
                    }
                    if (value.find_first_not_of('0') != std::string_view::npos) {
                        // GET, HEAD and OPTIONS carry no body here; another method is answered
                        // 405 without its body ever being read (finish()).
                        if (request.method != Method::Other) {
                            return fail(400, "request body not accepted");
                        }
                        body_announced_ = true;
                    }
                }
                break;
            case 17:
                if (equals_ignoring_case(name, "transfer-encoding")) {
                    if (request.method != Method::Other || transfer_encoding_seen_) {
                        return fail(400, "Transfer-Encoding not accepted");
                    }
                    transfer_encoding_seen_ = true;
                    body_announced_ = true;
                }
                if (equals_ignoring_case(name, "if-modified-since")) {
                    ++if_modified_since_count_;
                    request.if_modified_since = value;
                }
                break;
            default:
                break;
        }
        return true;
    }

    // Connection = #connection-option; empty list elements are allowed (RFC 9110 5.6.1).
    bool note_connection(std::string_view value) {
        while (true) {
            const std::size_t comma = value.find(',');
            const std::string_view option = trim_whitespace(value.substr(0, comma));
            if (!option.empty()) {
                if (!all_of_class(option, kTokenByte)) {
                    return fail(400, "Connection option is not a token");
                }
                if (equals_ignoring_case(option, "close")) {
                    connection_close_ = true;
                } else if (equals_ignoring_case(option, "keep-alive")) {
                    connection_keep_alive_ = true;
                }
            }
            if (comma == std::string_view::npos) return true;
            value.remove_prefix(comma + 1);
        }
    }

    // The head is complete and every field was acceptable on its own.
    void finish() {
        if (!host_seen_) {
            fail(400, "missing Host header");
            return;
        }
        Request& request = result_.request;
        // Both framings at once is how requests are smuggled past a proxy: never guessed at.
        if (content_length_seen_ && transfer_encoding_seen_) {
            fail(400, "both Content-Length and Transfer-Encoding");
            return;
        }
        // A method the gateway does not serve gets its 405 at once, without a 100 Continue.
        if (expect_seen_ && request.method != Method::Other) {
            fail(417, "Expect header not supported");
            return;
        }
        // A repeated conditional header is ambiguous; serving unconditionally is always correct.
        request.has_if_none_match = if_none_match_count_ == 1;
        if (!request.has_if_none_match) request.if_none_match = {};
        request.has_if_modified_since = if_modified_since_count_ == 1;
        if (!request.has_if_modified_since) request.if_modified_since = {};
        if (connection_close_) {
            request.keep_alive = false;
        } else {
            request.keep_alive = request.version == HttpVersion::Http11 || connection_keep_alive_;
        }
        // The body is never read: the answer closes the connection, lingering over the body.
        request.has_body = body_announced_;
        if (request.has_body) request.keep_alive = false;
        result_.status = ParseStatus::Complete;
        result_.consumed = pos_;  // just past the final CRLF
    }

    const char* const data_;
    const std::size_t window_;  // bytes the head may span: min(input size, max_head_bytes)
    const bool window_is_full_;
    const std::size_t line_cap_;
    const std::size_t line_scan_end_;
    const std::size_t max_header_count_;

    std::size_t pos_ = 0;
    ParseResult result_;
    bool host_seen_ = false;
    bool content_length_seen_ = false;
    bool transfer_encoding_seen_ = false;
    bool body_announced_ = false;  // a non-zero Content-Length or a Transfer-Encoding
    bool expect_seen_ = false;
    bool connection_close_ = false;
    bool connection_keep_alive_ = false;
    int if_none_match_count_ = 0;
    int if_modified_since_count_ = 0;
};

}  // namespace

ParseResult parse_request(std::string_view input, const RequestLimits& limits) {
    return HeadParser(input, limits).run();
}

}  // namespace oidcgw
