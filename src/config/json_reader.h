// The small framework the configuration is read with (private to src/config): typed readers for
// one JSON value each, given the value's full key path so that every error names the key, e.g.
// `issuers[0].upstream_tls.ca`. Reading stops at the first problem by throwing ConfigFailure,
// which never leaves src/config: parse_config turns it into a ConfigResult.
#pragma once

#include "common/text_escape.h"
#include "config/config.h"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace oidcgw::config_reading {

using nlohmann::json;

struct ConfigFailure {
    ConfigError error;
};

[[noreturn]] void fail(std::string key, std::string message);

// "found number", "found string": what a value of the wrong type is.
std::string found(const json& value);

// "a.b" below "a", "b" at the top; "a[2]".
std::string member_path(const std::string& parent, std::string_view key);
std::string element_path(const std::string& parent, std::size_t index);

// One JSON object of the configuration: knows its path and its permitted members, and refuses
// any other member up front so that a typo is reported as such, not as a missing key.
class ObjectReader {
  public:
    ObjectReader(const json& value, std::string path,
                 std::initializer_list<std::string_view> known);

    std::string key_path(std::string_view key) const { return member_path(path_, key); }
    const json* find(std::string_view key) const;
    const json& require(std::string_view key) const;

  private:
    const json& value_;
    std::string path_;
};

// ---- Scalar readers: each takes the value and its full key path -------------------------------

const std::string& read_string(const json& value, const std::string& key);
std::string read_non_empty_string(const json& value, const std::string& key);
// A file or directory path: a NUL byte would silently cut the path short in every C API.
std::string read_path(const json& value, const std::string& key);
std::chrono::milliseconds read_duration(const json& value, const std::string& key,
                                        std::chrono::milliseconds minimum,
                                        std::chrono::milliseconds maximum);
std::uint64_t read_integer(const json& value, const std::string& key, std::uint64_t minimum,
                           std::uint64_t maximum);
bool read_boolean(const json& value, const std::string& key);
// `elements` and `element` describe the members, e.g. "upstream URLs" and "upstream URL".
const json& read_non_empty_array(const json& value, const std::string& key,
                                 std::string_view elements, std::string_view element);

// "\"a\", \"b\"": the words of a choice, for its message.
std::string quoted_list(const std::string_view* names, std::size_t count);

// One of a fixed set of words; `names` and `values` are parallel.
template <typename Enum, std::size_t Count>
Enum read_choice(const json& value, const std::string& key,
                 const std::array<std::string_view, Count>& names,
                 const std::array<Enum, Count>& values) {
    const std::string list = quoted_list(names.data(), Count);
    if (!value.is_string()) fail(key, "must be one of " + list + ", " + found(value));
    const std::string& text = value.get_ref<const std::string&>();
    for (std::size_t index = 0; index < Count; ++index) {
        if (text == names[index]) return values[index];
    }
    fail(key, "must be one of " + list + ", found " + quote_untrusted(text));
}

}  // namespace oidcgw::config_reading
