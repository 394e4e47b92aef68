#include "common/strict_json.h"

#include "common/text_escape.h"

#include <cstddef>
#include <exception>
#include <new>
#include <vector>

namespace oidcgw {
namespace {

using nlohmann::json;

// Longest member name quoted in an error; keeps hostile input from bloating logs.
constexpr std::size_t kMaxQuotedNameLength = 80;

// A member name as the untrusted-text policy quotes it, cut short.
std::string quote_member_name(const std::string& name) {
    return quote_untrusted(name, kMaxQuotedNameLength);
}

// Plain identifiers stay bare in a key path; anything else is quoted like above.
std::string quote_member_name_if_unusual(const std::string& name) {
    const bool plain = !name.empty() && name.size() <= kMaxQuotedNameLength &&
                       name.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "0123456789_-") == std::string::npos;
    return plain ? name : quote_member_name(name);
}

// Turns the library's "[json.exception.parse_error.101] parse error at line 1, column 5: syntax
// error while parsing array - ...; last read: '...'" into "(line 1, column 5): while parsing
// array - ...". The token is dropped: it can be a fragment of key material, and callers put this
// message in operator-facing logs.
std::string describe_syntax_error(const std::string& message, const std::string& last_token) {
    std::string text = message;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find("] ");
        if (close != std::string::npos) text.erase(0, close + 2);
    }
    const std::string token_note = "; last read: '" + last_token + "'";
    const std::size_t note = text.find(token_note);
    if (note != std::string::npos) text.erase(note, token_note.size());

    const std::string location_lead = "parse error at ";
    const std::size_t location_end = text.find(": ");
    if (text.starts_with(location_lead) && location_end != std::string::npos) {
        const std::string location =
            text.substr(location_lead.size(), location_end - location_lead.size());
        std::string reason = text.substr(location_end + 2);
        if (reason.starts_with("syntax error ")) reason.erase(0, 13);
        return " (" + location + "): " + reason;
    }
    return ": " + text;
}

// Builds the DOM like nlohmann's own SAX DOM parser, but refuses duplicate member names and
// nesting deeper than the limit instead of silently keeping the last value.
class StrictDomBuilder {
  public:
    explicit StrictDomBuilder(std::size_t max_depth) : max_depth_(max_depth) {}

    json& result() { return root_; }
    const std::string& error() const { return error_; }

    bool null() { return store(json(nullptr)); }
    bool boolean(bool value) { return store(json(value)); }
    bool number_integer(json::number_integer_t value) { return store(json(value)); }
    bool number_unsigned(json::number_unsigned_t value) { return store(json(value)); }
    bool number_float(json::number_float_t value, const json::string_t& /*text*/) {
        return store(json(value));
    }
    bool string(json::string_t& value) { return store(json(std::move(value))); }
    bool binary(json::binary_t& value) { return store(json::binary(std::move(value))); }

    bool start_object(std::size_t /*size*/) { return open(json::object()); }
    bool start_array(std::size_t /*size*/) { return open(json::array()); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(json::string_t& name) {
        json& object = *open_containers_.back();
        if (object.contains(name)) {
            error_ = "duplicate member " + quote_member_name(name);
            if (!open_paths_.back().empty()) error_ += " in " + open_paths_.back();
            return false;
        }
        member_slot_ = &object[name];
        member_name_ = name;
        return true;
    }

    bool parse_error(std::size_t position, const std::string& last_token,
                     const nlohmann::detail::exception& failure) {
        // The library counts the bytes read including the offending one; report its index.
        const std::size_t offset = position > 0 ? position - 1 : 0;
        error_ = "JSON syntax error at byte offset " + std::to_string(offset) +
                 describe_syntax_error(failure.what(), last_token);
        return false;
    }

  private:
    // Places a finished value where the parser is: the root, the next array element, or the
    // member whose name key() just saw. Returns where it landed.
    json* place(json&& value) {
        if (open_containers_.empty()) {
            root_ = std::move(value);
            return &root_;
        }
        json& container = *open_containers_.back();
        if (container.is_array()) {
            container.push_back(std::move(value));
            return &container.back();
        }
        *member_slot_ = std::move(value);
        return member_slot_;
    }

    bool store(json&& value) {
        place(std::move(value));
        return true;
    }

    bool open(json&& empty_container) {
        if (open_containers_.size() >= max_depth_) {
            error_ = "JSON nesting deeper than " + std::to_string(max_depth_) + " levels";
            return false;
        }
        open_paths_.push_back(path_of_next_value());
        // Pointers stay valid: a parent array grows only after this child is closed, and object
        // members live in a node-based map.
        open_containers_.push_back(place(std::move(empty_container)));
        return true;
    }

    bool close() {
        open_containers_.pop_back();
        open_paths_.pop_back();
        return true;
    }

    // Where the value about to be placed sits, as a config-style key path (`a.b[2].c`), so a
    // duplicate member deep in a document is named by its place.
    std::string path_of_next_value() const {
        if (open_containers_.empty()) return "";
        const std::string& parent = open_paths_.back();
        const json& container = *open_containers_.back();
        if (container.is_array()) return parent + "[" + std::to_string(container.size()) + "]";
        const std::string name = quote_member_name_if_unusual(member_name_);
        return parent.empty() ? name : parent + "." + name;
    }

    std::size_t max_depth_;
    json root_;
    std::vector<json*> open_containers_;
    std::vector<std::string> open_paths_;  // key path of each open container
    std::string member_name_;
    json* member_slot_ = nullptr;
    std::string error_;
};

}  // namespace

std::optional<nlohmann::json> parse_strict_json(std::string_view text, std::string* error,
                                                StrictJsonOptions options) {
    std::string failure;
    try {
        StrictDomBuilder builder(options.max_depth);
        const char* begin = text.data();
        const char* end = text.data() + text.size();
        const bool parsed = json::sax_parse(begin, end, &builder, json::input_format_t::json,
                                            /*strict=*/true, options.allow_comments);
        if (parsed) return std::move(builder.result());
        failure = builder.error().empty() ? "invalid JSON" : builder.error();
    } catch (const std::bad_alloc&) {
        failure = "out of memory while parsing JSON";
    } catch (const std::exception& e) {
        failure = std::string("JSON parse failed: ") + e.what();
    } catch (...) {
        failure = "JSON parse failed";
    }
    if (error != nullptr) *error = std::move(failure);
    return std::nullopt;
}

}  // namespace oidcgw
