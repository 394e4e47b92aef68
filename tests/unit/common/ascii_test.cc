// ASCII letter case for protocol text: never the locale's idea of a letter.
#include "common/ascii.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw {
namespace {

using namespace std::string_literals;

TEST(Ascii, ToLowerChangesOnlyAsciiCapitals) {
    EXPECT_EQ(to_lower_ascii("GW.Example.COM"), "gw.example.com");
    EXPECT_EQ(to_lower_ascii("already lower 123 -_.@[]"), "already lower 123 -_.@[]");
    EXPECT_EQ(to_lower_ascii(""), "");
    EXPECT_EQ(to_lower_ascii("AZ@[`{"), "az@[`{");  // the neighbours of 'A'-'Z' stay
    EXPECT_EQ(to_lower_ascii("\xc3\x89T\xc3\x89"), "\xc3\x89t\xc3\x89");  // "ÉTÉ": only the T
    EXPECT_EQ(to_lower_ascii("A\0B"s), "a\0b"s);
    EXPECT_EQ(to_lower_ascii('Q'), 'q');
    EXPECT_EQ(to_lower_ascii('\xc9'), '\xc9');
}

TEST(Ascii, EqualsIgnoringCase) {
    EXPECT_TRUE(equals_ignoring_ascii_case("Example.COM", "example.com"));
    EXPECT_TRUE(equals_ignoring_ascii_case("", ""));
    EXPECT_FALSE(equals_ignoring_ascii_case("example.com", "example.com."));
    EXPECT_FALSE(equals_ignoring_ascii_case("a", "b"));
    EXPECT_FALSE(equals_ignoring_ascii_case("@", "`"));  // 0x40 and 0x60 differ by 0x20 too
    EXPECT_FALSE(equals_ignoring_ascii_case("\xc3\xa9", "\xc3\x89"));  // é and É: not ASCII
    EXPECT_FALSE(equals_ignoring_ascii_case("a\0"s, "a"));
}

}  // namespace
}  // namespace oidcgw
