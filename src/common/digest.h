// SHA-256: ETags, cache file names and cache checksums derive from its hex form; JWK thumbprints
// and the TLS-ALPN-01 challenge certificate carry the raw digest.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace oidcgw {

// The 32 raw bytes of the digest.
std::string sha256_bytes(std::string_view text);

// The first `bytes` bytes of the digest (at most 32) as 2*bytes hex characters.
std::string sha256_hex(std::string_view text, std::size_t bytes = 32);

}  // namespace oidcgw
