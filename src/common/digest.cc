#include "common/digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace oidcgw {

std::string sha256_hex(std::string_view text, std::size_t bytes) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (std::size_t i = 0; i < std::min<std::size_t>(bytes, length); ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0xF];
    }
    return hex;
}

}  // namespace oidcgw
