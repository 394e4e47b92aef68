#include "publish/document_limits.h"

#include <nlohmann/json.hpp>

#include <exception>
#include <string>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Counts as nlohmann's SAX parser reads; returning false stops the parse at once. Nothing is
// kept but counters: the lexer's one reusable token buffer is the only memory a string costs.
class LimitCounter {
  public:
    LimitCounter(const DocumentLimits& limits, std::string_view document)
        : limits_(limits), document_(document) {}

    const std::optional<Rejection>& refusal() const { return refusal_; }

    bool null() { return scalar(); }
    bool boolean(bool) { return scalar(); }
    bool number_integer(json::number_integer_t) { return scalar(); }
    bool number_unsigned(json::number_unsigned_t) { return scalar(); }
    bool number_float(json::number_float_t, const json::string_t&) { return scalar(); }
    bool string(json::string_t&) { return scalar(); }
    bool binary(json::binary_t&) { return scalar(); }

    bool start_object(std::size_t) { return open(/*array=*/false); }
    bool start_array(std::size_t) { return open(/*array=*/true); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(json::string_t& name) {
        next_is_keys_member_ = limits_.max_keys != 0 && depth_ == 1 && name == "keys";
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
        return false;  // the strict parser reports syntax errors, with their offset
    }

  private:
    // One more value where the parser is.
    bool value() {
        if (++values_ > limits_.max_values) {
            return refuse("too_many_values",
                          std::string(document_) + " holds more than " +
                              std::to_string(limits_.max_values) +
                              " values (objects, arrays, strings, numbers, literals)");
        }
        if (in_keys_ && depth_ == keys_depth_ && ++keys_ > limits_.max_keys) {
            return refuse("too_many_keys", std::string(document_) + " holds at least " +
                                               std::to_string(keys_) + " keys; at most " +
                                               std::to_string(limits_.max_keys) + " are accepted");
        }
        return true;
    }

    bool scalar() {
        next_is_keys_member_ = false;
        return value();
    }

    bool open(bool array) {
        const bool keys_array = array && next_is_keys_member_;
        next_is_keys_member_ = false;
        if (!value()) return false;
        if (++depth_ > limits_.max_depth) {
            return refuse("too_deep", std::string(document_) + " nests deeper than " +
                                          std::to_string(limits_.max_depth) + " levels");
        }
        if (keys_array) {
            in_keys_ = true;
            keys_depth_ = depth_;
        }
        return true;
    }

    bool close() {
        if (in_keys_ && depth_ == keys_depth_) in_keys_ = false;
        --depth_;
        return true;
    }

    bool refuse(const char* code, std::string detail) {
        refusal_ = Rejection{code, std::move(detail)};
        return false;
    }

    DocumentLimits limits_;
    std::string_view document_;
    std::size_t depth_ = 0;
    std::size_t values_ = 0;
    std::size_t keys_ = 0;
    bool next_is_keys_member_ = false;  // the value about to come is the top-level "keys"
    bool in_keys_ = false;              // inside the top-level "keys" array
    std::size_t keys_depth_ = 0;
    std::optional<Rejection> refusal_;
};

}  // namespace

std::optional<Rejection> check_document_start(std::string_view body, std::string_view document) {
    if (body.starts_with(kByteOrderMark)) {
        return Rejection{"byte_order_mark",
                         std::string(document) +
                             " starts with a UTF-8 byte order mark, which JSON forbids (RFC 8259) "
                             "and JSON.parse, Python's json.loads and Go's encoding/json refuse"};
    }
    return std::nullopt;
}

std::optional<Rejection> check_document_limits(std::string_view body, const DocumentLimits& limits,
                                               std::string_view document) {
    LimitCounter counter(limits, document);
    try {
        json::sax_parse(body.begin(), body.end(), &counter, json::input_format_t::json,
                        /*strict=*/true, /*ignore_comments=*/false);
    } catch (const std::exception&) {
        // Out of memory or a library error: the strict parser runs next and reports it.
    }
    return counter.refusal();
}

}  // namespace oidcgw
