#include "edge/access_log.h"

#include "common/raii.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace oidcgw::testing {
namespace {

using nlohmann::json;

// A logger writing into a tmpfile(), and the lines written so far, parsed.
class CapturedLogger {
  public:
    CapturedLogger() : file_(std::tmpfile()), logger_(file_.get()) {
        if (!file_) throw std::runtime_error("tmpfile() failed");
    }
    Logger& logger() { return logger_; }

    std::vector<std::string> raw_lines() const {
        std::fflush(file_.get());
        std::rewind(file_.get());
        std::string text;
        char buffer[4096];
        for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, file_.get())) > 0;) {
            text.append(buffer, got);
        }
        std::fseek(file_.get(), 0, SEEK_END);
        std::vector<std::string> lines;
        std::istringstream stream(text);
        for (std::string line; std::getline(stream, line);) lines.push_back(line);
        return lines;
    }

    std::vector<json> lines() const {
        std::vector<json> parsed;
        for (const std::string& line : raw_lines()) parsed.push_back(json::parse(line));
        return parsed;
    }

  private:
    std::unique_ptr<std::FILE, CDeleter<std::fclose>> file_;
    Logger logger_;
};

AccessRecord sample_record() {
    return AccessRecord{.client = "203.0.113.7",
                        .method = "GET",
                        .path = "/.well-known/jwks.json",
                        .status = 200,
                        .bytes = 1234,
                        .issuer = "https://oidc.example.com"};
}

std::size_t count_events(const std::vector<json>& lines, const std::string& event) {
    std::size_t count = 0;
    for (const json& line : lines) count += line["event"] == event ? 1 : 0;
    return count;
}

TEST(AccessLog, DisabledByDefaultAndWritesNothing) {
    CapturedLogger captured;
    AccessLog access_log(captured.logger());
    EXPECT_FALSE(access_log.enabled());
    access_log.record(sample_record());
    EXPECT_TRUE(captured.raw_lines().empty());

    access_log.configure(true, 10);
    EXPECT_TRUE(access_log.enabled());
    access_log.configure(false, 10);
    access_log.record(sample_record());
    EXPECT_TRUE(captured.raw_lines().empty());
}

TEST(AccessLog, LineFields) {
    CapturedLogger captured;
    AccessLog access_log(captured.logger());
    access_log.configure(true, 100);
    access_log.record(sample_record());
    AccessRecord not_found = sample_record();
    not_found.path = "/nope?x=1";
    not_found.status = 404;
    not_found.bytes = 10;
    not_found.issuer = "";
    not_found.client = "2001:db8::1";
    access_log.record(not_found);

    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["level"], "info");
    EXPECT_EQ(lines[0]["event"], "access");
    EXPECT_EQ(lines[0]["client"], "203.0.113.7");
    EXPECT_EQ(lines[0]["method"], "GET");
    EXPECT_EQ(lines[0]["path"], "/.well-known/jwks.json");
    EXPECT_EQ(lines[0]["status"], 200);
    EXPECT_EQ(lines[0]["bytes"], 1234);
    EXPECT_EQ(lines[0]["issuer"], "https://oidc.example.com");
    EXPECT_FALSE(lines[0].contains("path_truncated"));
    EXPECT_FALSE(lines[0].contains("method_truncated"));
    EXPECT_EQ(lines[0].size(), 9u);  // time, level, event and the six fields

    EXPECT_EQ(lines[1]["client"], "2001:db8::1");
    EXPECT_EQ(lines[1]["path"], "/nope?x=1");
    EXPECT_EQ(lines[1]["status"], 404);
    EXPECT_EQ(lines[1]["issuer"], "");
}

TEST(AccessLog, LogfmtLine) {
    CapturedLogger captured;
    captured.logger().configure(LogFormat::Logfmt, LogLevel::Info);
    AccessLog access_log(captured.logger());
    access_log.configure(true, 100);
    access_log.record(sample_record());
    const auto lines = captured.raw_lines();
    ASSERT_EQ(lines.size(), 1u);
    const std::string expected_tail =
        " level=info event=access bytes=1234 client=203.0.113.7 issuer=https://oidc.example.com "
        "method=GET path=/.well-known/jwks.json status=200";
    EXPECT_TRUE(lines[0].starts_with("time=")) << lines[0];
    EXPECT_TRUE(lines[0].ends_with(expected_tail)) << lines[0];
}

TEST(AccessLog, LongPathAndMethodAreTruncated) {
    CapturedLogger captured;
    AccessLog access_log(captured.logger());
    access_log.configure(true, 100);
    const std::string long_path = "/" + std::string(400, 'a');
    AccessRecord record = sample_record();
    record.path = long_path;
    access_log.record(record);

    // A cut never splits a UTF-8 character: 255 bytes then a 2-byte 'é' ends at byte 255.
    const std::string utf8_path = std::string(255, 'b') + "\xC3\xA9" + "tail";
    record.path = utf8_path;
    const std::string long_method(100, 'X');
    record.method = long_method;
    access_log.record(record);

    // Exactly the limit is not truncated.
    const std::string limit_path(AccessLog::kMaxPathBytes, 'c');
    record.path = limit_path;
    record.method = "GET";
    access_log.record(record);

    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0]["path"], long_path.substr(0, 256));
    EXPECT_EQ(lines[0]["path_truncated"], true);
    EXPECT_EQ(lines[1]["path"], std::string(255, 'b'));
    EXPECT_EQ(lines[1]["path_truncated"], true);
    EXPECT_EQ(lines[1]["method"], std::string(AccessLog::kMaxMethodBytes, 'X'));
    EXPECT_EQ(lines[1]["method_truncated"], true);
    EXPECT_EQ(lines[2]["path"], limit_path);
    EXPECT_FALSE(lines[2].contains("path_truncated"));
    for (const std::string& raw : captured.raw_lines()) EXPECT_LT(raw.size(), 512u) << raw;
}

TEST(AccessLog, RateLimitPerSecondWithSuppressedCount) {
    CapturedLogger captured;
    std::atomic<std::int64_t> now{1000};
    AccessLog access_log(captured.logger(), [&now] { return now.load(); });
    access_log.configure(true, 3);
    for (int i = 0; i < 10; ++i) access_log.record(sample_record());
    auto lines = captured.lines();
    EXPECT_EQ(lines.size(), 3u);
    EXPECT_EQ(count_events(lines, "access"), 3u);

    // The first record of a later second reports the 7 dropped ones, then is written itself.
    now = 1001;
    access_log.record(sample_record());
    lines = captured.lines();
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[3]["event"], "access_log_suppressed");
    EXPECT_EQ(lines[3]["level"], "info");
    EXPECT_EQ(lines[3]["count"], 7);
    EXPECT_EQ(lines[3]["max_per_second"], 3);
    EXPECT_EQ(lines[4]["event"], "access");

    // A second without excess reports nothing; several seconds later neither.
    access_log.record(sample_record());
    access_log.record(sample_record());
    now = 1005;
    access_log.record(sample_record());
    lines = captured.lines();
    EXPECT_EQ(lines.size(), 8u);
    EXPECT_EQ(count_events(lines, "access_log_suppressed"), 1u);

    // A new limit applies at once.
    access_log.configure(true, 1);
    access_log.record(sample_record());  // second 1005 already had one line
    now = 1006;
    access_log.record(sample_record());
    lines = captured.lines();
    ASSERT_EQ(lines.size(), 10u);
    EXPECT_EQ(lines[8]["event"], "access_log_suppressed");
    EXPECT_EQ(lines[8]["count"], 1);
    EXPECT_EQ(lines[9]["event"], "access");
}

TEST(AccessLog, RespectsLogLevel) {
    CapturedLogger captured;
    std::atomic<std::int64_t> now{50};
    AccessLog access_log(captured.logger(), [&now] { return now.load(); });
    access_log.configure(true, 1);
    captured.logger().configure(LogFormat::Json, LogLevel::Warn);
    for (int i = 0; i < 5; ++i) access_log.record(sample_record());
    EXPECT_TRUE(captured.raw_lines().empty());
    // Records filtered by level were not counted as suppressed either.
    captured.logger().configure(LogFormat::Json, LogLevel::Info);
    now = 51;
    access_log.record(sample_record());
    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["event"], "access");
}

TEST(AccessLog, ManyThreadsShareTheLimit) {
    CapturedLogger captured;
    std::atomic<std::int64_t> now{7};
    AccessLog access_log(captured.logger(), [&now] { return now.load(); });
    access_log.configure(true, 100);
    constexpr int kThreads = 4;
    constexpr int kRecordsEach = 500;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&access_log] {
            for (int i = 0; i < kRecordsEach; ++i) access_log.record(sample_record());
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(count_events(captured.lines(), "access"), 100u);

    now = 8;
    access_log.record(sample_record());
    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 102u);
    EXPECT_EQ(lines[100]["event"], "access_log_suppressed");
    EXPECT_EQ(lines[100]["count"], kThreads * kRecordsEach - 100);
}

TEST(AccessLog, WallClockConstructorWrites) {
    CapturedLogger captured;
    AccessLog access_log(captured.logger());
    access_log.configure(true, 100000);
    for (int i = 0; i < 3; ++i) access_log.record(sample_record());
    EXPECT_EQ(count_events(captured.lines(), "access"), 3u);
}

TEST(AccessLog, ZeroLimitIsTreatedAsOne) {
    CapturedLogger captured;
    std::atomic<std::int64_t> now{1};
    AccessLog access_log(captured.logger(), [&now] { return now.load(); });
    access_log.configure(true, 0);
    access_log.record(sample_record());
    access_log.record(sample_record());
    EXPECT_EQ(captured.lines().size(), 1u);
}

}  // namespace
}  // namespace oidcgw::testing
