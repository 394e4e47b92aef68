// The HTTP head parser against tables of valid and hostile heads (each row also a seed of the
// fuzz target's corpus): a valid head completes exactly, a hostile one is refused with its status,
// and every prefix of either waits or already fails the same way.
#include "edge/http_request.h"
#include "http_request_test_support.h"

#include <gtest/gtest.h>

#include "test_pki.h"

#include <filesystem>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw::testing {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

struct InputCase {
    std::string name;
    std::string input;
    RequestLimits limits;
    int status;  // expected error_status; 0 for valid requests
};

// Keeps GoogleTest from dumping the struct's bytes when a row fails.
void PrintTo(const InputCase& row, std::ostream* out) {
    *out << row.name;
}

std::string case_name(const ::testing::TestParamInfo<InputCase>& info) {
    return info.param.name;
}

std::vector<InputCase> valid_cases() {
    const RequestLimits defaults;
    return {
        {"minimal_get", std::string(kMinimalGet), defaults, 0},
        {"head_http10", "HEAD /a HTTP/1.0\r\nHost: example.com\r\n\r\n", defaults, 0},
        {"options", "OPTIONS /.well-known/openid-configuration HTTP/1.1\r\nHost: a\r\n\r\n",
         defaults, 0},
        {"other_method", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", defaults, 0},
        // Heads only: the body after them is never read (http_request_body_test.cc).
        {"other_method_with_body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
         defaults, 0},
        {"other_method_chunked",
         "DELETE /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", defaults, 0},
        {"other_method_expecting_continue",
         "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n",
         defaults, 0},
        {"jwks_with_query", "GET /.well-known/jwks.json?x=1&y=%2F HTTP/1.1\r\nHost: b.c\r\n\r\n",
         defaults, 0},
        {"conditional",
         get_with("If-None-Match: \"abc\"\r\nIf-Modified-Since: Tue, 01 Jan 2030 "
                  "00:00:00 GMT\r\n"),
         defaults, 0},
        {"connection_tokens", get_with("Connection: keep-alive, close\r\n"), defaults, 0},
        {"ipv6_host_port", get_with_host("[2001:db8::1]:8443"), defaults, 0},
        {"ows_and_obs_text", get_with("X-Note:\t a \xe9\xff \t\r\nAccept: */*\r\n"), defaults, 0},
        {"mixed_case_names", "GET / HTTP/1.1\r\nhOsT: example.com\r\nCONTENT-LENGTH: 00\r\n\r\n",
         defaults, 0},
        {"tight_limits_full",
         "GET /abcdefghijklmnopqr HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
         kTightLimits, 0},
    };
}

// Each row breaks one rule; `status` is what the parser must answer.
std::vector<InputCase> hostile_cases() {
    const RequestLimits defaults;
    const std::string long_filler(200, 'a');
    std::string many_fields;
    for (int i = 0; i < 65; ++i) many_fields += "X-F" + std::to_string(i) + ": v\r\n";
    return {
        // Line endings.
        {"empty_line_before_request_line", "\r\n"s + std::string(kMinimalGet), defaults, 400},
        {"bare_lf_before_request_line", "\n"s + std::string(kMinimalGet), defaults, 400},
        {"bare_lf_line_endings", "GET / HTTP/1.1\nHost: example.com\n\n", defaults, 400},
        {"bare_cr_after_request_line", "GET / HTTP/1.1\rHost: example.com\r\n\r\n", defaults, 400},
        {"bare_lf_after_field", "GET / HTTP/1.1\r\nHost: example.com\n\r\n", defaults, 400},
        {"bare_lf_as_terminator", "GET / HTTP/1.1\r\nHost: example.com\r\n\n", defaults, 400},
        {"bare_cr_as_terminator", "GET / HTTP/1.1\r\nHost: example.com\r\n\rX", defaults, 400},
        {"bare_cr_inside_value", get_with("X-A: a\rb\r\n"), defaults, 400},
        {"bare_lf_inside_value", get_with("X-A: a\nb\r\n"), defaults, 400},
        {"bare_lf_at_line_start", get_with("\nX-A: b\r\n"), defaults, 400},
        // Request line.
        {"leading_space", " "s + std::string(kMinimalGet), defaults, 400},
        {"method_with_separator", get_with_request_line("GE(T / HTTP/1.1"), defaults, 400},
        {"method_too_long", get_with_request_line(std::string(33, 'A') + " / HTTP/1.1"), defaults,
         400},
        {"two_spaces_after_method", get_with_request_line("GET  / HTTP/1.1"), defaults, 400},
        {"tab_after_method", get_with_request_line("GET\t/ HTTP/1.1"), defaults, 400},
        {"two_spaces_before_version", get_with_request_line("GET /  HTTP/1.1"), defaults, 400},
        {"http09_request", "GET /\r\n\r\n", defaults, 400},
        {"http09_with_host", get_with_request_line("GET /"), defaults, 400},
        {"absolute_form", get_with_request_line("GET http://example.com/ HTTP/1.1"), defaults, 400},
        {"authority_form", get_with_request_line("CONNECT example.com:443 HTTP/1.1"), defaults,
         400},
        {"asterisk_form", get_with_request_line("OPTIONS * HTTP/1.1"), defaults, 400},
        {"empty_target", get_with_request_line("GET  HTTP/1.1"), defaults, 400},
        {"target_fragment", get_with_request_line("GET /a#b HTTP/1.1"), defaults, 400},
        {"target_nul", get_with_request_line("GET /a\0b HTTP/1.1"s), defaults, 400},
        {"target_tab", get_with_request_line("GET /a\tb HTTP/1.1"), defaults, 400},
        {"target_del", get_with_request_line("GET /a\x7f HTTP/1.1"), defaults, 400},
        {"target_high_byte", get_with_request_line("GET /caf\xc3\xa9 HTTP/1.1"), defaults, 400},
        {"target_backslash", get_with_request_line("GET /a\\b HTTP/1.1"), defaults, 400},
        {"target_double_quote", get_with_request_line("GET /a\"b HTTP/1.1"), defaults, 400},
        {"target_angle_bracket", get_with_request_line("GET /<script> HTTP/1.1"), defaults, 400},
        {"target_caret", get_with_request_line("GET /a^b HTTP/1.1"), defaults, 400},
        {"target_backtick", get_with_request_line("GET /a`b HTTP/1.1"), defaults, 400},
        {"target_brace", get_with_request_line("GET /a{b} HTTP/1.1"), defaults, 400},
        {"target_pipe", get_with_request_line("GET /a|b HTTP/1.1"), defaults, 400},
        {"target_square_bracket", get_with_request_line("GET /a[0] HTTP/1.1"), defaults, 400},
        {"percent_not_hex", get_with_request_line("GET /%zz HTTP/1.1"), defaults, 400},
        {"percent_truncated", get_with_request_line("GET /a%4 HTTP/1.1"), defaults, 400},
        {"lowercase_version", get_with_request_line("GET / http/1.1"), defaults, 400},
        {"version_missing_minor", get_with_request_line("GET / HTTP/1"), defaults, 400},
        {"version_two_digit_minor", get_with_request_line("GET / HTTP/1.10"), defaults, 400},
        {"version_trailing_space", get_with_request_line("GET / HTTP/1.1 "), defaults, 400},
        {"version_garbage", get_with_request_line("GET / HTTQ/1.1"), defaults, 400},
        {"version_2_0", get_with_request_line("GET / HTTP/2.0"), defaults, 505},
        {"version_1_2", get_with_request_line("GET / HTTP/1.2"), defaults, 505},
        {"version_0_9", get_with_request_line("GET / HTTP/0.9"), defaults, 505},
        // Header field syntax.
        {"obs_fold_space", get_with("X-A: a\r\n b\r\n"), defaults, 400},
        {"obs_fold_tab", get_with("X-A: a\r\n\tb\r\n"), defaults, 400},
        {"space_before_colon", "GET / HTTP/1.1\r\nHost : example.com\r\n\r\n", defaults, 400},
        {"tab_before_colon", get_with("X-A\t: b\r\n"), defaults, 400},
        {"empty_field_name", get_with(": b\r\n"), defaults, 400},
        {"field_without_colon", get_with("NoColon\r\n"), defaults, 400},
        {"field_name_separator", get_with("X(A): b\r\n"), defaults, 400},
        {"field_name_high_byte", get_with("X-\xc3\xa9: b\r\n"), defaults, 400},
        {"value_nul", get_with("X-A: a\0b\r\n"s), defaults, 400},
        {"value_ctl",
         get_with("X-A: a\x01"
                  "b\r\n"),
         defaults, 400},
        {"value_del", get_with("X-A: a\x7f\r\n"), defaults, 400},
        {"value_escape", get_with("X-A: \x1b[31m\r\n"), defaults, 400},
        // Host.
        {"missing_host", "GET / HTTP/1.1\r\n\r\n", defaults, 400},
        {"missing_host_http10", "GET / HTTP/1.0\r\nAccept: */*\r\n\r\n", defaults, 400},
        {"duplicate_host", get_with("Host: example.com\r\n"), defaults, 400},
        {"duplicate_host_other_case", get_with("hOST: other.example\r\n"), defaults, 400},
        {"empty_host", get_with_host(""), defaults, 400},
        {"blank_host", get_with_host(" \t "), defaults, 400},
        {"host_userinfo", get_with_host("user@example.com"), defaults, 400},
        {"host_with_path", get_with_host("example.com/x"), defaults, 400},
        {"host_with_space", get_with_host("exa mple.com"), defaults, 400},
        {"host_with_comma", get_with_host("a.example,b.example"), defaults, 400},
        {"host_percent", get_with_host("ex%61mple.com"), defaults, 400},
        {"host_obs_text", get_with_host("caf\xc3\xa9.example"), defaults, 400},
        {"host_empty_port", get_with_host("example.com:"), defaults, 400},
        {"host_port_six_digits", get_with_host("example.com:123456"), defaults, 400},
        {"host_port_out_of_range", get_with_host("example.com:65536"), defaults, 400},
        {"host_port_not_digits", get_with_host("example.com:https"), defaults, 400},
        {"host_two_ports", get_with_host("example.com:1:2"), defaults, 400},
        {"host_only_port", get_with_host(":443"), defaults, 400},
        {"host_unclosed_ipv6", get_with_host("[::1"), defaults, 400},
        {"host_ipv6_bad_digit", get_with_host("[::g]"), defaults, 400},
        {"host_ipv6_zone", get_with_host("[fe80::1%25eth0]"), defaults, 400},
        {"host_ipv6_two_compressions", get_with_host("[1::2::3]"), defaults, 400},
        {"host_ipv6_nine_groups", get_with_host("[1:2:3:4:5:6:7:8:9]"), defaults, 400},
        {"host_ipv6_seven_groups", get_with_host("[1:2:3:4:5:6:7]"), defaults, 400},
        {"host_ipv6_long_group", get_with_host("[12345::1]"), defaults, 400},
        {"host_ipv6_bad_ipv4", get_with_host("[::ffff:1.2.3.256]"), defaults, 400},
        {"host_ipv6_trailing_colon", get_with_host("[1:2:3:4:5:6:7:]"), defaults, 400},
        {"host_ipvfuture", get_with_host("[v1.fe]"), defaults, 400},
        {"host_ipv6_trailing_bytes", get_with_host("[::1]x"), defaults, 400},
        {"host_bare_ipv6", get_with_host("::1"), defaults, 400},
        // Bodies and expectations.
        {"transfer_encoding_chunked", get_with("Transfer-Encoding: chunked\r\n"), defaults, 400},
        {"transfer_encoding_identity", get_with("transfer-encoding: identity\r\n"), defaults, 400},
        {"transfer_encoding_empty", get_with("Transfer-Encoding:\r\n"), defaults, 400},
        {"content_length_nonzero", get_with("Content-Length: 5\r\n"), defaults, 400},
        {"content_length_negative", get_with("Content-Length: -1\r\n"), defaults, 400},
        {"content_length_plus", get_with("Content-Length: +0\r\n"), defaults, 400},
        {"content_length_empty", get_with("Content-Length:\r\n"), defaults, 400},
        {"content_length_list", get_with("Content-Length: 0, 0\r\n"), defaults, 400},
        {"content_length_hex", get_with("Content-Length: 0x0\r\n"), defaults, 400},
        {"content_length_huge", get_with("Content-Length: 99999999999999999999999\r\n"), defaults,
         400},
        {"content_length_duplicate", get_with("Content-Length: 0\r\ncontent-length: 0\r\n"),
         defaults, 400},
        {"expect_continue", get_with("Expect: 100-continue\r\n"), defaults, 417},
        {"options_with_body", "OPTIONS / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
         defaults, 400},
        {"post_with_both_framings",
         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
         defaults, 400},
        {"post_with_two_transfer_encodings",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
         "chunked\r\n\r\n",
         defaults, 400},
        {"post_with_bad_content_length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
         defaults, 400},
        {"expect_empty", get_with("expect:\r\n"), defaults, 417},
        {"connection_not_token", get_with("Connection: close;x\r\n"), defaults, 400},
        {"connection_quoted", get_with("Connection: \"close\"\r\n"), defaults, 400},
        // Limits.
        {"request_line_too_long_unfinished", "GET /" + std::string(4092, 'a'), defaults, 414},
        {"request_line_too_long_tight", get_with_request_line("GET /" + long_filler + " HTTP/1.1"),
         kTightLimits, 414},
        {"request_line_one_over_tight",
         get_with_request_line("GET /" + std::string(19, 'a') + " HTTP/1.1"), kTightLimits, 414},
        {"head_too_large_unfinished",
         "GET / HTTP/1.1\r\nHost: a\r\nX-Filler: " + std::string(8192, 'a'), defaults, 431},
        {"head_too_large_tight", get_with("X-Filler: " + long_filler + "\r\n"), kTightLimits, 431},
        {"too_many_fields", get_with(many_fields), defaults, 431},
        {"too_many_fields_tight", get_with("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), kTightLimits, 431},
    };
}

class ValidRequest : public ::testing::TestWithParam<InputCase> {};

TEST_P(ValidRequest, CompletesAndConsumesExactlyTheHead) {
    const InputCase& row = GetParam();
    const ParseResult result = parse_request(row.input, row.limits);
    ASSERT_EQ(result.status, ParseStatus::Complete) << result.error_reason;
    EXPECT_EQ(result.consumed, row.input.size());
    // Bytes after the head belong to the next request and must not change the outcome.
    const std::string with_next = row.input + "GET / HTTP/1.1\r\n";
    const ParseResult followed = parse_request(with_next, RequestLimits{});
    ASSERT_EQ(followed.status, ParseStatus::Complete);
    EXPECT_EQ(followed.consumed, row.input.size());
}

TEST_P(ValidRequest, EveryProperPrefixIsIncomplete) {
    const InputCase& row = GetParam();
    for (std::size_t size = 0; size < row.input.size(); ++size) {
        const ParseResult result =
            parse_request(std::string_view(row.input).substr(0, size), row.limits);
        ASSERT_EQ(result.status, ParseStatus::Incomplete)
            << "prefix of " << size << " bytes: " << result.error_reason;
        EXPECT_EQ(result.consumed, 0U);
    }
}

TEST_P(ValidRequest, AllViewsPointIntoTheInput) {
    const InputCase& row = GetParam();
    const std::string_view input = row.input;
    const ParseResult result = parse_request(input, row.limits);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    const Request& request = result.request;
    for (std::string_view part :
         {request.method_token, request.target, request.path, request.query, request.host}) {
        EXPECT_TRUE(lies_within(part, input));
    }
    if (request.has_if_none_match) {
        EXPECT_TRUE(lies_within(request.if_none_match, input));
    }
    if (request.has_if_modified_since) {
        EXPECT_TRUE(lies_within(request.if_modified_since, input));
    }
}

INSTANTIATE_TEST_SUITE_P(Table, ValidRequest, ::testing::ValuesIn(valid_cases()), case_name);

class HostileRequest : public ::testing::TestWithParam<InputCase> {};

TEST_P(HostileRequest, IsRejectedWithTheExpectedStatus) {
    const InputCase& row = GetParam();
    const ParseResult result = parse_request(row.input, row.limits);
    ASSERT_EQ(result.status, ParseStatus::Error);
    EXPECT_EQ(result.error_status, row.status) << result.error_reason;
    EXPECT_EQ(result.consumed, 0U);
    EXPECT_FALSE(result.error_reason.empty());
    EXPECT_FALSE(lies_within(result.error_reason, row.input)) << "reason must not echo input";
}

// The scan only moves forward: a prefix either needs more bytes or already fails the same way.
TEST_P(HostileRequest, EveryPrefixIsIncompleteOrTheSameError) {
    const InputCase& row = GetParam();
    const ParseResult full = parse_request(row.input, row.limits);
    for (std::size_t size = 0; size < row.input.size(); ++size) {
        const ParseResult result =
            parse_request(std::string_view(row.input).substr(0, size), row.limits);
        if (result.status == ParseStatus::Incomplete) continue;
        ASSERT_EQ(result.status, ParseStatus::Error) << "prefix of " << size << " bytes";
        ASSERT_EQ(result.error_status, full.error_status) << "prefix of " << size << " bytes";
        ASSERT_EQ(result.error_reason, full.error_reason) << "prefix of " << size << " bytes";
    }
}

INSTANTIATE_TEST_SUITE_P(Table, HostileRequest, ::testing::ValuesIn(hostile_cases()), case_name);

TEST(HttpRequestFuzzCorpus, HoldsEveryTableRow) {
    const std::filesystem::path corpus =
        std::filesystem::path(OIDCGW_SOURCE_DIR) / "tests/fuzz/corpus/http_request";
    ASSERT_TRUE(std::filesystem::is_directory(corpus)) << corpus;
    std::set<std::string> seeds;
    for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
        seeds.insert(read_file(entry.path().string()));
    }
    for (const auto& rows : {valid_cases(), hostile_cases()}) {
        for (const InputCase& row : rows) {
            EXPECT_EQ(seeds.count(row.input), 1U) << "no corpus file holds row " << row.name;
        }
    }
}

}  // namespace
}  // namespace oidcgw::testing
