// A strict checker for the Prometheus text exposition format 0.0.4, so tests can tell that what
// the gateway serves on /metrics is something Prometheus will actually ingest, and read values
// back out of it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw::testing {

struct PrometheusSample {
    std::string name;                           // as written, e.g. "x_bucket"
    std::map<std::string, std::string> labels;  // values unescaped
    double value = 0;
};

struct PrometheusParse {
    bool ok = false;
    std::string error;                         // "line N: what is wrong", when !ok
    std::vector<PrometheusSample> samples;     // in document order; complete only when ok
    std::map<std::string, std::string> types;  // family -> type, from "# TYPE" lines
};

// Checks, beyond the line grammar (names, label escapes, values incl. +Inf/-Inf/NaN, optional
// integer timestamp): at most one HELP and one TYPE per family, TYPE before the family's
// samples, each family's lines contiguous, no series twice, histograms (and summaries) complete
// and ordered with _count equal to the +Inf bucket, counters not negative, and a final newline.
// Stricter than Prometheus only in accepting infinity solely as "+Inf"/"-Inf" and NaN as "NaN".
PrometheusParse parse_prometheus_text(std::string_view text);

// The value of the first sample called `name` whose labels include all of `labels_subset`.
std::optional<double> find_sample(const PrometheusParse& parse, std::string_view name,
                                  const std::map<std::string, std::string>& labels_subset = {});

}  // namespace oidcgw::testing
