// libFuzzer target for parse_request: arbitrary bytes must never crash it, and every answer must
// be consistent with the input (views inside the head, target split, prefix monotonicity).
#include "edge/http_request.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace oidcgw {
namespace {

// Same numbers as the unit test's tight limits, so the corpus rows built for them hit 414/431 here.
constexpr RequestLimits kTightLimits{
    .max_head_bytes = 128, .max_request_line_bytes = 32, .max_header_count = 4};

void check(bool condition) {
    if (!condition) std::abort();
}

bool lies_within(std::string_view part, std::string_view whole) {
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool same_outcome(const ParseResult& a, const ParseResult& b) {
    if (a.status != b.status || a.consumed != b.consumed) return false;
    if (a.status == ParseStatus::Error) {
        return a.error_status == b.error_status && a.error_reason == b.error_reason;
    }
    if (a.status != ParseStatus::Complete) return true;
    const Request& x = a.request;
    const Request& y = b.request;
    return x.method == y.method && x.method_token == y.method_token && x.target == y.target &&
           x.path == y.path && x.query == y.query && x.version == y.version && x.host == y.host &&
           x.keep_alive == y.keep_alive && x.has_body == y.has_body &&
           x.has_if_none_match == y.has_if_none_match && x.if_none_match == y.if_none_match &&
           x.has_if_modified_since == y.has_if_modified_since &&
           x.if_modified_since == y.if_modified_since;
}

void check_complete(std::string_view input, const ParseResult& result,
                    const RequestLimits& limits) {
    const std::string_view head = input.substr(0, result.consumed);
    check(head.size() <= limits.max_head_bytes);
    check(head.ends_with("\r\n\r\n"));
    // CR and LF only ever appear together, and never a NUL.
    for (std::size_t i = 0; i < head.size(); ++i) {
        if (head[i] == '\r') check(i + 1 < head.size() && head[i + 1] == '\n');
        if (head[i] == '\n') check(i > 0 && head[i - 1] == '\r');
        check(head[i] != '\0');
    }
    // Exactly one terminator: the head ends at the first CRLFCRLF.
    check(head.find("\r\n\r\n") == head.size() - 4);

    const Request& request = result.request;
    for (std::string_view part : {request.method_token, request.target, request.path, request.query,
                                  request.host, request.if_none_match, request.if_modified_since}) {
        check(part.empty() || lies_within(part, head));
    }
    // The request line is rebuilt exactly from the parsed parts.
    check(request.method_token.data() == head.data());
    check(!request.method_token.empty() && request.method_token.size() <= 32);
    check(request.target.data() == head.data() + request.method_token.size() + 1);
    const std::string_view version =
        request.version == HttpVersion::Http10 ? "HTTP/1.0" : "HTTP/1.1";
    const std::size_t version_at = request.method_token.size() + 1 + request.target.size() + 1;
    check(head.substr(version_at, version.size()) == version);
    check(head.substr(version_at + version.size(), 2) == "\r\n");
    check(version_at + version.size() <= limits.max_request_line_bytes);

    check(request.target.starts_with('/'));
    check(request.path.data() == request.target.data());
    const std::size_t question = request.target.find('?');
    if (question == std::string_view::npos) {
        check(request.path == request.target);
        check(request.query.empty());
    } else {
        check(request.path == request.target.substr(0, question));
        check(request.query == request.target.substr(question + 1));
        if (!request.query.empty()) {
            check(request.query.data() == request.target.data() + question + 1);
        }
    }
    for (char c : request.target) {
        check(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);
        check(c != '#');
    }

    const std::string_view token = request.method_token;
    const Method expected_method = token == "GET"       ? Method::Get
                                   : token == "HEAD"    ? Method::Head
                                   : token == "OPTIONS" ? Method::Options
                                                        : Method::Other;
    check(request.method == expected_method);
    check(!request.host.empty());
    // Only a method the gateway does not serve may announce a body, and never keeps the
    // connection: its body is not read.
    if (request.has_body) check(request.method == Method::Other && !request.keep_alive);
    if (!request.has_if_none_match) check(request.if_none_match.empty());
    if (!request.has_if_modified_since) check(request.if_modified_since.empty());
}

ParseResult parse_and_check(std::string_view input, const RequestLimits& limits) {
    const ParseResult result = parse_request(input, limits);
    check(result.consumed <= input.size());
    switch (result.status) {
        case ParseStatus::Complete:
            check_complete(input, result, limits);
            break;
        case ParseStatus::Incomplete:
            check(result.consumed == 0);
            check(input.size() < limits.max_head_bytes);
            break;
        case ParseStatus::Error:
            check(result.consumed == 0);
            check(result.error_status == 400 || result.error_status == 414 ||
                  result.error_status == 417 || result.error_status == 431 ||
                  result.error_status == 505);
            check(!result.error_reason.empty());
            check(!lies_within(result.error_reason, input));
            break;
    }
    // Pure: the same bytes give the same answer.
    check(same_outcome(result, parse_request(input, limits)));

    // The scan only moves forward, so a prefix either needs more bytes or already gives the
    // full input's answer; a prefix that still holds the whole head gives the same request.
    const std::string_view prefix = input.substr(0, input.size() / 2);
    const ParseResult partial = parse_request(prefix, limits);
    if (partial.status != ParseStatus::Incomplete) {
        check(same_outcome(partial, result));
    } else if (result.status == ParseStatus::Complete) {
        check(prefix.size() < result.consumed);
    }
    return result;
}

}  // namespace
}  // namespace oidcgw

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace oidcgw;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const ParseResult relaxed = parse_and_check(input, RequestLimits{});
    const ParseResult tight = parse_and_check(input, kTightLimits);
    // Limits only ever add errors: whatever the tight limits accept, the defaults accept alike.
    if (tight.status == ParseStatus::Complete) check(same_outcome(tight, relaxed));
    return 0;
}
