// HTTP dates (IMF-fixdate, RFC 9110 section 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

std::string format_http_date(std::time_t when);

// Only IMF-fixdate is accepted (the obsolete forms are not worth the parser surface).
std::optional<std::time_t> parse_http_date(std::string_view text);

// The current Date header value, recomputed at most once a second; one per worker thread.
class HttpDateClock {
  public:
    const std::string& now();

  private:
    std::time_t cached_second_ = -1;
    std::string cached_text_;
};

}  // namespace oidcgw
