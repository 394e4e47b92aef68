#include "common/duration.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

using std::chrono::milliseconds;

milliseconds parse_ok(std::string_view text) {
    std::string error;
    const auto parsed = parse_duration(text, &error);
    EXPECT_TRUE(parsed.has_value()) << text << ": " << error;
    EXPECT_TRUE(error.empty()) << text;
    return parsed.value_or(milliseconds{-1});
}

std::string parse_error(std::string_view text) {
    std::string error;
    const auto parsed = parse_duration(text, &error);
    EXPECT_FALSE(parsed.has_value())
        << text << " parsed as " << parsed.value_or(milliseconds{0}).count();
    return error;
}

TEST(ParseDuration, SingleUnits) {
    EXPECT_EQ(parse_ok("300ms"), milliseconds{300});
    EXPECT_EQ(parse_ok("10s"), milliseconds{10'000});
    EXPECT_EQ(parse_ok("5m"), milliseconds{300'000});
    EXPECT_EQ(parse_ok("2h"), milliseconds{7'200'000});
    EXPECT_EQ(parse_ok("2000000ns"), milliseconds{2});
    EXPECT_EQ(parse_ok("3000us"), milliseconds{3});
    EXPECT_EQ(parse_ok("4000\u00b5s"), milliseconds{4});  // micro sign
    EXPECT_EQ(parse_ok("5000\u03bcs"), milliseconds{5});  // Greek mu
}

TEST(ParseDuration, Compound) {
    EXPECT_EQ(parse_ok("1h30m"), milliseconds{5'400'000});
    EXPECT_EQ(parse_ok("2h45m10.5s"), milliseconds{(2 * 3600 + 45 * 60 + 10) * 1000 + 500});
    EXPECT_EQ(parse_ok("1m1ms"), milliseconds{60'001});
    // Go allows repeated and unordered units; they add up.
    EXPECT_EQ(parse_ok("1s1s"), milliseconds{2000});
    EXPECT_EQ(parse_ok("30s1m"), milliseconds{90'000});
}

TEST(ParseDuration, Fractions) {
    EXPECT_EQ(parse_ok("1.5h"), milliseconds{5'400'000});
    EXPECT_EQ(parse_ok("0.25s"), milliseconds{250});
    EXPECT_EQ(parse_ok(".5s"), milliseconds{500});
    EXPECT_EQ(parse_ok("5.s"), milliseconds{5000});
    EXPECT_EQ(parse_ok("1.0001s"), milliseconds{1000});  // truncated to whole milliseconds
    EXPECT_EQ(parse_ok("1.9999ms"), milliseconds{1});
    EXPECT_EQ(parse_ok("0.000000000000000000000001h"), milliseconds{0});
    EXPECT_EQ(parse_ok("1.12345678901234567890123s"), milliseconds{1123});
}

TEST(ParseDuration, Zero) {
    EXPECT_EQ(parse_ok("0"), milliseconds{0});
    EXPECT_EQ(parse_ok("0s"), milliseconds{0});
    EXPECT_EQ(parse_ok("0h0m0s"), milliseconds{0});
    EXPECT_EQ(parse_ok("999us"), milliseconds{0});
}

TEST(ParseDuration, Errors) {
    EXPECT_NE(parse_error("").find("empty"), std::string::npos);
    EXPECT_NE(parse_error("10").find("missing unit"), std::string::npos);
    EXPECT_NE(parse_error("00").find("missing unit"), std::string::npos);
    EXPECT_NE(parse_error("1h30").find("missing unit"), std::string::npos);
    EXPECT_NE(parse_error("-5s").find("sign"), std::string::npos);
    EXPECT_NE(parse_error("+5s").find("sign"), std::string::npos);
    EXPECT_NE(parse_error("5 s").find("unknown unit \" s\""), std::string::npos);
    EXPECT_NE(parse_error(" 5s").find("number"), std::string::npos);
    EXPECT_NE(parse_error("5s ").find("unknown unit \"s \""), std::string::npos);
    EXPECT_NE(parse_error("5x").find("unknown unit \"x\""), std::string::npos);
    EXPECT_NE(parse_error("5S").find("unknown unit \"S\""), std::string::npos);
    EXPECT_NE(parse_error("1e3s").find("unknown unit \"e\""), std::string::npos);
    EXPECT_NE(parse_error("s").find("number"), std::string::npos);
    EXPECT_NE(parse_error(".s").find("number"), std::string::npos);
    EXPECT_NE(parse_error("1.5.5s").find("missing unit"), std::string::npos);
    EXPECT_NE(parse_error("1,5s").find("unknown unit"), std::string::npos);
    EXPECT_NE(parse_error("5sec").find("unknown unit \"sec\""), std::string::npos);
}

TEST(ParseDuration, ErrorQuotesTheInput) {
    EXPECT_EQ(parse_error("5x"),
              "invalid duration \"5x\": unknown unit \"x\" (use ns, us, ms, s, m or h)");
}

TEST(ParseDuration, ErrorEscapesControlCharacters) {
    EXPECT_EQ(parse_error("5\n\"s"),
              "invalid duration \"5\\x0a\\\"s\": unknown unit \"\\x0a\\\"s\" (use ns, us, ms, s, m "
              "or h)");
}

TEST(ParseDuration, Overflow) {
    EXPECT_EQ(parse_ok("876000h"), milliseconds{876000LL * 3'600'000});  // exactly 100 × 365 days
    EXPECT_NE(parse_error("876001h").find("too large"), std::string::npos);
    EXPECT_NE(parse_error("876000h1ns").find("too large"), std::string::npos);
    EXPECT_NE(parse_error("875999h60m1s").find("too large"), std::string::npos);
    EXPECT_NE(parse_error("9223372036854775807ns1h").find("too large"), std::string::npos);
    EXPECT_NE(parse_error("99999999999999999999999999s").find("too large"), std::string::npos);
    EXPECT_NE(parse_error("18446744073709551616ns").find("too large"), std::string::npos);
    EXPECT_NE(parse_error("1000000000000000h").find("too large"), std::string::npos);
}

TEST(ParseDuration, NullErrorPointerIsAllowed) {
    EXPECT_FALSE(parse_duration("nope", nullptr).has_value());
    EXPECT_EQ(parse_duration("1s", nullptr), milliseconds{1000});
}

TEST(FormatDuration, ShortestForm) {
    EXPECT_EQ(format_duration(milliseconds{0}), "0s");
    EXPECT_EQ(format_duration(milliseconds{1}), "1ms");
    EXPECT_EQ(format_duration(milliseconds{500}), "500ms");
    EXPECT_EQ(format_duration(milliseconds{1000}), "1s");
    EXPECT_EQ(format_duration(milliseconds{1500}), "1.5s");
    EXPECT_EQ(format_duration(milliseconds{1050}), "1.05s");
    EXPECT_EQ(format_duration(milliseconds{1001}), "1.001s");
    EXPECT_EQ(format_duration(milliseconds{60'000}), "1m");
    EXPECT_EQ(format_duration(milliseconds{90'000}), "1m30s");
    EXPECT_EQ(format_duration(milliseconds{3'600'000}), "1h");
    EXPECT_EQ(format_duration(milliseconds{5'400'000}), "1h30m");
    EXPECT_EQ(format_duration(milliseconds{3'600'500}), "1h0.5s");
    EXPECT_EQ(format_duration(milliseconds{7 * 24 * 3'600'000LL}), "168h");
    EXPECT_EQ(format_duration(milliseconds{-1500}), "-1.5s");
}

TEST(FormatDuration, RoundTripsThroughParse) {
    for (const long long count : {1LL, 999LL, 1000LL, 1001LL, 59'999LL, 61'010LL, 3'599'999LL,
                                  86'400'000LL, 90'061'001LL}) {
        const milliseconds value{count};
        EXPECT_EQ(parse_ok(format_duration(value)), value) << format_duration(value);
    }
}

}  // namespace
}  // namespace oidcgw::testing
