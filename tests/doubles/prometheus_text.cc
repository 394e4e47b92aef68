#include "prometheus_text.h"

#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>

namespace oidcgw::testing {
namespace {

using LabelMap = std::map<std::string, std::string>;

constexpr std::string_view kSummedSuffixes[] = {"_bucket", "_sum", "_count"};

// Unwinds the checker to parse_prometheus_text with the offending line.
struct ParseError {
    std::size_t line;
    std::string message;
};

[[noreturn]] void fail_at(std::size_t line, std::string message) {
    throw ParseError{line, std::move(message)};
}

re2::StringPiece piece(std::string_view text) {
    return re2::StringPiece(text.data(), text.size());
}

bool is_metric_name(std::string_view name) {
    static const RE2 metric_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
    return RE2::FullMatch(piece(name), metric_name);
}

bool is_label_name(std::string_view name) {
    static const RE2 label_name("[a-zA-Z_][a-zA-Z0-9_]*");
    return RE2::FullMatch(piece(name), label_name);
}

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Well-formed UTF-8: no stray continuation bytes, overlong forms, surrogates or values past
// U+10FFFF.
bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        std::uint32_t code_point = 0;
        if (lead < 0x80) {
            ++i;
            continue;
        } else if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
            code_point = lead & 0x1Fu;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            code_point = lead & 0x0Fu;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            code_point = lead & 0x07u;
        } else {
            return false;
        }
        if (text.size() - i < length) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto continuation = static_cast<unsigned char>(text[i + k]);
            if ((continuation & 0xC0u) != 0x80u) return false;
            code_point = (code_point << 6) | (continuation & 0x3Fu);
        }
        if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000) ||
            (code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF) {
            return false;
        }
        i += length;
    }
    return true;
}

// A sample value or an le/quantile label: a decimal float, "+Inf", "-Inf" or "NaN".
std::optional<double> parse_float(std::string_view token) {
    if (token == "+Inf") return std::numeric_limits<double>::infinity();
    if (token == "-Inf") return -std::numeric_limits<double>::infinity();
    if (token == "NaN") return std::numeric_limits<double>::quiet_NaN();
    static const RE2 decimal("[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?");
    if (!RE2::FullMatch(piece(token), decimal)) return std::nullopt;
    if (token.front() == '+') token.remove_prefix(1);  // from_chars takes only '-'
    double value = 0;
    const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (error != std::errc() || end != token.data() + token.size()) return std::nullopt;
    return value;
}

// Milliseconds since the epoch, a signed 64-bit integer.
bool is_timestamp(std::string_view token) {
    static const RE2 integer("[+-]?[0-9]+");
    if (!RE2::FullMatch(piece(token), integer)) return false;
    if (token.front() == '+') token.remove_prefix(1);
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
    return error == std::errc() && end == token.data() + token.size();
}

std::string describe_series(const std::string& name, const LabelMap& labels) {
    std::string text = name;
    if (labels.empty()) return text;
    text += '{';
    for (const auto& [label_name, value] : labels) {
        if (text.back() != '{') text += ',';
        text += label_name + "=\"" + value + "\"";
    }
    return text + "}";
}

// Walks one line left to right.
class LineCursor {
  public:
    explicit LineCursor(std::string_view line) : line_(line) {}

    bool at_end() const { return position_ >= line_.size(); }
    char peek() const { return line_[position_]; }
    void advance() { ++position_; }
    void skip_blanks() {
        while (!at_end() && is_blank(peek())) advance();
    }
    std::string_view rest() const { return line_.substr(std::min(position_, line_.size())); }

    // Up to the next blank, or also up to `stop` when given.
    std::string_view token(char stop = ' ') {
        const std::size_t start = position_;
        while (!at_end() && !is_blank(peek()) && peek() != stop) advance();
        return line_.substr(start, position_ - start);
    }

  private:
    std::string_view line_;
    std::size_t position_ = 0;
};

struct FamilyState {
    bool has_help = false;
    std::string type;  // empty until its TYPE line
};

class ExpositionChecker {
  public:
    explicit ExpositionChecker(PrometheusParse& result) : result_(result) {}

    void check(std::string_view text) {
        if (!text.empty() && text.back() != '\n') {
            std::size_t lines = 1;
            for (char c : text) lines += c == '\n' ? 1 : 0;
            fail_at(lines, "text does not end with a newline");
        }
        std::size_t start = 0;
        while (start < text.size()) {
            const std::size_t end = text.find('\n', start);
            ++line_number_;
            check_line(text.substr(start, end - start));
            start = end + 1;
        }
        for (const auto& [family, state] : families_) {
            if (state.type == "histogram" || state.type == "summary") {
                check_groups(family, state.type);
            }
            if (!state.type.empty()) result_.types[family] = state.type;
        }
    }

  private:
    // Where each sample came from, parallel to result_.samples.
    struct SampleOrigin {
        std::size_t line;
        std::string family;
    };

    [[noreturn]] void fail(std::string message) const { fail_at(line_number_, std::move(message)); }

    void check_line(std::string_view line) {
        // Leading and trailing blanks are not significant; a line of only blanks is empty.
        while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
        while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
        if (line.empty()) return;
        if (line.front() == '#') {
            check_comment(line.substr(1));
        } else {
            check_sample(line);
        }
    }

    void check_comment(std::string_view comment) {
        LineCursor cursor(comment);
        cursor.skip_blanks();
        const std::string_view keyword = cursor.token();
        if (keyword != "HELP" && keyword != "TYPE") return;  // an ordinary comment
        cursor.skip_blanks();
        const std::string name(cursor.token());
        if (name.empty()) fail(std::string(keyword) + " line without a metric name");
        if (!is_metric_name(name)) fail("invalid metric name \"" + name + "\"");
        cursor.skip_blanks();
        FamilyState& state = families_[name];
        if (keyword == "HELP") {
            if (state.has_help) fail("second HELP line for \"" + name + "\"");
            check_help_text(cursor.rest());
            state.has_help = true;
        } else {
            if (!state.type.empty()) fail("second TYPE line for \"" + name + "\"");
            const std::string type(cursor.token());
            cursor.skip_blanks();
            if (!cursor.at_end()) fail("unexpected text after the type of \"" + name + "\"");
            if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
                type != "untyped") {
                fail("unknown type \"" + type + "\" for \"" + name + "\"");
            }
            if (sample_names_.count(name)) fail("TYPE line for \"" + name + "\" after its samples");
            if (type == "histogram" || type == "summary") {
                for (std::string_view suffix : kSummedSuffixes) {
                    if (sample_names_.count(name + std::string(suffix))) {
                        fail("TYPE line for \"" + name + "\" after its samples");
                    }
                }
            }
            state.type = type;
        }
        enter_family(name);
    }

    void check_help_text(std::string_view help) {
        for (std::size_t i = 0; i < help.size(); ++i) {
            if (help[i] != '\\') continue;
            if (i + 1 == help.size() || (help[i + 1] != '\\' && help[i + 1] != 'n')) {
                fail("invalid escape sequence in HELP text");
            }
            ++i;
        }
        if (!is_valid_utf8(help)) fail("HELP text is not valid UTF-8");
    }

    void check_sample(std::string_view line) {
        LineCursor cursor(line);
        PrometheusSample sample;
        sample.name = std::string(cursor.token('{'));
        if (!is_metric_name(sample.name)) fail("invalid metric name \"" + sample.name + "\"");
        if (!cursor.at_end() && cursor.peek() == '{') {
            cursor.advance();
            sample.labels = read_labels(cursor);
        }
        cursor.skip_blanks();
        const std::string value_text(cursor.token());
        if (value_text.empty()) fail("sample \"" + sample.name + "\" has no value");
        const std::optional<double> value = parse_float(value_text);
        if (!value) fail("invalid value \"" + value_text + "\"");
        sample.value = *value;
        cursor.skip_blanks();
        if (!cursor.at_end()) {
            const std::string timestamp(cursor.token());
            if (!is_timestamp(timestamp)) fail("invalid timestamp \"" + timestamp + "\"");
            cursor.skip_blanks();
            if (!cursor.at_end()) fail("unexpected text after the timestamp");
        }

        const std::string family = family_of(sample.name);
        enter_family(family);
        check_against_type(family, sample);
        if (!series_.emplace(sample.name, sample.labels).second) {
            fail("duplicate series " + describe_series(sample.name, sample.labels));
        }
        sample_names_.insert(sample.name);
        origins_.push_back(SampleOrigin{line_number_, family});
        result_.samples.push_back(std::move(sample));
    }

    // After the '{': label pairs, an optional trailing comma, then '}'.
    LabelMap read_labels(LineCursor& cursor) {
        LabelMap labels;
        while (true) {
            cursor.skip_blanks();
            if (cursor.at_end()) fail("unterminated label set");
            if (cursor.peek() == '}') {
                cursor.advance();
                return labels;
            }
            std::string label_name;
            while (!cursor.at_end() && !is_blank(cursor.peek()) && cursor.peek() != '=' &&
                   cursor.peek() != '}' && cursor.peek() != ',') {
                label_name += cursor.peek();
                cursor.advance();
            }
            if (!is_label_name(label_name)) fail("invalid label name \"" + label_name + "\"");
            cursor.skip_blanks();
            if (cursor.at_end() || cursor.peek() != '=') fail("expected '=' after " + label_name);
            cursor.advance();
            cursor.skip_blanks();
            if (cursor.at_end() || cursor.peek() != '"') {
                fail("expected '\"' to open the value of " + label_name);
            }
            cursor.advance();
            std::string value = read_label_value(cursor, label_name);
            if (!labels.emplace(label_name, std::move(value)).second) {
                fail("label \"" + label_name + "\" given twice");
            }
            cursor.skip_blanks();
            if (cursor.at_end()) fail("unterminated label set");
            if (cursor.peek() == ',') {
                cursor.advance();
            } else if (cursor.peek() != '}') {
                fail("expected ',' or '}' after the value of " + label_name);
            }
        }
    }

    // After the opening quote, through the closing one; returns the unescaped value.
    std::string read_label_value(LineCursor& cursor, const std::string& label_name) {
        std::string value;
        while (true) {
            if (cursor.at_end()) fail("unterminated value of label " + label_name);
            const char c = cursor.peek();
            cursor.advance();
            if (c == '"') break;
            if (c != '\\') {
                value += c;
                continue;
            }
            if (cursor.at_end()) fail("unterminated value of label " + label_name);
            const char escaped = cursor.peek();
            cursor.advance();
            if (escaped == '\\' || escaped == '"') {
                value += escaped;
            } else if (escaped == 'n') {
                value += '\n';
            } else {
                fail(std::string("invalid escape sequence \\") + escaped + " in label " +
                     label_name);
            }
        }
        if (!is_valid_utf8(value)) fail("value of label " + label_name + " is not valid UTF-8");
        return value;
    }

    // A histogram's x_bucket/x_sum/x_count and a summary's x_sum/x_count belong to family x.
    std::string family_of(const std::string& sample_name) const {
        if (auto found = families_.find(sample_name);
            found != families_.end() && !found->second.type.empty()) {
            return sample_name;
        }
        for (std::string_view suffix : kSummedSuffixes) {
            if (!ends_with(sample_name, suffix)) continue;
            const std::string base = sample_name.substr(0, sample_name.size() - suffix.size());
            const auto found = families_.find(base);
            if (found == families_.end()) continue;
            if (found->second.type == "histogram" ||
                (found->second.type == "summary" && suffix != "_bucket")) {
                return base;
            }
        }
        return sample_name;
    }

    // Every line of a family comes in one block.
    void enter_family(const std::string& family) {
        if (family == current_family_) return;
        if (finished_families_.count(family)) {
            fail("lines of \"" + family + "\" are not together (interleaved with another family)");
        }
        if (!current_family_.empty()) finished_families_.insert(current_family_);
        current_family_ = family;
    }

    std::string type_of(const std::string& family) const {
        const auto found = families_.find(family);
        return found == families_.end() ? std::string() : found->second.type;
    }

    void check_against_type(const std::string& family, const PrometheusSample& sample) {
        const std::string type = type_of(family);
        const std::string suffix = sample.name.substr(family.size());
        const bool negative_or_nan = std::isnan(sample.value) || sample.value < 0;
        if (type == "counter" && negative_or_nan) {
            fail("counter " + sample.name + " is negative or NaN");
        }
        if (type == "histogram") {
            if (suffix.empty()) {
                fail("histogram sample \"" + sample.name +
                     "\" must end in _bucket, _sum or _count");
            }
            const auto le = sample.labels.find("le");
            if (suffix == "_bucket") {
                if (le == sample.labels.end()) fail(sample.name + " without an le label");
                const std::optional<double> bound = parse_float(le->second);
                if (!bound || std::isnan(*bound)) fail("invalid le \"" + le->second + "\"");
            } else if (le != sample.labels.end()) {
                fail("le label on " + sample.name);
            }
            if (suffix != "_sum" && negative_or_nan) fail(sample.name + " is negative or NaN");
        }
        if (type == "summary") {
            const auto quantile = sample.labels.find("quantile");
            if (suffix.empty()) {
                if (quantile == sample.labels.end())
                    fail(sample.name + " without a quantile label");
                const std::optional<double> q = parse_float(quantile->second);
                if (!q || !(*q >= 0 && *q <= 1)) {
                    fail("invalid quantile \"" + quantile->second + "\"");
                }
            } else if (quantile != sample.labels.end()) {
                fail("quantile label on " + sample.name);
            }
            if (suffix == "_count" && negative_or_nan) fail(sample.name + " is negative or NaN");
        }
    }

    // Per label set (without le/quantile): ordered buckets or quantiles, one _sum, one _count,
    // and for histograms cumulative counts ending in +Inf that match _count.
    void check_groups(const std::string& family, const std::string& type) {
        const bool histogram = type == "histogram";
        const std::string ordering_label = histogram ? "le" : "quantile";
        struct Group {
            std::vector<std::pair<double, std::size_t>> ordered;  // bound, sample index
            std::optional<std::size_t> sum;
            std::optional<std::size_t> count;
        };
        std::map<LabelMap, Group> groups;
        for (std::size_t i = 0; i < result_.samples.size(); ++i) {
            if (origins_[i].family != family) continue;
            const PrometheusSample& sample = result_.samples[i];
            LabelMap key = sample.labels;
            key.erase(ordering_label);
            Group& group = groups[key];
            const std::string suffix = sample.name.substr(family.size());
            if (suffix == "_sum") {
                group.sum = i;
            } else if (suffix == "_count") {
                group.count = i;
            } else {
                group.ordered.emplace_back(*parse_float(sample.labels.at(ordering_label)), i);
            }
        }
        for (const auto& [labels, group] : groups) {
            const auto line_of = [&](std::size_t index) { return origins_[index].line; };
            const std::size_t some_line = group.ordered.empty()
                                              ? line_of(group.sum ? *group.sum : *group.count)
                                              : line_of(group.ordered.back().second);
            const std::string series = describe_series(family, labels);
            if (histogram && group.ordered.empty()) {
                fail_at(some_line, "histogram " + series + " has no _bucket samples");
            }
            for (std::size_t k = 1; k < group.ordered.size(); ++k) {
                const auto& [bound, index] = group.ordered[k];
                if (!(group.ordered[k - 1].first < bound)) {
                    fail_at(line_of(index),
                            ordering_label + " values of " + series + " not in increasing order");
                }
                if (histogram && result_.samples[index].value <
                                     result_.samples[group.ordered[k - 1].second].value) {
                    fail_at(line_of(index), "bucket counts of " + series + " decrease");
                }
            }
            if (histogram && !std::isinf(group.ordered.back().first)) {
                fail_at(some_line, "histogram " + series + " has no le=\"+Inf\" bucket");
            }
            if (!group.count) fail_at(some_line, series + " has no _count sample");
            if (!group.sum) fail_at(some_line, series + " has no _sum sample");
            if (histogram) {
                const double infinity_bucket = result_.samples[group.ordered.back().second].value;
                const double count = result_.samples[*group.count].value;
                if (count != infinity_bucket) {
                    fail_at(line_of(*group.count),
                            family + "_count of " + series + " differs from its +Inf bucket");
                }
            }
        }
    }

    PrometheusParse& result_;
    std::size_t line_number_ = 0;
    std::map<std::string, FamilyState> families_;
    std::string current_family_;
    std::set<std::string> finished_families_;
    std::set<std::string> sample_names_;
    std::set<std::pair<std::string, LabelMap>> series_;
    std::vector<SampleOrigin> origins_;
};

}  // namespace

PrometheusParse parse_prometheus_text(std::string_view text) {
    PrometheusParse result;
    try {
        ExpositionChecker checker(result);
        checker.check(text);
        result.ok = true;
    } catch (const ParseError& error) {
        result.ok = false;
        result.error = "line " + std::to_string(error.line) + ": " + error.message;
    }
    return result;
}

std::optional<double> find_sample(const PrometheusParse& parse, std::string_view name,
                                  const std::map<std::string, std::string>& labels_subset) {
    for (const PrometheusSample& sample : parse.samples) {
        if (sample.name != name) continue;
        bool matches = true;
        for (const auto& [label_name, value] : labels_subset) {
            const auto found = sample.labels.find(label_name);
            if (found == sample.labels.end() || found->second != value) {
                matches = false;
                break;
            }
        }
        if (matches) return sample.value;
    }
    return std::nullopt;
}

}  // namespace oidcgw::testing
