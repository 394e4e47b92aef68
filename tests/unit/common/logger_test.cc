#include "common/logger.h"

#include "common/raii.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace oidcgw::testing {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// A tmpfile() standing in for stderr; lines() reads back everything written so far.
class CapturedOutput {
  public:
    CapturedOutput() : file_(std::tmpfile()) {
        if (!file_) throw std::runtime_error("tmpfile() failed");
    }
    std::FILE* sink() const { return file_.get(); }

    std::vector<std::string> lines() const {
        std::fflush(file_.get());
        std::rewind(file_.get());
        std::string text;
        char buffer[4096];
        for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, file_.get())) > 0;) {
            text.append(buffer, got);
        }
        std::fseek(file_.get(), 0, SEEK_END);
        std::vector<std::string> result;
        std::istringstream stream(text);
        for (std::string line; std::getline(stream, line);) result.push_back(line);
        EXPECT_TRUE(text.empty() || text.back() == '\n') << "the last line is unterminated";
        return result;
    }

  private:
    std::unique_ptr<std::FILE, CDeleter<std::fclose>> file_;
};

const RE2 kTimestamp("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");

// Replaces the (varying) timestamp so that whole lines can be compared.
std::string without_time(std::string line, const std::string& prefix) {
    EXPECT_TRUE(line.starts_with(prefix)) << line;
    const std::string stamp = line.substr(prefix.size(), 24);
    EXPECT_TRUE(RE2::FullMatch(stamp, kTimestamp)) << line;
    line.replace(prefix.size(), 24, "T");
    return line;
}

// ---- JSON (the default) ------------------------------------------------------------------------

TEST(Logger, JsonLineShape) {
    CapturedOutput output;
    Logger logger(output.sink());
    logger.info("started", {{"workers", 4}, {"listen", {"0.0.0.0:443"}}, {"detail", "a \"b\""}});
    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), 1u);
    // time, level, event first; then the fields (a json object keeps them sorted by name).
    EXPECT_EQ(without_time(lines[0], "{\"time\":\""),
              "{\"time\":\"T\",\"level\":\"info\",\"event\":\"started\",\"detail\":\"a \\\"b\\\"\","
              "\"listen\":[\"0.0.0.0:443\"],\"workers\":4}");
}

TEST(Logger, JsonReplacesInvalidUtf8AndEscapesControls) {
    CapturedOutput output;
    Logger logger(output.sink());
    logger.warn("odd", {{"value", std::string("a\xff\n")}});
    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(
        lines[0].ends_with("\"level\":\"warn\",\"event\":\"odd\",\"value\":\"a\xEF\xBF\xBD\\n\"}"))
        << lines[0];
    EXPECT_EQ(json::parse(lines[0])["value"], "a\xEF\xBF\xBD\n");
}

// The code points text_escape.h escapes (C1 controls, bidi formatting, line separators) are
// escaped in the line too, so that `tail` on a terminal shows them instead of obeying them; the
// JSON value still reads back as the same text.
TEST(Logger, JsonEscapesC1AndBidiCharactersLikeTheUntrustedTextPolicy) {
    CapturedOutput output;
    Logger logger(output.sink());
    const std::string hostile =
        "a\xC2\x9B"
        "2J\xE2\x80\xAE"
        "b\xE2\x80\xA8"
        "caf\xC3\xA9";
    logger.warn("odd", {{"value", hostile}});
    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].ends_with("\"value\":\"a\\u009b2J\\u202eb\\u2028caf\xC3\xA9\"}"))
        << lines[0];
    EXPECT_EQ(json::parse(lines[0])["value"], hostile);
}

TEST(Logger, NullOrNonObjectFieldsAreLeftOut) {
    CapturedOutput output;
    Logger logger(output.sink());
    logger.error("stopped");
    logger.error("odd", json::array({1, 2}));
    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(without_time(lines[0], "{\"time\":\""),
              "{\"time\":\"T\",\"level\":\"error\",\"event\":\"stopped\"}");
    EXPECT_EQ(without_time(lines[1], "{\"time\":\""),
              "{\"time\":\"T\",\"level\":\"error\",\"event\":\"odd\"}");
}

// ---- Levels ------------------------------------------------------------------------------------

TEST(Logger, MinimumLevelFilters) {
    CapturedOutput output;
    Logger logger(output.sink());
    EXPECT_FALSE(logger.enabled(LogLevel::Debug));
    EXPECT_TRUE(logger.enabled(LogLevel::Info));
    logger.debug("hidden");
    logger.info("shown-info");
    logger.configure(LogFormat::Json, LogLevel::Warn);
    EXPECT_FALSE(logger.enabled(LogLevel::Info));
    logger.info("hidden");
    logger.warn("shown-warn");
    logger.error("shown-error");
    logger.configure(LogFormat::Json, LogLevel::Debug);
    logger.debug("shown-debug");
    logger.configure(LogFormat::Json, LogLevel::Error);
    logger.warn("hidden");
    logger.log(LogLevel::Error, "shown-log");

    std::vector<std::string> events;
    for (const std::string& line : output.lines()) {
        events.push_back(json::parse(line)["event"].get<std::string>());
    }
    EXPECT_EQ(events, (std::vector<std::string>{"shown-info", "shown-warn", "shown-error",
                                                "shown-debug", "shown-log"}));
}

TEST(Logger, ConstructorSetsLevelAndFormat) {
    CapturedOutput output;
    Logger logger(output.sink(), LogLevel::Debug, LogFormat::Logfmt);
    logger.debug("fine");
    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(without_time(lines[0], "time="), "time=T level=debug event=fine");
}

// ---- logfmt ------------------------------------------------------------------------------------

TEST(Logger, LogfmtLine) {
    CapturedOutput output;
    Logger logger(output.sink());
    logger.configure(LogFormat::Logfmt, LogLevel::Info);
    logger.info("started", {{"key", "value"}, {"key2", "value with spaces"}});
    logger.warn("upstream_fetch_failed", {{"attempt", 2}, {"ok", false}});
    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(without_time(lines[0], "time="),
              "time=T level=info event=started key=value key2=\"value with spaces\"");
    EXPECT_EQ(without_time(lines[1], "time="),
              "time=T level=warn event=upstream_fetch_failed attempt=2 ok=false");
}

TEST(Logger, FormatSwitchesBackToJson) {
    CapturedOutput output;
    Logger logger(output.sink());
    logger.configure(LogFormat::Logfmt, LogLevel::Info);
    logger.info("one");
    logger.configure(LogFormat::Json, LogLevel::Info);
    logger.info("two");
    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_TRUE(lines[0].starts_with("time=")) << lines[0];
    EXPECT_EQ(json::parse(lines[1])["event"], "two");
}

std::string logfmt_value(const ordered_json& value) {
    ordered_json fields;
    fields["k"] = value;
    const std::string line = render_logfmt(fields);
    EXPECT_TRUE(line.starts_with("k=")) << line;
    return line.substr(2);
}

TEST(RenderLogfmt, StringsAreQuotedOnlyWhenNeeded) {
    EXPECT_EQ(logfmt_value("plain"), "plain");
    EXPECT_EQ(logfmt_value("https://oidc.example.com/.well-known/jwks.json"),
              "https://oidc.example.com/.well-known/jwks.json");
    EXPECT_EQ(logfmt_value(""), "\"\"");
    EXPECT_EQ(logfmt_value("two words"), "\"two words\"");
    EXPECT_EQ(logfmt_value("a=b"), "\"a=b\"");
    EXPECT_EQ(logfmt_value("say \"hi\""), "\"say \\\"hi\\\"\"");
    EXPECT_EQ(logfmt_value("quote\"only"), "\"quote\\\"only\"");
    // A backslash alone needs no quotes; inside quotes it is escaped.
    EXPECT_EQ(logfmt_value("C:\\dir"), "C:\\dir");
    EXPECT_EQ(logfmt_value("C:\\my dir"), "\"C:\\\\my dir\"");
}

TEST(RenderLogfmt, ControlBytesAreEscapedInsideQuotes) {
    EXPECT_EQ(logfmt_value("line1\nline2"), "\"line1\\nline2\"");
    EXPECT_EQ(logfmt_value("tab\there"), "\"tab\\u0009here\"");
    EXPECT_EQ(logfmt_value("cr\r"), "\"cr\\u000d\"");
    EXPECT_EQ(logfmt_value(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
    EXPECT_EQ(logfmt_value("esc\x1b[31m"), "\"esc\\u001b[31m\"");
    EXPECT_EQ(logfmt_value("del\x7f"), "\"del\\u007f\"");
    // A forged second line or field cannot appear: the output is a single line.
    const std::string forged = logfmt_value("x\nlevel=error event=forged");
    EXPECT_EQ(forged.find('\n'), std::string::npos);
    EXPECT_EQ(forged, "\"x\\nlevel=error event=forged\"");
}

TEST(RenderLogfmt, Utf8IsKeptAndInvalidBytesReplaced) {
    EXPECT_EQ(logfmt_value("caf\xC3\xA9"), "caf\xC3\xA9");
    EXPECT_EQ(logfmt_value("\xF0\x9F\x94\x91key"), "\xF0\x9F\x94\x91key");
    const std::string replacement = "\xEF\xBF\xBD";
    EXPECT_EQ(logfmt_value("a\xFFz"), "a" + replacement + "z");
    EXPECT_EQ(logfmt_value("\xC3"), replacement);                    // cut short
    EXPECT_EQ(logfmt_value("\xC0\xAF"), replacement + replacement);  // overlong '/'
    EXPECT_EQ(logfmt_value("\xED\xA0\x80"), replacement + replacement + replacement);  // surrogate
    EXPECT_EQ(logfmt_value("\xF4\x90\x80\x80").size(), 4 * replacement.size());        // > U+10FFFF
    EXPECT_EQ(logfmt_value("\x80 x"), "\"" + replacement + " x\"");
}

TEST(RenderLogfmt, C1AndBidiCharactersAreEscapedLikeTheUntrustedTextPolicy) {
    EXPECT_EQ(logfmt_value("a\xC2\x9B"
                           "2J"),
              "a\\u009b2J");
    EXPECT_EQ(logfmt_value("x\xE2\x80\xAEy\xE2\x81\xA6z"), "x\\u202ey\\u2066z");
    EXPECT_EQ(logfmt_value("line\xE2\x80\xA8sep"), "line\\u2028sep");
}

TEST(RenderLogfmt, NumbersBooleansNullAreBare) {
    EXPECT_EQ(logfmt_value(42), "42");
    EXPECT_EQ(logfmt_value(-7), "-7");
    EXPECT_EQ(logfmt_value(18446744073709551615ULL), "18446744073709551615");
    EXPECT_EQ(logfmt_value(1.5), "1.5");
    EXPECT_EQ(logfmt_value(true), "true");
    EXPECT_EQ(logfmt_value(false), "false");
    EXPECT_EQ(logfmt_value(nullptr), "null");
    // The string "42" is still a string, but needs no quotes either.
    EXPECT_EQ(logfmt_value("42"), "42");
}

TEST(RenderLogfmt, ArraysAndObjectsAreQuotedJson) {
    EXPECT_EQ(logfmt_value(ordered_json::array({"0.0.0.0:443", "[::]:443"})),
              "\"[\\\"0.0.0.0:443\\\",\\\"[::]:443\\\"]\"");
    EXPECT_EQ(logfmt_value(ordered_json::array()), "\"[]\"");
    ordered_json object;
    object["b"] = 1;
    object["a"] = "x y";
    EXPECT_EQ(logfmt_value(object), "\"{\\\"b\\\":1,\\\"a\\\":\\\"x y\\\"}\"");
    EXPECT_EQ(logfmt_value(ordered_json::array({"a\nb"})), "\"[\\\"a\\\\nb\\\"]\"");
}

TEST(RenderLogfmt, KeysAreSanitisedAndOrderKept) {
    ordered_json fields;
    fields["zeta"] = 1;
    fields["alpha.beta-gamma_2"] = 2;
    fields["bad key=x\n"] = 3;
    fields[""] = 4;
    EXPECT_EQ(render_logfmt(fields), "zeta=1 alpha.beta-gamma_2=2 bad_key_x_=3 _=4");
    EXPECT_EQ(render_logfmt(ordered_json::object()), "");
    EXPECT_EQ(render_logfmt(ordered_json::array({1})), "");
}

// ---- Threads -----------------------------------------------------------------------------------

// Lines stay whole while several threads log and another switches format and level.
TEST(Logger, ConcurrentLinesStayWhole) {
    CapturedOutput output;
    Logger logger(output.sink());
    constexpr int kThreads = 4;
    constexpr int kLinesEach = 300;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&logger, t] {
            for (int i = 0; i < kLinesEach; ++i) {
                logger.warn("tick", {{"thread", t}, {"i", i}, {"text", "some words here"}});
            }
        });
    }
    std::thread switcher([&logger] {
        for (int i = 0; i < 200; ++i) {
            logger.configure(i % 2 == 0 ? LogFormat::Logfmt : LogFormat::Json,
                             i % 3 == 0 ? LogLevel::Debug : LogLevel::Info);
        }
    });
    for (auto& thread : threads) thread.join();
    switcher.join();

    const auto lines = output.lines();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLinesEach));
    const RE2 logfmt_line(
        "time=\\S+ level=warn event=tick i=\\d+ text=\"some words here\" thread=\\d");
    for (const std::string& line : lines) {
        if (line.starts_with("{")) {
            const json parsed = json::parse(line);
            EXPECT_EQ(parsed["event"], "tick");
            EXPECT_EQ(parsed["text"], "some words here");
        } else {
            EXPECT_TRUE(RE2::FullMatch(line, logfmt_line)) << line;
        }
    }
}

}  // namespace
}  // namespace oidcgw::testing
