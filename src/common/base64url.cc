#include "common/base64url.h"

#include <cstdint>

namespace oidcgw {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

}  // namespace

std::string encode_base64url(std::string_view bytes) {
    std::string text;
    text.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t pending = 0;
    int pending_bits = 0;
    for (const char byte : bytes) {
        pending = (pending << 8) | static_cast<unsigned char>(byte);
        pending_bits += 8;
        while (pending_bits >= 6) {
            pending_bits -= 6;
            text.push_back(kAlphabet[(pending >> pending_bits) & 0x3f]);
        }
        pending &= (1u << pending_bits) - 1;
    }
    // The last 2 or 4 bits fill the top of one more character; the rest of it is zero.
    if (pending_bits > 0) text.push_back(kAlphabet[(pending << (6 - pending_bits)) & 0x3f]);
    return text;
}

std::optional<std::string> decode_base64url(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    std::string bytes;
    bytes.reserve(text.size() * 3 / 4);
    std::uint32_t accumulator = 0;
    int bits = 0;
    for (char c : text) {
        const int value = sextet_value(c);
        if (value < 0) return std::nullopt;
        accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes.push_back(static_cast<char>((accumulator >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero, so each byte string has exactly one encoding.
    if ((accumulator & ((1u << bits) - 1)) != 0) return std::nullopt;
    return bytes;
}

}  // namespace oidcgw
