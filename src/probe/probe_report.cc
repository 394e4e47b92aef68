#include "probe/probe_report.h"

#include "common/ascii.h"
#include "common/text_escape.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <utility>

namespace oidcgw {
namespace {

constexpr std::size_t kTitleWidth = 34;

// Pads ASCII text to `width` columns (titles and provider names are ASCII).
std::string padded(std::string_view text, std::size_t width) {
    std::string result(text);
    if (result.size() < width) result.append(width - result.size(), ' ');
    return result;
}

void append_reason(std::string& reasons, const std::string& reason) {
    if (reason.empty()) return;
    if (reasons.empty()) {
        reasons = reason;
    } else if (reasons.find(reason) == std::string::npos) {
        reasons += "; " + reason;
    }
}

// Text from a check as it may be printed: escaped (again: a no-op for text the check escaped)
// and cut at kMaxShownTextBytes on a character boundary, with a marker.
std::string shown_text(std::string_view text) {
    std::string safe = escape_untrusted(text);
    if (safe.size() <= kMaxShownTextBytes) return safe;
    std::size_t cut = kMaxShownTextBytes;
    while (cut > 0 && (static_cast<unsigned char>(safe[cut]) & 0xc0) == 0x80) --cut;
    const std::size_t left = safe.size() - cut;
    safe.resize(cut);
    return safe + " [... " + std::to_string(left) + " more bytes not shown]";
}

// "AWS, GCP" for a group of providers sharing one verdict.
std::string joined_names(const std::vector<Idp>& idps) {
    std::string names;
    for (Idp idp : idps) {
        if (!names.empty()) names += ", ";
        names += idp_name(idp);
    }
    return names;
}

// The reasons of one row, each with the providers it concerns: providers that share a mark and
// a reason share a line.
std::vector<std::pair<std::string, std::string>> row_reasons(const Check& check,
                                                             const std::vector<Idp>& asked) {
    std::vector<std::pair<std::string, std::string>> lines;
    if (check.general != Mark::Pass && check.general != Mark::Skipped &&
        !check.general_reason.empty()) {
        lines.emplace_back(std::string(mark_symbol(check.general)), check.general_reason);
    }
    std::vector<std::pair<std::pair<Mark, std::string>, std::vector<Idp>>> groups;
    for (Idp idp : asked) {
        const IdpVerdict& verdict = check.verdict(idp);
        const bool reported = verdict.mark == Mark::Warn || verdict.mark == Mark::Fail ||
                              (verdict.mark == Mark::Skipped && !verdict.reason.empty());
        if (!reported) continue;
        const auto key = std::make_pair(verdict.mark, verdict.reason);
        const auto group = std::find_if(groups.begin(), groups.end(),
                                        [&](const auto& entry) { return entry.first == key; });
        if (group == groups.end()) {
            groups.push_back({key, {idp}});
        } else {
            group->second.push_back(idp);
        }
    }
    for (const auto& [key, idps] : groups) {
        const std::string who =
            idps.size() == asked.size() && asked.size() > 1
                ? std::string(mark_symbol(key.first))
                : joined_names(idps) + " " + std::string(mark_symbol(key.first));
        lines.emplace_back(who, key.second);
    }
    return lines;
}

}  // namespace

std::string_view idp_name(Idp idp) {
    switch (idp) {
        case Idp::Aws:
            return "AWS";
        case Idp::Gcp:
            return "GCP";
        case Idp::Entra:
            return "Entra";
    }
    return "?";
}

std::string_view idp_id(Idp idp) {
    switch (idp) {
        case Idp::Aws:
            return "aws";
        case Idp::Gcp:
            return "gcp";
        case Idp::Entra:
            return "entra";
    }
    return "?";
}

std::optional<std::vector<Idp>> parse_idp_list(std::string_view text, std::string* error) {
    std::vector<bool> chosen(kAllIdps.size(), false);
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string name = to_lower_ascii(text.substr(start, comma - start));
        const auto found = std::find_if(kAllIdps.begin(), kAllIdps.end(),
                                        [&](Idp idp) { return idp_id(idp) == name; });
        if (found == kAllIdps.end()) {
            *error = name.empty() ? "--idp needs a comma-separated list of aws, gcp, entra"
                                  : "--idp: unknown identity provider \"" + name +
                                        "\" (known: aws, gcp, entra)";
            return std::nullopt;
        }
        chosen[static_cast<std::size_t>(*found)] = true;
        start = comma + 1;
    }
    std::vector<Idp> idps;
    for (Idp idp : kAllIdps) {
        if (chosen[static_cast<std::size_t>(idp)]) idps.push_back(idp);
    }
    return idps;
}

std::string_view mark_symbol(Mark mark) {
    switch (mark) {
        case Mark::Skipped:
            return "-";
        case Mark::Pass:
            return "\u2713";
        case Mark::Warn:
            return "!";
        case Mark::Fail:
            return "\u2717";
    }
    return "?";
}

std::string_view mark_name(Mark mark) {
    switch (mark) {
        case Mark::Skipped:
            return "skipped";
        case Mark::Pass:
            return "pass";
        case Mark::Warn:
            return "warn";
        case Mark::Fail:
            return "fail";
    }
    return "?";
}

Check& Check::all(Mark mark, const std::string& reason) {
    for (IdpVerdict& verdict : idps) verdict = IdpVerdict{mark, reason};
    return *this;
}

Check& Check::raise(Idp idp, Mark mark, const std::string& reason) {
    IdpVerdict& current = verdict(idp);
    if (mark > current.mark) {
        current.mark = mark;
        current.reason = reason;
    } else if (mark == current.mark && mark != Mark::Pass) {
        append_reason(current.reason, reason);
    }
    return *this;
}

Check& Check::note(Mark mark, const std::string& reason) {
    if (mark > general) {
        general = mark;
        general_reason = reason;
    } else if (mark == general) {
        append_reason(general_reason, reason);
    }
    return *this;
}

Mark Check::mark(const std::vector<Idp>& asked) const {
    Mark worst = Mark::Skipped;
    for (Idp idp : asked) worst = std::max(worst, verdict(idp).mark);
    if (worst == Mark::Skipped) return Mark::Skipped;
    return std::max(worst, general);
}

Check make_check(std::string id, std::string section, std::string title, std::string detail) {
    Check check;
    check.id = std::move(id);
    check.section = std::move(section);
    check.title = std::move(title);
    check.detail = std::move(detail);
    return check;
}

Check skipped_check(std::string id, std::string section, std::string title, std::string reason) {
    Check check = make_check(std::move(id), std::move(section), std::move(title));
    check.detail = "not run: " + reason;
    check.all(Mark::Skipped, {});
    return check;
}

ProbeReport::Summary ProbeReport::summary(Idp idp) const {
    Summary result;
    for (const Check& check : checks) {
        const IdpVerdict& verdict = check.verdict(idp);
        if (verdict.mark != Mark::Warn && verdict.mark != Mark::Fail) continue;
        result.mark = std::max(result.mark, verdict.mark);
        result.reasons.push_back(check.title + ": " + verdict.reason);
    }
    return result;
}

bool ProbeReport::passed() const {
    for (const Check& check : checks) {
        if (check.general == Mark::Fail) return false;
    }
    return std::all_of(asked.begin(), asked.end(),
                       [&](Idp idp) { return summary(idp).mark != Mark::Fail; });
}

int probe_exit_status(const ProbeReport& report) {
    return report.passed() ? 0 : 1;
}

std::string render_probe_table(const ProbeReport& report) {
    std::string out =
        "Probe of " + shown_text(report.issuer) + " for " + joined_names(report.asked) + "\n";

    std::string heading = "\n    " + padded("", kTitleWidth);
    for (Idp idp : report.asked) heading += padded(idp_name(idp), 6);
    out += heading;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";

    std::string section;
    for (const Check& check : report.checks) {
        if (check.section != section) {
            section = check.section;
            out += section + "\n";
        }
        const Mark mark = check.mark(report.asked);
        std::string row =
            "  " + std::string(mark_symbol(mark)) + " " + padded(check.title, kTitleWidth);
        for (Idp idp : report.asked) {
            row += std::string(mark_symbol(check.verdict(idp).mark)) + "     ";
        }
        row += shown_text(check.detail);
        while (!row.empty() && row.back() == ' ') row.pop_back();
        out += row + "\n";
        for (const auto& [who, reason] : row_reasons(check, report.asked)) {
            out += "      " + who + " " + shown_text(reason) + "\n";
        }
    }

    out += "\nVerdict\n";
    for (Idp idp : report.asked) {
        const ProbeReport::Summary result = report.summary(idp);
        out += "  " + padded(idp_name(idp), 6) + std::string(mark_symbol(result.mark)) + " ";
        if (result.mark == Mark::Fail) {
            out += "would fail";
        } else if (result.mark == Mark::Warn) {
            out += "would work, with warnings";
        } else {
            out += "would work";
        }
        if (report.token_checked) {
            out +=
                result.mark == Mark::Fail ? "; would reject the token" : "; would accept the token";
        }
        out += "\n";
        for (const std::string& reason : result.reasons) {
            out += "          " + shown_text(reason) + "\n";
        }
    }
    out += report.passed() ? "\nResult: every check passes for every identity provider asked\n"
                           : "\nResult: FAILED for at least one identity provider asked\n";
    return out;
}

std::string render_probe_json(const ProbeReport& report) {
    using nlohmann::json;
    json document;
    document["issuer"] = shown_text(report.issuer);
    json idps = json::array();
    for (Idp idp : report.asked) idps.push_back(idp_id(idp));
    document["idps"] = idps;
    document["passed"] = report.passed();
    document["token_checked"] = report.token_checked;

    json checks = json::array();
    for (const Check& check : report.checks) {
        json row;
        row["id"] = check.id;
        row["section"] = check.section;
        row["title"] = check.title;
        row["result"] = mark_name(check.mark(report.asked));
        row["detail"] = shown_text(check.detail);
        if (check.general != Mark::Pass && check.general != Mark::Skipped) {
            row["note"] = {{"result", mark_name(check.general)},
                           {"reason", shown_text(check.general_reason)}};
        }
        json verdicts = json::object();
        for (Idp idp : report.asked) {
            const IdpVerdict& verdict = check.verdict(idp);
            json entry = {{"result", mark_name(verdict.mark)}};
            if (!verdict.reason.empty()) entry["reason"] = shown_text(verdict.reason);
            verdicts[std::string(idp_id(idp))] = entry;
        }
        row["idps"] = verdicts;
        checks.push_back(row);
    }
    document["checks"] = checks;

    json verdicts = json::object();
    for (Idp idp : report.asked) {
        const ProbeReport::Summary result = report.summary(idp);
        json reasons = json::array();
        for (const std::string& reason : result.reasons) reasons.push_back(shown_text(reason));
        verdicts[std::string(idp_id(idp))] = {{"result", mark_name(result.mark)},
                                              {"reasons", reasons}};
    }
    document["verdicts"] = verdicts;
    // Every string is well-formed UTF-8 by now (shown_text); ensure_ascii keeps the output plain
    // ASCII for any consumer, and replace stays as a guard.
    return document.dump(2, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace) + "\n";
}

}  // namespace oidcgw
