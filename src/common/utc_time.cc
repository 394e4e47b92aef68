#include "common/utc_time.h"

#include "common/ascii.h"

namespace oidcgw {
namespace {

std::string format_utc(std::time_t time, const char* format) {
    std::tm broken_down{};
    if (gmtime_r(&time, &broken_down) == nullptr) return "?";
    char text[64];
    if (std::strftime(text, sizeof text, format, &broken_down) == 0) return "?";
    return text;
}

// Consumes exactly `width` decimal digits from the front of `rest`.
bool consume_number(std::string_view& rest, std::size_t width, int& value) {
    if (rest.size() < width) return false;
    int result = 0;
    for (std::size_t i = 0; i < width; ++i) {
        if (!is_ascii_digit(rest[i])) return false;
        result = result * 10 + (rest[i] - '0');
    }
    value = result;
    rest.remove_prefix(width);
    return true;
}

// Consumes `wanted` (or its lowercase form, which RFC 3339 §5.6 allows for 'T' and 'Z').
bool consume(std::string_view& rest, char wanted) {
    if (rest.empty() || (rest.front() != wanted && rest.front() != to_lower_ascii(wanted))) {
        return false;
    }
    rest.remove_prefix(1);
    return true;
}

int days_in_month(int year, int month) {
    static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

std::string utc_iso8601_or_empty(std::time_t time) {
    return time == 0 ? std::string() : utc_iso8601(time);
}

std::string utc_iso8601(std::time_t time) {
    return format_utc(time, "%Y-%m-%dT%H:%M:%SZ");
}

std::string utc_readable(std::time_t time) {
    return format_utc(time, "%Y-%m-%d %H:%M:%S UTC");
}

std::optional<std::time_t> parse_rfc3339(std::string_view text) {
    std::string_view rest = text;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!consume_number(rest, 4, year) || !consume(rest, '-') || !consume_number(rest, 2, month) ||
        !consume(rest, '-') || !consume_number(rest, 2, day) || !consume(rest, 'T') ||
        !consume_number(rest, 2, hour) || !consume(rest, ':') || !consume_number(rest, 2, minute) ||
        !consume(rest, ':') || !consume_number(rest, 2, second)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60) {
        return std::nullopt;
    }
    if (consume(rest, '.')) {
        if (rest.empty() || !is_ascii_digit(rest.front())) return std::nullopt;
        while (!rest.empty() && is_ascii_digit(rest.front())) rest.remove_prefix(1);
    }
    int offset_seconds = 0;
    if (!consume(rest, 'Z')) {
        const bool east = consume(rest, '+');
        if (!east && !consume(rest, '-')) return std::nullopt;
        int offset_hours = 0, offset_minutes = 0;
        if (!consume_number(rest, 2, offset_hours) || !consume(rest, ':') ||
            !consume_number(rest, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
            return std::nullopt;
        }
        offset_seconds = (east ? 1 : -1) * (offset_hours * 3600 + offset_minutes * 60);
    }
    if (!rest.empty()) return std::nullopt;
    std::tm parts{};
    parts.tm_year = year - 1900;
    parts.tm_mon = month - 1;
    parts.tm_mday = day;
    parts.tm_hour = hour;
    parts.tm_min = minute;
    parts.tm_sec = second;
    // Local time minus its offset is UTC.
    return timegm(&parts) - offset_seconds;
}

}  // namespace oidcgw
