#include "common/duration.h"

#include "common/ascii.h"

#include <array>
#include <cstdint>
#include <limits>

namespace oidcgw {
namespace {

using Nanoseconds = std::uint64_t;

constexpr Nanoseconds kNanosecondsPerMillisecond = 1'000'000;
constexpr Nanoseconds kNanosecondsPerSecond = 1'000'000'000;
constexpr Nanoseconds kNanosecondsPerHour = 3600 * kNanosecondsPerSecond;
// 100 × 365 days: far beyond any sensible interval, and well inside int64 nanoseconds.
constexpr Nanoseconds kMaxDuration = 100 * 365 * 24 * kNanosecondsPerHour;

struct Unit {
    std::string_view name;
    Nanoseconds nanoseconds;
};

// Go accepts both the micro sign (U+00B5) and the Greek small letter mu (U+03BC) for "µs".
constexpr std::array<Unit, 8> kUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"\u00b5s", 1'000},
    {"\u03bcs", 1'000},
    {"ms", kNanosecondsPerMillisecond},
    {"s", kNanosecondsPerSecond},
    {"m", 60 * kNanosecondsPerSecond},
    {"h", kNanosecondsPerHour},
}};

// The input as it goes into a message: control bytes, quotes and backslashes escaped so that a
// hostile value cannot forge log lines.
std::string escaped(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string result;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            result += '\\';
            result += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            result += "\\x";
            result += kHex[byte >> 4];
            result += kHex[byte & 0xf];
        } else {
            result += c;
        }
    }
    return result;
}

std::optional<std::chrono::milliseconds> fail(std::string* error, std::string_view text,
                                              std::string_view reason) {
    if (error != nullptr) {
        *error = "invalid duration \"" + escaped(text) + "\": " + std::string(reason);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error) {
    if (text.empty()) return fail(error, text, "empty (write e.g. \"10s\")");
    if (text == "0") return std::chrono::milliseconds{0};
    if (text.front() == '-' || text.front() == '+') {
        return fail(error, text, "no sign allowed");
    }

    Nanoseconds total = 0;
    std::size_t position = 0;
    while (position < text.size()) {
        // Whole part: digits, kept exactly while they stay within the limit.
        Nanoseconds whole = 0;
        bool whole_overflow = false;
        const std::size_t whole_start = position;
        while (position < text.size() && is_ascii_digit(text[position])) {
            const Nanoseconds digit = static_cast<Nanoseconds>(text[position] - '0');
            if (whole > (kMaxDuration - digit) / 10) whole_overflow = true;
            if (!whole_overflow) whole = whole * 10 + digit;
            ++position;
        }
        const bool has_whole = position > whole_start;

        // Fraction: digits after '.', kept while they fit; the rest cannot matter at 1 ns.
        Nanoseconds fraction = 0;
        double fraction_scale = 1;
        bool has_fraction = false;
        if (position < text.size() && text[position] == '.') {
            ++position;
            const std::size_t fraction_start = position;
            bool fraction_saturated = false;
            while (position < text.size() && is_ascii_digit(text[position])) {
                if (!fraction_saturated &&
                    fraction <= (std::numeric_limits<Nanoseconds>::max() / 10 / 10)) {
                    fraction = fraction * 10 + static_cast<Nanoseconds>(text[position] - '0');
                    fraction_scale *= 10;
                } else {
                    fraction_saturated = true;
                }
                ++position;
            }
            has_fraction = position > fraction_start;
        }
        if (!has_whole && !has_fraction) {
            return fail(error, text, "expected a number before each unit");
        }

        const std::size_t unit_start = position;
        while (position < text.size() && text[position] != '.' && !is_ascii_digit(text[position])) {
            ++position;
        }
        const std::string_view unit_name = text.substr(unit_start, position - unit_start);
        if (unit_name.empty()) {
            return fail(error, text, "missing unit (use ns, us, ms, s, m or h, e.g. \"10s\")");
        }
        const Unit* unit = nullptr;
        for (const Unit& candidate : kUnits) {
            if (candidate.name == unit_name) unit = &candidate;
        }
        if (unit == nullptr) {
            return fail(error, text,
                        "unknown unit \"" + escaped(unit_name) + "\" (use ns, us, ms, s, m or h)");
        }

        if (whole_overflow || whole > kMaxDuration / unit->nanoseconds) {
            return fail(error, text, "too large (at most 100 years)");
        }
        Nanoseconds component = whole * unit->nanoseconds;
        if (fraction > 0) {
            // As Go does: the fraction is applied in floating point, which is exact for every
            // fraction a human writes ("1.5h", "0.25s") and within 1 ns otherwise.
            component +=
                static_cast<Nanoseconds>(static_cast<double>(fraction) *
                                         (static_cast<double>(unit->nanoseconds) / fraction_scale));
        }
        if (component > kMaxDuration - total) {
            return fail(error, text, "too large (at most 100 years)");
        }
        total += component;
    }
    return std::chrono::milliseconds{
        static_cast<std::chrono::milliseconds::rep>(total / kNanosecondsPerMillisecond)};
}

std::string format_duration(std::chrono::milliseconds value) {
    std::string result;
    // Work on the magnitude as unsigned so that the most negative value does not overflow.
    std::uint64_t remaining = static_cast<std::uint64_t>(value.count());
    if (value.count() < 0) {
        result = "-";
        remaining = ~remaining + 1;
    }
    if (remaining == 0) return "0s";
    if (remaining < 1000) return result + std::to_string(remaining) + "ms";

    const std::uint64_t hours = remaining / 3'600'000;
    remaining %= 3'600'000;
    const std::uint64_t minutes = remaining / 60'000;
    remaining %= 60'000;
    const std::uint64_t seconds = remaining / 1000;
    const std::uint64_t milliseconds = remaining % 1000;

    if (hours > 0) result += std::to_string(hours) + "h";
    if (minutes > 0) result += std::to_string(minutes) + "m";
    if (seconds > 0 || milliseconds > 0) {
        result += std::to_string(seconds);
        if (milliseconds > 0) {
            std::string digits = std::to_string(milliseconds);
            digits.insert(0, 3 - digits.size(), '0');
            while (digits.back() == '0') digits.pop_back();
            result += "." + digits;
        }
        result += "s";
    }
    return result;
}

}  // namespace oidcgw
