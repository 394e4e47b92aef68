#include "common/http_date.h"

#include <array>
#include <cstdio>
#include <cstring>

namespace oidcgw {
namespace {

constexpr std::array<const char*, 7> kWeekdays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool parse_digits(std::string_view text, std::size_t position, std::size_t count, int* value) {
    if (position + count > text.size()) return false;
    int result = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const char c = text[position + i];
        if (c < '0' || c > '9') return false;
        result = result * 10 + (c - '0');
    }
    *value = result;
    return true;
}

}  // namespace

std::string format_http_date(std::time_t when) {
    std::tm parts{};
    gmtime_r(&when, &parts);
    char text[32];
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                  kWeekdays[parts.tm_wday], parts.tm_mday, kMonths[parts.tm_mon],
                  parts.tm_year + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec);
    return text;
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
    // "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes.
    if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
        text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
        return std::nullopt;
    }
    bool weekday_known = false;
    for (const char* name : kWeekdays) weekday_known |= text.substr(0, 3) == name;
    if (!weekday_known) return std::nullopt;
    int month = -1;
    for (int i = 0; i < 12; ++i) {
        if (text.substr(8, 3) == kMonths[i]) month = i;
    }
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (month < 0 || !parse_digits(text, 5, 2, &day) || !parse_digits(text, 12, 4, &year) ||
        !parse_digits(text, 17, 2, &hour) || !parse_digits(text, 20, 2, &minute) ||
        !parse_digits(text, 23, 2, &second)) {
        return std::nullopt;
    }
    if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 || year < 1970) {
        return std::nullopt;
    }
    std::tm parts{};
    parts.tm_year = year - 1900;
    parts.tm_mon = month;
    parts.tm_mday = day;
    parts.tm_hour = hour;
    parts.tm_min = minute;
    parts.tm_sec = second;
    return timegm(&parts);
}

const std::string& HttpDateClock::now() {
    const std::time_t second = std::time(nullptr);
    if (second != cached_second_) {
        cached_second_ = second;
        cached_text_ = format_http_date(second);
    }
    return cached_text_;
}

}  // namespace oidcgw
