#include "config/json_reader.h"

#include "common/duration.h"
#include "common/text_escape.h"

#include <algorithm>
#include <vector>

namespace oidcgw::config_reading {
namespace {

using std::chrono::milliseconds;

// A member name as it may appear in a key path: plain names as they are, anything else (empty,
// spaces, dots, control or non-ASCII bytes) quoted and escaped, so an error message stays one
// unambiguous line.
std::string printable_member_name(std::string_view name) {
    const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return plain ? std::string(name) : quote_untrusted(name);
}

}  // namespace

void fail(std::string key, std::string message) {
    throw ConfigFailure{ConfigError{std::move(key), std::move(message)}};
}

std::string found(const json& value) {
    return std::string("found ") + value.type_name();
}

std::string member_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string element_path(const std::string& parent, std::size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

ObjectReader::ObjectReader(const json& value, std::string path,
                           std::initializer_list<std::string_view> known)
    : value_(value), path_(std::move(path)) {
    if (!value_.is_object()) {
        fail(path_, "must be an object, " + found(value_));
    }
    for (const auto& [name, member] : value_.items()) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::vector<std::string_view> sorted(known);
            std::sort(sorted.begin(), sorted.end());
            std::string list;
            for (const std::string_view known_name : sorted) {
                list += (list.empty() ? "" : ", ") + std::string(known_name);
            }
            fail(member_path(path_, printable_member_name(name)),
                 "unknown key (known: " + list + ")");
        }
    }
}

const json* ObjectReader::find(std::string_view key) const {
    const auto member = value_.find(std::string(key));
    return member == value_.end() ? nullptr : &*member;
}

const json& ObjectReader::require(std::string_view key) const {
    const json* member = find(key);
    if (member == nullptr) fail(key_path(key), "is required");
    return *member;
}

const std::string& read_string(const json& value, const std::string& key) {
    if (!value.is_string()) fail(key, "must be a string, " + found(value));
    return value.get_ref<const std::string&>();
}

std::string read_non_empty_string(const json& value, const std::string& key) {
    const std::string& text = read_string(value, key);
    if (text.empty()) fail(key, "must not be empty (leave the key out instead)");
    return text;
}

std::string read_path(const json& value, const std::string& key) {
    std::string path = read_non_empty_string(value, key);
    if (path.find('\0') != std::string::npos) fail(key, "must not contain a NUL character");
    return path;
}

milliseconds read_duration(const json& value, const std::string& key, milliseconds minimum,
                           milliseconds maximum) {
    if (!value.is_string()) fail(key, "must be a duration string like \"10s\", " + found(value));
    const std::string& text = value.get_ref<const std::string&>();
    std::string error;
    const std::optional<milliseconds> duration = parse_duration(text, &error);
    if (!duration) fail(key, error);
    if (*duration < minimum) {
        fail(key,
             "must be at least " + format_duration(minimum) + ", found " + quote_untrusted(text));
    }
    if (*duration > maximum) {
        fail(key,
             "must be at most " + format_duration(maximum) + ", found " + quote_untrusted(text));
    }
    return *duration;
}

std::uint64_t read_integer(const json& value, const std::string& key, std::uint64_t minimum,
                           std::uint64_t maximum) {
    const std::string range = std::to_string(minimum) + " to " + std::to_string(maximum);
    if (value.is_number_float()) {
        fail(key, "must be a whole number from " + range + ", found " + value.dump());
    }
    if (!value.is_number_integer()) {
        fail(key, "must be an integer from " + range + ", " + found(value));
    }
    const bool negative = !value.is_number_unsigned() && value.get<std::int64_t>() < 0;
    const std::uint64_t number = negative ? 0 : value.get<std::uint64_t>();
    if (negative || number < minimum || number > maximum) {
        fail(key, "must be from " + range + ", found " + value.dump());
    }
    return number;
}

bool read_boolean(const json& value, const std::string& key) {
    if (!value.is_boolean()) fail(key, "must be true or false, " + found(value));
    return value.get<bool>();
}

const json& read_non_empty_array(const json& value, const std::string& key,
                                 std::string_view elements, std::string_view element) {
    if (!value.is_array()) {
        fail(key, "must be an array of " + std::string(elements) + ", " + found(value));
    }
    if (value.empty()) fail(key, "must list at least one " + std::string(element));
    return value;
}

std::string quoted_list(const std::string_view* names, std::size_t count) {
    std::string list;
    for (std::size_t index = 0; index < count; ++index) {
        list += (list.empty() ? "" : ", ") + quote_untrusted(names[index]);
    }
    return list;
}

}  // namespace oidcgw::config_reading
