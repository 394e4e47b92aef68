#include "common/text_escape.h"

#include <cstdint>

namespace oidcgw {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string byte_escape(unsigned char byte) {
    return {'\\', 'x', kHex[byte >> 4], kHex[byte & 0x0f]};
}

std::string code_point_escape(std::uint32_t code) {
    return {'\\',
            'u',
            kHex[(code >> 12) & 0x0f],
            kHex[(code >> 8) & 0x0f],
            kHex[(code >> 4) & 0x0f],
            kHex[code & 0x0f]};
}

bool is_continuation(unsigned char byte) {
    return (byte & 0xc0) == 0x80;
}

}  // namespace

// Unicode 15, table 3-7.
std::size_t utf8_sequence_length(std::string_view text, std::uint32_t* code) {
    if (text.empty()) return 0;
    const auto lead = static_cast<unsigned char>(text[0]);
    if (lead < 0x80) {
        *code = lead;
        return 1;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;  // the range of the second byte, narrower after some leads
    unsigned char high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        if (lead == 0xe0) low = 0xa0;   // overlong
        if (lead == 0xed) high = 0x9f;  // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        if (lead == 0xf0) low = 0x90;   // overlong
        if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
    } else {
        return 0;  // C0, C1, F5-FF and continuations never lead
    }
    if (text.size() < length) return 0;
    const auto second = static_cast<unsigned char>(text[1]);
    if (second < low || second > high) return 0;
    std::uint32_t value = lead & (0x7f >> length);
    for (std::size_t index = 1; index < length; ++index) {
        const auto byte = static_cast<unsigned char>(text[index]);
        if (!is_continuation(byte)) return 0;
        value = (value << 6) | (byte & 0x3f);
    }
    *code = value;
    return length;
}

bool is_unsafe_code_point(std::uint32_t code) {
    return (code >= 0x80 && code <= 0x9f) || code == 0x061c || code == 0x200e || code == 0x200f ||
           (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) ||
           code == 0x2028 || code == 0x2029;
}

namespace {

// Calls `emit` with each unit of the escaped text in turn: one kept character or one escape.
// `emit` returns false to stop early.
template <typename Emit>
void for_each_escaped_unit(std::string_view text, bool quote_delimiters, Emit emit) {
    std::size_t at = 0;
    while (at < text.size()) {
        const auto byte = static_cast<unsigned char>(text[at]);
        std::string unit;
        std::size_t consumed = 1;
        if (byte < 0x20 || byte == 0x7f) {
            unit = byte_escape(byte);
        } else if (byte < 0x80) {
            if (quote_delimiters && (byte == '"' || byte == '\\')) {
                unit = {'\\', static_cast<char>(byte)};
            } else {
                unit = std::string(1, static_cast<char>(byte));
            }
        } else {
            std::uint32_t code = 0;
            const std::size_t length = utf8_sequence_length(text.substr(at), &code);
            if (length == 0) {
                unit = byte_escape(byte);
            } else {
                consumed = length;
                unit = is_unsafe_code_point(code) ? code_point_escape(code)
                                                  : std::string(text.substr(at, length));
            }
        }
        if (!emit(unit)) return;
        at += consumed;
    }
}

}  // namespace

std::string escape_untrusted(std::string_view text) {
    std::string escaped;
    escaped.reserve(text.size());
    for_each_escaped_unit(text, false, [&](const std::string& unit) {
        escaped += unit;
        return true;
    });
    return escaped;
}

std::string quote_untrusted(std::string_view text, std::size_t max_bytes) {
    static constexpr std::string_view kCut = "...\"";
    std::string quoted = "\"";
    std::size_t kept_when_cut = quoted.size();  // whole units that leave room for the marker
    bool cut = false;
    for_each_escaped_unit(text, true, [&](const std::string& unit) {
        if (quoted.size() + unit.size() + 1 > max_bytes) {  // + 1: the closing quote
            cut = true;
            return false;
        }
        quoted += unit;
        if (quoted.size() + kCut.size() <= max_bytes) kept_when_cut = quoted.size();
        return true;
    });
    if (!cut) return quoted + "\"";
    quoted.resize(kept_when_cut);
    return quoted + std::string(kCut);
}

std::string quote_path(std::string_view path) {
    constexpr std::size_t kMaxQuotedPathBytes = 4096;  // PATH_MAX, plus quotes and escapes
    return quote_untrusted(path, kMaxQuotedPathBytes);
}

}  // namespace oidcgw
