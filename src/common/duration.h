// Go-style duration strings ("500ms", "10s", "1h30m", "1.5h"), as Nomad's own config uses.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// Units: ns, us, µs, ms, s, m, h; decimal fractions allowed; "0" alone means zero. No sign.
// Results are truncated to whole milliseconds. Values over ~100 years are an error.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error);

// The shortest Go-style rendering, e.g. 90000ms -> "1m30s", 1500ms -> "1.5s", 0 -> "0s".
std::string format_duration(std::chrono::milliseconds value);

}  // namespace oidcgw
