// Times as text, in UTC, for messages, reports and /status.
#pragma once

#include <ctime>
#include <string>

namespace oidcgw {

// ISO 8601 to the second: "2026-11-22T14:30:00Z".
std::string utc_iso8601(std::time_t time);

// For people reading an error: "2026-11-22 14:30:00 UTC".
std::string utc_readable(std::time_t time);

}  // namespace oidcgw
