#include "common/logger.h"

#include <chrono>
#include <cstdint>
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

// The length of the well-formed UTF-8 sequence starting at text[at] (1-4), or 0 when the bytes
// there are not one (stray continuation, overlong form, surrogate, beyond U+10FFFF, cut short).
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
    const auto byte = [&](std::size_t offset) {
        return static_cast<unsigned char>(text[at + offset]);
    };
    const unsigned char lead = byte(0);
    if (lead < 0x80) return 1;
    std::size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) second_min = 0xA0;  // overlong
        if (lead == 0xED) second_max = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) second_min = 0x90;  // overlong
        if (lead == 0xF4) second_max = 0x8F;  // beyond U+10FFFF
    } else {
        return 0;
    }
    if (at + length > text.size()) return 0;
    if (byte(1) < second_min || byte(1) > second_max) return 0;
    for (std::size_t offset = 2; offset < length; ++offset) {
        if ((byte(offset) & 0xC0) != 0x80) return 0;
    }
    return length;
}

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7F;
}

bool needs_quotes(std::string_view text) {
    if (text.empty()) return true;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte == ' ' || byte == '=' || byte == '"' || is_control(byte)) return true;
    }
    return false;
}

void append_logfmt_string(std::string_view text, bool always_quote, std::string* out) {
    const bool quoted = always_quote || needs_quotes(text);
    if (quoted) out->push_back('"');
    for (std::size_t at = 0; at < text.size();) {
        const auto byte = static_cast<unsigned char>(text[at]);
        const std::size_t length = utf8_sequence_length(text, at);
        if (length == 0) {
            out->append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            ++at;
            continue;
        }
        if (length > 1) {
            out->append(text.substr(at, length));
        } else if (byte == '"' && quoted) {
            out->append("\\\"");
        } else if (byte == '\\' && quoted) {
            out->append("\\\\");
        } else if (byte == '\n') {
            out->append("\\n");
        } else if (is_control(byte)) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(byte));
            out->append(escaped);
        } else {
            out->push_back(static_cast<char>(byte));
        }
        at += length;
    }
    if (quoted) out->push_back('"');
}

void append_logfmt_key(std::string_view key, std::string* out) {
    if (key.empty()) {
        out->push_back('_');
        return;
    }
    for (const char c : key) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        out->push_back(plain ? c : '_');
    }
}

void append_logfmt_value(const nlohmann::ordered_json& value, std::string* out) {
    if (value.is_string()) {
        append_logfmt_string(value.get_ref<const std::string&>(), /*always_quote=*/false, out);
    } else if (value.is_structured()) {
        // Always quoted, so that a reader never mistakes "[]" or "{}" for a plain word.
        append_logfmt_string(
            value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
            /*always_quote=*/true, out);
    } else {
        // Numbers, booleans and null have no character that needs quoting.
        out->append(value.dump());
    }
}

}  // namespace

std::string render_logfmt(const nlohmann::ordered_json& fields) {
    std::string line;
    if (!fields.is_object()) return line;
    for (const auto& [key, value] : fields.items()) {
        if (!line.empty()) line.push_back(' ');
        append_logfmt_key(key, &line);
        line.push_back('=');
        append_logfmt_value(value, &line);
    }
    return line;
}

void Logger::configure(LogFormat format, LogLevel minimum) noexcept {
    format_.store(format, std::memory_order_relaxed);
    minimum_.store(minimum, std::memory_order_relaxed);
}

void Logger::log(LogLevel level, std::string_view event, const nlohmann::json& fields) {
    if (!enabled(level)) return;
    // ordered_json keeps time/level/event first, which makes the lines easy to scan by eye.
    nlohmann::ordered_json line;
    line["time"] = utc_timestamp();
    line["level"] = level_name(level);
    line["event"] = std::string(event);
    if (fields.is_object()) {
        for (const auto& [key, value] : fields.items()) line[key] = value;
    }
    std::string text = format_.load(std::memory_order_relaxed) == LogFormat::Logfmt
                           ? render_logfmt(line)
                           : line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.push_back('\n');
    std::lock_guard lock(mutex_);
    std::fwrite(text.data(), 1, text.size(), sink_);
    std::fflush(sink_);
}

}  // namespace oidcgw
