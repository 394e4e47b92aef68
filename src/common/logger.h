// One structured line per event on stderr (journald picks it up): JSON objects by default, or
// logfmt (`time=... level=info event=started key=value`) when configured.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace oidcgw {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };
enum class LogFormat { Json, Logfmt };

class Logger {
  public:
    explicit Logger(std::FILE* sink = stderr, LogLevel minimum = LogLevel::Info,
                    LogFormat format = LogFormat::Json)
        : sink_(sink), minimum_(minimum), format_(format) {}

    // Callable at any time from any thread (a reload changes it); lines being written meanwhile
    // use either the old or the new settings, never a mixture within one line.
    void configure(LogFormat format, LogLevel minimum) noexcept;

    // Whether a line of `level` would be written: lets callers skip building costly fields.
    bool enabled(LogLevel level) const noexcept {
        return level >= minimum_.load(std::memory_order_relaxed);
    }

    // `fields` must be a JSON object (or null); its members follow time, level and event.
    void log(LogLevel level, std::string_view event, const nlohmann::json& fields = {});
    void debug(std::string_view event, const nlohmann::json& fields = {}) {
        log(LogLevel::Debug, event, fields);
    }
    void info(std::string_view event, const nlohmann::json& fields = {}) {
        log(LogLevel::Info, event, fields);
    }
    void warn(std::string_view event, const nlohmann::json& fields = {}) {
        log(LogLevel::Warn, event, fields);
    }
    void error(std::string_view event, const nlohmann::json& fields = {}) {
        log(LogLevel::Error, event, fields);
    }

  private:
    std::mutex mutex_;  // keeps concurrent lines whole
    std::FILE* sink_;
    std::atomic<LogLevel> minimum_;
    std::atomic<LogFormat> format_;
};

// One logfmt line (without the newline) for an object of fields, in their order. Keys keep only
// [A-Za-z0-9_.-] (anything else becomes '_'). String values are quoted when they are empty or
// hold a space, '=', '"' or a control byte; inside quotes `"`, `\` and newline are escaped as
// \" \\ \n and other control bytes as \u00XX. Invalid UTF-8 becomes U+FFFD. Numbers, booleans
// and null are bare; arrays and objects are rendered as compact JSON, then quoted.
std::string render_logfmt(const nlohmann::ordered_json& fields);

}  // namespace oidcgw
