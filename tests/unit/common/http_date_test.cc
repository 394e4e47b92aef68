#include "common/http_date.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

TEST(HttpDate, FormatsImfFixdate) {
    EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDate, ParsesWhatItFormats) {
    for (std::time_t when : {std::time_t{0}, std::time_t{784111777}, std::time_t{1795000000}}) {
        EXPECT_EQ(parse_http_date(format_http_date(when)), when);
    }
}

TEST(HttpDate, RefusesOtherForms) {
    EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));  // RFC 850
    EXPECT_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994"));        // asctime
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
    EXPECT_FALSE(parse_http_date("Sun, 36 Nov 1994 08:49:37 GMT"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 28:49:37 GMT"));
    EXPECT_FALSE(parse_http_date("Xyz, 06 Nov 1994 08:49:37 GMT"));
    EXPECT_FALSE(parse_http_date(""));
}

TEST(HttpDate, ClockTracksTheCurrentSecond) {
    HttpDateClock clock;
    const std::string first = clock.now();
    EXPECT_EQ(first.size(), 29u);
    const auto parsed = parse_http_date(first);
    ASSERT_TRUE(parsed);
    EXPECT_LE(std::abs(*parsed - std::time(nullptr)), 2);
}

}  // namespace
}  // namespace oidcgw
