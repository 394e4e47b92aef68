// The HTTP head parser, one behaviour a test: methods, targets, keep-alive, Host forms, field
// values, pipelining, early errors and the limits at their boundaries.
#include "edge/http_request.h"
#include "http_request_test_support.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace oidcgw::testing {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

TEST(HttpRequest, ParsesAMinimalGet) {
    const ParseResult result = parse_request(kMinimalGet);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    const Request& request = result.request;
    EXPECT_EQ(request.method, Method::Get);
    EXPECT_EQ(request.method_token, "GET");
    EXPECT_EQ(request.target, "/");
    EXPECT_EQ(request.path, "/");
    EXPECT_EQ(request.query, "");
    EXPECT_EQ(request.version, HttpVersion::Http11);
    EXPECT_EQ(request.host, "example.com");
    EXPECT_TRUE(request.keep_alive);
    EXPECT_FALSE(request.has_if_none_match);
    EXPECT_FALSE(request.has_if_modified_since);
    EXPECT_EQ(result.consumed, kMinimalGet.size());
}

TEST(HttpRequest, MapsMethodTokensCaseSensitively) {
    const struct {
        std::string_view token;
        Method method;
    } rows[] = {
        {"GET", Method::Get},
        {"HEAD", Method::Head},
        {"OPTIONS", Method::Options},
        {"POST", Method::Other},
        {"get", Method::Other},
        {"Head", Method::Other},
        {"M-SEARCH", Method::Other},
        {"GETS", Method::Other},
        {"OPTION", Method::Other},
        {std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"), Method::Other},
    };
    for (const auto& row : rows) {
        const std::string input = get_with_request_line(std::string(row.token) + " / HTTP/1.1");
        const ParseResult result = parse_request(input);
        ASSERT_EQ(result.status, ParseStatus::Complete) << row.token;
        EXPECT_EQ(result.request.method, row.method) << row.token;
        EXPECT_EQ(result.request.method_token, row.token);
    }
}

TEST(HttpRequest, SplitsTargetAtTheFirstQuestionMarkWithoutDecoding) {
    const struct {
        std::string_view target, path, query;
    } rows[] = {
        {"/", "/", ""},
        {"/?", "/", ""},
        {"/a?b", "/a", "b"},
        {"/a?b?c=/d", "/a", "b?c=/d"},
        {"/%2e%2E/../x", "/%2e%2E/../x", ""},
        {"//double//slash", "//double//slash", ""},
        {"/a;b,c=d!$&'()*+:@-._~", "/a;b,c=d!$&'()*+:@-._~", ""},
        {"/.well-known/jwks.json?%41=%7e", "/.well-known/jwks.json", "%41=%7e"},
    };
    for (const auto& row : rows) {
        const std::string input =
            get_with_request_line("GET " + std::string(row.target) + " HTTP/1.1");
        const ParseResult result = parse_request(input);
        ASSERT_EQ(result.status, ParseStatus::Complete) << row.target;
        EXPECT_EQ(result.request.target, row.target);
        EXPECT_EQ(result.request.path, row.path);
        EXPECT_EQ(result.request.query, row.query);
    }
}

TEST(HttpRequest, DerivesKeepAliveFromVersionAndConnection) {
    const struct {
        std::string_view version;
        std::string_view fields;
        bool keep_alive;
    } rows[] = {
        {"HTTP/1.1", "", true},
        {"HTTP/1.0", "", false},
        {"HTTP/1.1", "Connection: close\r\n", false},
        {"HTTP/1.1", "Connection: CLOSE\r\n", false},
        {"HTTP/1.0", "Connection: keep-alive\r\n", true},
        {"HTTP/1.0", "Connection: Keep-Alive\r\n", true},
        {"HTTP/1.1", "Connection: keep-alive\r\n", true},
        {"HTTP/1.0", "Connection: keep-alive, close\r\n", false},
        {"HTTP/1.0", "Connection: close\r\nConnection: keep-alive\r\n", false},
        {"HTTP/1.0", "Connection: upgrade , keep-alive\r\n", true},
        {"HTTP/1.1", "Connection: ,, close ,\r\n", false},
        {"HTTP/1.1", "Connection: closed\r\n", true},
        {"HTTP/1.0", "Connection: keep-alive-ish\r\n", false},
        {"HTTP/1.1", "Connection:\r\n", true},
    };
    for (const auto& row : rows) {
        const std::string input = "GET / " + std::string(row.version) +
                                  "\r\nHost: example.com\r\n" + std::string(row.fields) + "\r\n";
        const ParseResult result = parse_request(input);
        ASSERT_EQ(result.status, ParseStatus::Complete) << input;
        EXPECT_EQ(result.request.keep_alive, row.keep_alive) << input;
        EXPECT_EQ(result.request.version,
                  row.version == "HTTP/1.0" ? HttpVersion::Http10 : HttpVersion::Http11);
    }
}

TEST(HttpRequest, AcceptsValidHostForms) {
    const std::string_view hosts[] = {
        "example.com",
        "example.com:443",
        "a_b-c.d",
        "127.0.0.1",
        "127.0.0.1:8080",
        "[::1]",
        "[::1]:8443",
        "[::]",
        "[2001:db8::1]",
        "[::ffff:192.0.2.1]",
        "localhost:0",
        "h:65535",
        "[1:2:3:4:5:6:7:8]",
        "[1:2:3:4:5:6:1.2.3.4]",
        "[1::]",
        "[FE80::A:b]",
    };
    for (std::string_view host : hosts) {
        const std::string input = get_with_host(host);  // outlives the views in `result`
        const ParseResult result = parse_request(input);
        ASSERT_EQ(result.status, ParseStatus::Complete) << host << ": " << result.error_reason;
        EXPECT_EQ(result.request.host, host);
    }
}

TEST(HttpRequest, TrimsOptionalWhitespaceAroundValues) {
    const std::string input =
        "GET / HTTP/1.1\r\nHost: \t example.com:8443 \t\r\nIf-None-Match:  \"v1\" \r\n"
        "If-Modified-Since:\tSun, 06 Nov 1994 08:49:37 GMT\t\r\n\r\n";
    const ParseResult result = parse_request(input);
    ASSERT_EQ(result.status, ParseStatus::Complete) << result.error_reason;
    EXPECT_EQ(result.request.host, "example.com:8443");
    EXPECT_TRUE(result.request.has_if_none_match);
    EXPECT_EQ(result.request.if_none_match, "\"v1\"");
    EXPECT_TRUE(result.request.has_if_modified_since);
    EXPECT_EQ(result.request.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(HttpRequest, IgnoresRepeatedConditionalHeaders) {
    const ParseResult etags = parse_request(get_with(
        "If-None-Match: \"a\"\r\nif-none-match: \"b\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 "
        "08:49:37 GMT\r\n"));
    ASSERT_EQ(etags.status, ParseStatus::Complete);
    EXPECT_FALSE(etags.request.has_if_none_match);
    EXPECT_TRUE(etags.request.has_if_modified_since);

    const std::string dates_input =
        get_with("IF-MODIFIED-SINCE: a\r\nIf-None-Match: *\r\nIf-Modified-Since: b\r\n");
    const ParseResult dates = parse_request(dates_input);
    ASSERT_EQ(dates.status, ParseStatus::Complete);
    EXPECT_FALSE(dates.request.has_if_modified_since);
    EXPECT_TRUE(dates.request.has_if_none_match);
    EXPECT_EQ(dates.request.if_none_match, "*");
}

TEST(HttpRequest, AcceptsZeroContentLength) {
    for (std::string_view value : {"0", "000", " 0 "}) {
        const ParseResult result =
            parse_request(get_with("Content-Length: " + std::string(value) + "\r\n"));
        EXPECT_EQ(result.status, ParseStatus::Complete) << value << ": " << result.error_reason;
    }
}

TEST(HttpRequest, ParsesPipelinedRequestsOneAfterAnother) {
    const std::string first = "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n";
    const std::string second =
        "HEAD /b?c HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";
    const std::string third_start = "GET /c HTTP/1.1\r\nHo";
    const std::string buffer = first + second + third_start;
    std::string_view rest = buffer;

    ParseResult result = parse_request(rest);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_EQ(result.consumed, first.size());
    EXPECT_EQ(result.request.path, "/a");
    rest.remove_prefix(result.consumed);

    result = parse_request(rest);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_EQ(result.consumed, second.size());
    EXPECT_EQ(result.request.method, Method::Head);
    EXPECT_EQ(result.request.query, "c");
    EXPECT_FALSE(result.request.keep_alive);
    rest.remove_prefix(result.consumed);

    EXPECT_EQ(parse_request(rest).status, ParseStatus::Incomplete);
}

// Errors that are certain must not wait for the end of the head.
TEST(HttpRequest, ReportsCertainErrorsBeforeTheHeadEnds) {
    const struct {
        std::string_view input;
        int status;
    } rows[] = {
        {"GET /a\0"sv, 400},
        {"\r"sv, 400},
        {"GET http:"sv, 400},
        {"GET / HTTQ"sv, 400},
        {"GET / HTTP/2.0\r\n"sv, 505},
        {"GET / HTTP/1.1\r\nX-A: a\nb"sv, 400},
        {"GET / HTTP/1.1\r\nHost : a"sv, 400},
        {"GET / HTTP/1.1\r\n Host: a"sv, 400},
        {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"sv, 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n"sv, 400},
        {"GET / HTTP/1.1\r\nHost: a@b\r\n"sv, 400},
        {"GET / HTTP/1.1\r\nContent-Length: 1\r\n"sv, 400},
    };
    for (const auto& row : rows) {
        const ParseResult result = parse_request(row.input);
        ASSERT_EQ(result.status, ParseStatus::Error) << row.input;
        EXPECT_EQ(result.error_status, row.status) << row.input;
    }
}

TEST(HttpRequest, WaitsForTheHeadBeforeJudgingWholeHeadRules) {
    // Missing Host and Expect can only be judged once the head is complete.
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nExpect: 100-continue\r\n").status,
              ParseStatus::Incomplete);
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nAccept: */*\r\n").status, ParseStatus::Incomplete);
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\n\r").status, ParseStatus::Incomplete);
}

TEST(HttpRequest, EnforcesRequestLineLimitAtItsBoundary) {
    RequestLimits limits;
    limits.max_request_line_bytes = 24;
    const std::string at_limit = "GET /" + std::string(10, 'a') + " HTTP/1.1";  // 24 bytes
    ASSERT_EQ(at_limit.size(), 24U);
    EXPECT_EQ(parse_request(get_with_request_line(at_limit), limits).status, ParseStatus::Complete);
    // The request line may end exactly at the limit even if its CRLF has not arrived.
    EXPECT_EQ(parse_request(at_limit, limits).status, ParseStatus::Incomplete);
    EXPECT_EQ(parse_request(at_limit + "\r", limits).status, ParseStatus::Incomplete);

    const std::string over_limit = "GET /" + std::string(11, 'a') + " HTTP/1.1";
    const ParseResult over = parse_request(get_with_request_line(over_limit), limits);
    ASSERT_EQ(over.status, ParseStatus::Error);
    EXPECT_EQ(over.error_status, 414);
    const ParseResult unfinished = parse_request("GET /" + std::string(20, 'a'), limits);
    ASSERT_EQ(unfinished.status, ParseStatus::Error);
    EXPECT_EQ(unfinished.error_status, 414);
}

TEST(HttpRequest, EnforcesHeadLimitAtItsBoundary) {
    const std::string head = std::string(kMinimalGet);
    RequestLimits limits;
    limits.max_head_bytes = head.size();
    EXPECT_EQ(parse_request(head, limits).status, ParseStatus::Complete);
    // Extra bytes after a head that fits belong to the next request.
    EXPECT_EQ(parse_request(head + "GET", limits).status, ParseStatus::Complete);

    const std::string unfinished = head.substr(0, head.size() - 1);
    EXPECT_EQ(parse_request(unfinished, limits).status, ParseStatus::Incomplete);
    limits.max_head_bytes = unfinished.size();
    const ParseResult full = parse_request(unfinished, limits);
    ASSERT_EQ(full.status, ParseStatus::Error);
    EXPECT_EQ(full.error_status, 431);
    const ParseResult over = parse_request(head, limits);
    ASSERT_EQ(over.status, ParseStatus::Error);
    EXPECT_EQ(over.error_status, 431);
}

TEST(HttpRequest, EnforcesHeaderCountAtItsBoundary) {
    RequestLimits limits;
    limits.max_header_count = 3;
    EXPECT_EQ(parse_request(get_with("A: 1\r\nB: 2\r\n"), limits).status, ParseStatus::Complete);
    const ParseResult over = parse_request(get_with("A: 1\r\nB: 2\r\nC: 3\r\n"), limits);
    ASSERT_EQ(over.status, ParseStatus::Error);
    EXPECT_EQ(over.error_status, 431);
}

TEST(HttpRequest, EmptyInputIsIncomplete) {
    const ParseResult result = parse_request("");
    EXPECT_EQ(result.status, ParseStatus::Incomplete);
    EXPECT_EQ(result.consumed, 0U);
}

}  // namespace
}  // namespace oidcgw::testing
