// Times as text, in UTC, for messages, reports and /status, and the RFC 3339 timestamps that
// protocols (ACME renewal information) send.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// ISO 8601 to the second: "2026-11-22T14:30:00Z".
std::string utc_iso8601(std::time_t time);
// The same, but "" for 0 (a time that has not happened: never fetched, never reloaded).
std::string utc_iso8601_or_empty(std::time_t time);

// For people reading an error: "2026-11-22 14:30:00 UTC".
std::string utc_readable(std::time_t time);

// An RFC 3339 date-time: "2025-01-02T04:00:00Z", "1996-12-19T16:39:57.25-08:00". 'T' and 'Z' in
// either case, any number of fractional digits (dropped: the result is whole seconds), Z or a
// ±hh:mm offset; a leap second (:60) counts as the next second. nullopt for anything else.
std::optional<std::time_t> parse_rfc3339(std::string_view text);

}  // namespace oidcgw
