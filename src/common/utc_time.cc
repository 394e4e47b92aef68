#include "common/utc_time.h"

namespace oidcgw {
namespace {

std::string format_utc(std::time_t time, const char* format) {
    std::tm broken_down{};
    if (gmtime_r(&time, &broken_down) == nullptr) return "?";
    char text[64];
    if (std::strftime(text, sizeof text, format, &broken_down) == 0) return "?";
    return text;
}

}  // namespace

std::string utc_iso8601(std::time_t time) {
    return format_utc(time, "%Y-%m-%dT%H:%M:%SZ");
}

std::string utc_readable(std::time_t time) {
    return format_utc(time, "%Y-%m-%d %H:%M:%S UTC");
}

}  // namespace oidcgw
