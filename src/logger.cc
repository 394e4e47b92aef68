#include "logger.h"

#include <chrono>
#include <ctime>
#include <string>

namespace oidcgw {
namespace {

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::Debug:
            return "debug";
        case LogLevel::Info:
            return "info";
        case LogLevel::Warn:
            return "warn";
        case LogLevel::Error:
            return "error";
    }
    return "info";
}

std::string utc_timestamp() {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t seconds = system_clock::to_time_t(now);
    const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char text[96];  // sized for any int the format could meet, which -O2 checks
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                  static_cast<int>(millis));
    return text;
}

}  // namespace

void Logger::log(LogLevel level, std::string_view event, const nlohmann::json& fields) {
    if (level < minimum_) return;
    // ordered_json keeps time/level/event first, which makes the lines easy to scan by eye.
    nlohmann::ordered_json line;
    line["time"] = utc_timestamp();
    line["level"] = level_name(level);
    line["event"] = std::string(event);
    if (fields.is_object()) {
        for (const auto& [key, value] : fields.items()) line[key] = value;
    }
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::lock_guard lock(mutex_);
    std::fwrite(text.data(), 1, text.size(), sink_);
    std::fflush(sink_);
}

}  // namespace oidcgw
