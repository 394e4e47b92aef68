// Bodies (src/edge/http_request.cc): a method the gateway does not serve may announce one, which
// is never read; GET, HEAD and OPTIONS may not (the table rows in http_request_table_test.cc).
#include "edge/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

TEST(HttpRequestBody, AnotherMethodsBodyIsAnnouncedNeverRead) {
    const std::string input =
        "POST /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    const ParseResult result = parse_request(input);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_TRUE(result.request.has_body);
    EXPECT_FALSE(result.request.keep_alive);       // the connection closes after the answer
    EXPECT_EQ(result.consumed, input.size() - 5);  // the head only: the body stays unread
    const ParseResult empty =
        parse_request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n");
    ASSERT_EQ(empty.status, ParseStatus::Complete);
    EXPECT_FALSE(empty.request.has_body);
    EXPECT_TRUE(empty.request.keep_alive);
    const ParseResult get = parse_request("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    EXPECT_FALSE(get.request.has_body);
}

}  // namespace
}  // namespace oidcgw::testing
