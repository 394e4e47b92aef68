#include "common/ascii.h"

#include <algorithm>

namespace oidcgw {

std::string to_lower_ascii(std::string_view text) {
    std::string lowered(text);
    for (char& c : lowered) c = to_lower_ascii(c);
    return lowered;
}

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return to_lower_ascii(x) == to_lower_ascii(y);
           });
}

}  // namespace oidcgw
