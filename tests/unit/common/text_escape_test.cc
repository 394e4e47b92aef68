// escape_untrusted and quote_untrusted: what reaches an operator's terminal from a hostile server.
#include "common/text_escape.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include <string>

namespace oidcgw {
namespace {

using namespace std::string_literals;

// True when `text` is well-formed UTF-8 holding no C0 control, DEL or C1 control.
bool terminal_safe(const std::string& text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) return false;
        if (byte < 0x80) {
            ++i;
            continue;
        }
        // Leads C2-F4 only; the decoder below rejects what it must (see the tests).
        const std::size_t length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 0;
        if (length == 0 || byte > 0xf4 || i + length > text.size()) return false;
        std::uint32_t code = byte & (0x7f >> length);
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xc0) != 0x80) return false;
            code = (code << 6) | (next & 0x3f);
        }
        const std::uint32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
        if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
        if (code <= 0x9f) return false;
        i += length;
    }
    return true;
}

TEST(EscapeUntrusted, PrintableAsciiIsKept) {
    const std::string text = "RS256 sig P-256 kid-0e7d2b95 CN=Example, O=\"Acme\" \\ ~";
    EXPECT_EQ(escape_untrusted(text), text);
    EXPECT_EQ(escape_untrusted(""), "");
}

TEST(EscapeUntrusted, C0ControlsAndDelAreEscaped) {
    EXPECT_EQ(escape_untrusted("a\x1b[2Jb"), "a\\x1b[2Jb");
    EXPECT_EQ(escape_untrusted("\x1b]0;PWNED\x07"), "\\x1b]0;PWNED\\x07");
    EXPECT_EQ(escape_untrusted("tab\tnewline\ncr\r"), "tab\\x09newline\\x0acr\\x0d");
    EXPECT_EQ(escape_untrusted("nul"s + '\0' + "!"), "nul\\x00!");
    EXPECT_EQ(escape_untrusted("\x01\x1f\x7f"), "\\x01\\x1f\\x7f");
    for (int byte = 0; byte < 0x20; ++byte) {
        const std::string escaped = escape_untrusted(std::string(1, static_cast<char>(byte)));
        EXPECT_EQ(escaped.size(), 4u) << byte;
        EXPECT_TRUE(terminal_safe(escaped)) << byte;
    }
}

TEST(EscapeUntrusted, C1ControlsAsTwoByteUtf8AreEscaped) {
    EXPECT_EQ(escape_untrusted("\xc2\x9b"
                               "2J"),
              "\\u009b2J");  // CSI
    EXPECT_EQ(escape_untrusted("\xc2\x80"), "\\u0080");
    EXPECT_EQ(escape_untrusted("\xc2\x9d"
                               "0;t\xc2\x9c"),
              "\\u009d0;t\\u009c");  // OSC ... ST
    EXPECT_EQ(escape_untrusted("\xc2\x9f"), "\\u009f");
    EXPECT_EQ(escape_untrusted("\xc2\xa0"), "\xc2\xa0");  // U+00A0, the first one after C1
}

TEST(EscapeUntrusted, LoneC1BytesAreInvalidUtf8AndEscapedAsBytes) {
    EXPECT_EQ(escape_untrusted("a\x9b"
                               "2Jb"),
              "a\\x9b2Jb");
    EXPECT_EQ(escape_untrusted("\x80\xbf"), "\\x80\\xbf");
}

TEST(EscapeUntrusted, ValidMultibyteTextIsKept) {
    const std::string text = "Ümlaut café Ελληνικά 日本語 \xf0\x9f\x94\x91 \u00d7 \u2713";
    EXPECT_EQ(escape_untrusted(text), text);
    EXPECT_EQ(escape_untrusted("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");  // U+10FFFF
    EXPECT_EQ(escape_untrusted("\xef\xbf\xbd"), "\xef\xbf\xbd");          // U+FFFD
    EXPECT_EQ(escape_untrusted("\xee\x80\x80"), "\xee\x80\x80");          // U+E000
}

TEST(EscapeUntrusted, BidiControlsAndLineSeparatorsAreEscaped) {
    EXPECT_EQ(escape_untrusted("abc\xe2\x80\xae"
                               "cba"),
              "abc\\u202ecba");  // RLO
    EXPECT_EQ(escape_untrusted("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");
    EXPECT_EQ(escape_untrusted("\xe2\x80\x8f\xd8\x9c"), "\\u200f\\u061c");
    EXPECT_EQ(escape_untrusted("a\xe2\x80\xa8"
                               "b\xe2\x80\xa9"),
              "a\\u2028b\\u2029");
}

TEST(EscapeUntrusted, OverlongEncodingsAreEscapedByteByByte) {
    EXPECT_EQ(escape_untrusted("\xc0\x9b"), "\\xc0\\x9b");  // ESC-ish in two bytes
    EXPECT_EQ(escape_untrusted("\xc1\xbf"), "\\xc1\\xbf");
    EXPECT_EQ(escape_untrusted("\xe0\x80\x9b"), "\\xe0\\x80\\x9b");  // ESC in three bytes
    EXPECT_EQ(escape_untrusted("\xe0\x82\x9b"), "\\xe0\\x82\\x9b");  // CSI in three bytes
    EXPECT_EQ(escape_untrusted("\xf0\x80\x80\x9b"), "\\xf0\\x80\\x80\\x9b");
    EXPECT_EQ(escape_untrusted("\xf0\x8f\xbf\xbf"), "\\xf0\\x8f\\xbf\\xbf");
}

TEST(EscapeUntrusted, SurrogatesAndCodePointsAboveUnicodeAreEscaped) {
    EXPECT_EQ(escape_untrusted("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // U+D800
    EXPECT_EQ(escape_untrusted("\xed\xbf\xbf"), "\\xed\\xbf\\xbf");  // U+DFFF
    EXPECT_EQ(escape_untrusted("\xed\x9f\xbf"), "\xed\x9f\xbf");     // U+D7FF is fine
    EXPECT_EQ(escape_untrusted("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
    EXPECT_EQ(escape_untrusted("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
    EXPECT_EQ(escape_untrusted("\xfe\xff"), "\\xfe\\xff");
}

TEST(EscapeUntrusted, TruncatedSequencesAreEscapedAndDecodingResumes) {
    EXPECT_EQ(escape_untrusted("\xe2\x82"), "\\xe2\\x82");
    EXPECT_EQ(escape_untrusted("\xe2\x82"
                               "A"),
              "\\xe2\\x82A");
    EXPECT_EQ(escape_untrusted("\xf0\x9f\x94"), "\\xf0\\x9f\\x94");
    EXPECT_EQ(escape_untrusted("x\xc3"), "x\\xc3");
    // A lead byte followed by a valid sequence: only the lead is bad.
    EXPECT_EQ(escape_untrusted("\xe2\xc3\xa9"), "\\xe2\xc3\xa9");
    // A truncated sequence cannot swallow the ESC after it.
    EXPECT_EQ(escape_untrusted("\xe2\x1b[2J"), "\\xe2\\x1b[2J");
}

TEST(EscapeUntrusted, TheResultIsSafeAndEscapingAgainChangesNothing) {
    std::string every_byte;
    for (int byte = 0; byte < 256; ++byte) every_byte += static_cast<char>(byte);
    const std::string samples[] = {
        every_byte,
        "\x1b[2J\x1b]0;PWNED\x07\x1b[32mResult: every check passes",
        "\xc2\x9b"
        "31m\xe2\x80\xae\xed\xa0\x80\xc0\x80\xf4\x90\x80\x80\xe2\x82",
        "caf\xc3\xa9 \\x1b \\u009b",
    };
    for (const std::string& sample : samples) {
        const std::string escaped = escape_untrusted(sample);
        EXPECT_TRUE(terminal_safe(escaped)) << escaped;
        EXPECT_EQ(escape_untrusted(escaped), escaped);
        // And nlohmann accepts it as a JSON string without a replacement handler.
        EXPECT_NO_THROW(static_cast<void>(nlohmann::json(escaped).dump()));
    }
}

TEST(QuoteUntrusted, QuotesAndEscapesDelimiters) {
    EXPECT_EQ(quote_untrusted("kid-1"), "\"kid-1\"");
    EXPECT_EQ(quote_untrusted(""), "\"\"");
    EXPECT_EQ(quote_untrusted("a\", \"b"), "\"a\\\", \\\"b\"");
    EXPECT_EQ(quote_untrusted("C:\\x1b"), "\"C:\\\\x1b\"");  // not to be read as an escape
    EXPECT_EQ(quote_untrusted("a\x1b[31mb"), "\"a\\x1b[31mb\"");
    EXPECT_EQ(quote_untrusted("\xc2\x9b\xff"), "\"\\u009b\\xff\"");
    EXPECT_EQ(quote_untrusted("café"), "\"café\"");
}

TEST(QuoteUntrusted, LongValuesAreCutAtAWholeCharacterOrEscape) {
    const std::string cut = quote_untrusted(std::string(500, 'x'));
    EXPECT_LE(cut.size(), 120u);
    EXPECT_EQ(cut, "\"" + std::string(115, 'x') + "...\"");
    EXPECT_EQ(quote_untrusted(std::string(118, 'x')), "\"" + std::string(118, 'x') + "\"");
    EXPECT_EQ(quote_untrusted(std::string(119, 'x')), "\"" + std::string(115, 'x') + "...\"");
    // Escapes and multibyte characters are never split.
    for (std::size_t limit = 5; limit < 40; ++limit) {
        for (const std::string& unit : {"\x1b"s, "\xc2\x9b"s, "\xe6\x97\xa5"s, "\""s}) {
            std::string text;
            for (int i = 0; i < 20; ++i) text += unit;
            const std::string quoted = quote_untrusted(text, limit);
            EXPECT_LE(quoted.size(), limit);
            EXPECT_TRUE(terminal_safe(quoted)) << quoted;
            ASSERT_TRUE(quoted.ends_with("...\"")) << quoted;
            const std::string body = quoted.substr(1, quoted.size() - 5);
            const std::string whole = quote_untrusted(text, 1000);
            EXPECT_TRUE(whole.starts_with("\"" + body)) << quoted;
            const std::string unit_escaped = quote_untrusted(unit);
            const std::size_t unit_size = unit_escaped.size() - 2;
            EXPECT_EQ(body.size() % unit_size, 0u) << quoted;
        }
    }
}

TEST(TextEscape, TheSequenceAndCodePointJudgementsAreThoseEscapeUntrustedMakes) {
    std::uint32_t code = 0;
    EXPECT_EQ(utf8_sequence_length("a", &code), 1u);
    EXPECT_EQ(code, static_cast<std::uint32_t>('a'));
    EXPECT_EQ(utf8_sequence_length("\xC3\xA9x", &code), 2u);
    EXPECT_EQ(code, 0xe9u);
    EXPECT_EQ(utf8_sequence_length("\xE2\x80\xAE", &code), 3u);
    EXPECT_EQ(code, 0x202eu);
    EXPECT_TRUE(is_unsafe_code_point(code));
    EXPECT_FALSE(is_unsafe_code_point(0xe9));
    EXPECT_EQ(utf8_sequence_length("", &code), 0u);
    EXPECT_EQ(utf8_sequence_length("\xC0\xAF", &code), 0u);      // overlong
    EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80", &code), 0u);  // surrogate
    EXPECT_EQ(utf8_sequence_length("\xE2\x80", &code), 0u);      // cut short
    for (const std::uint32_t unsafe : {0x80u, 0x9bu, 0x61cu, 0x200eu, 0x2066u, 0x2028u}) {
        EXPECT_TRUE(is_unsafe_code_point(unsafe)) << unsafe;
    }
}

}  // namespace
}  // namespace oidcgw
