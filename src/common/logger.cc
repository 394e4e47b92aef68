#include "common/logger.h"

#include "common/text_escape.h"

#include <algorithm>
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

// \uNNNN: C0 controls in logfmt, and in both formats the code points text_escape.h's policy
// escapes (C1 controls, bidirectional formatting, line and paragraph separators). JSON reads it
// back as the same character, logfmt readers show it as written: either way no terminal acts on
// the line.
void append_u_escape(std::uint32_t code, std::string* out) {
    char escaped[16];
    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(code));
    out->append(escaped);
}

// A JSON line as nlohmann dumps it (valid UTF-8: invalid bytes were replaced, C0 controls
// escaped), with the unsafe code points escaped too; outside strings a JSON line is ASCII.
std::string escape_unsafe_code_points(const std::string& line) {
    std::string out;
    out.reserve(line.size());
    for (std::size_t at = 0; at < line.size();) {
        std::uint32_t code = 0;
        const std::size_t length = std::max<std::size_t>(
            utf8_sequence_length(std::string_view(line).substr(at), &code), 1);
        if (length > 1 && is_unsafe_code_point(code)) {
            append_u_escape(code, &out);
        } else {
            out.append(line, at, length);
        }
        at += length;
    }
    return out;
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
        std::uint32_t code = 0;
        const std::size_t length = utf8_sequence_length(text.substr(at), &code);
        if (length == 0) {
            out->append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            ++at;
            continue;
        }
        if (length > 1 && is_unsafe_code_point(code)) {
            append_u_escape(code, out);
        } else if (length > 1) {
            out->append(text.substr(at, length));
        } else if (byte == '"' && quoted) {
            out->append("\\\"");
        } else if (byte == '\\' && quoted) {
            out->append("\\\\");
        } else if (byte == '\n') {
            out->append("\\n");
        } else if (is_control(byte)) {
            append_u_escape(byte, out);
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
                           : escape_unsafe_code_points(line.dump(
                                 -1, ' ', false, nlohmann::json::error_handler_t::replace));
    text.push_back('\n');
    std::lock_guard lock(mutex_);
    std::fwrite(text.data(), 1, text.size(), sink_);
    std::fflush(sink_);
}

}  // namespace oidcgw
