// SHA-256 as lowercase hex: ETags, cache file names and cache checksums all derive from it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace oidcgw {

// The first `bytes` bytes of the digest (at most 32) as 2*bytes hex characters.
std::string sha256_hex(std::string_view text, std::size_t bytes = 32);

}  // namespace oidcgw
