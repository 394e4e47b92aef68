// One structured line per event on stderr (journald picks it up). JSON objects by default.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <mutex>
#include <string_view>

namespace oidcgw {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

class Logger {
  public:
    explicit Logger(std::FILE* sink = stderr, LogLevel minimum = LogLevel::Info)
        : sink_(sink), minimum_(minimum) {}

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
    std::mutex mutex_;
    std::FILE* sink_;
    LogLevel minimum_;
};

}  // namespace oidcgw
