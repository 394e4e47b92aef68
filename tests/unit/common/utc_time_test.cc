// utc_time.cc: the UTC text forms, and RFC 3339 timestamps as ACME servers send them.
#include "common/utc_time.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

TEST(UtcTime, FormatsToTheSecond) {
    EXPECT_EQ(utc_iso8601(1735790400), "2025-01-02T04:00:00Z");
    EXPECT_EQ(utc_readable(1735790400), "2025-01-02 04:00:00 UTC");
}

TEST(UtcTime, ParsesRfc3339Examples) {
    // RFC 3339 §5.8, with the expected instants computed apart (Python's datetime).
    EXPECT_EQ(parse_rfc3339("1985-04-12T23:20:50.52Z"), 482196050);
    EXPECT_EQ(parse_rfc3339("1996-12-19T16:39:57-08:00"), 851042397);
    EXPECT_EQ(parse_rfc3339("1990-12-31T23:59:60Z"), 662688000);  // the leap second
    EXPECT_EQ(parse_rfc3339("1990-12-31T15:59:60-08:00"), 662688000);
    EXPECT_EQ(parse_rfc3339("1937-01-01T12:00:27.87+00:20"), -1041337173);
}

TEST(UtcTime, ParsesWhatAcmeServersSend) {
    EXPECT_EQ(parse_rfc3339("2025-01-02T04:00:00Z"), 1735790400);
    EXPECT_EQ(parse_rfc3339("2025-01-02t04:00:00z"), 1735790400);
    EXPECT_EQ(parse_rfc3339("2025-01-02T04:00:00.123456789Z"), 1735790400);
    EXPECT_EQ(parse_rfc3339("2025-01-02T05:30:00+01:30"), 1735790400);
    EXPECT_EQ(parse_rfc3339("2025-01-01T23:00:00-05:00"), 1735790400);
    EXPECT_EQ(parse_rfc3339("2025-01-02T04:00:00+00:00"), 1735790400);
    EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800);
    EXPECT_EQ(parse_rfc3339(utc_iso8601(1735790400)), 1735790400);
}

TEST(UtcTime, RefusesWhatIsNotRfc3339) {
    for (const char* text : {
             "",
             "2025-01-02",                 // a date alone
             "2025-01-02T04:00:00",        // no offset
             "2025-01-02 04:00:00Z",       // a space for 'T'
             "2025-01-02T04:00Z",          // no seconds
             "2025-1-02T04:00:00Z",        // one-digit month
             "2025-13-02T04:00:00Z",       // month 13
             "2025-00-02T04:00:00Z",       // month 0
             "2025-02-29T04:00:00Z",       // not a leap year
             "2025-04-31T04:00:00Z",       // April has 30 days
             "2025-01-02T24:00:00Z",       // hour 24
             "2025-01-02T04:60:00Z",       // minute 60
             "2025-01-02T04:00:61Z",       // second 61
             "2025-01-02T04:00:00.Z",      // a dot without digits
             "2025-01-02T04:00:00+0100",   // offset without a colon
             "2025-01-02T04:00:00+01",     // offset without minutes
             "2025-01-02T04:00:00+24:00",  // offset hour 24
             "2025-01-02T04:00:00+01:60",  // offset minute 60
             "2025-01-02T04:00:00ZZ",      // trailing text
             "2025-01-02T04:00:00Z ",      // trailing space
             " 2025-01-02T04:00:00Z",      // leading space
             "+2025-01-02T04:00:00Z",      // a signed year
             "1735790400",                 // a Unix time
         }) {
        EXPECT_EQ(parse_rfc3339(text), std::nullopt) << text;
    }
}

}  // namespace
}  // namespace oidcgw
