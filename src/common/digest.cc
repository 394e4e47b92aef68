#include "common/digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace oidcgw {

std::string sha256_bytes(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string sha256_hex(std::string_view text, std::size_t bytes) {
    const std::string digest = sha256_bytes(text);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (std::size_t i = 0; i < std::min(bytes, digest.size()); ++i) {
        const auto byte = static_cast<unsigned char>(digest[i]);
        hex += kHex[byte >> 4];
        hex += kHex[byte & 0xF];
    }
    return hex;
}

}  // namespace oidcgw
