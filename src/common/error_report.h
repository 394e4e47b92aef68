// The one shape of "why not" for the functions that answer false (or nullopt) with a reason.
#pragma once

#include <string>
#include <utility>

namespace oidcgw {

// Puts `message` in *error when the caller asked for a reason; false, for `return fail(...)`.
inline bool fail(std::string* error, std::string message) {
    if (error != nullptr) *error = std::move(message);
    return false;
}

}  // namespace oidcgw
