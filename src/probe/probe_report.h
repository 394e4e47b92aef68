// What `oidc-gateway probe` found: one row per check, each with a verdict for every identity
// provider, rendered as a table for people or as JSON for scripts.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

// The identity providers the probe judges for; the order is the column order of the table.
enum class Idp { Aws, Gcp, Entra };
inline constexpr std::array<Idp, 3> kAllIdps = {Idp::Aws, Idp::Gcp, Idp::Entra};

std::string_view idp_name(Idp idp);  // "AWS", "GCP", "Entra"
std::string_view idp_id(Idp idp);    // "aws", "gcp", "entra" (the --idp and JSON spelling)

// "aws,gcp" (case-insensitive, any order, repeats ignored) in the canonical order. nullopt with
// *error set for an empty list or an unknown name.
std::optional<std::vector<Idp>> parse_idp_list(std::string_view text, std::string* error);

// Ordered from harmless to worst, so that std::max combines results. Skipped: not run because a
// check it depends on failed (that check carries the failure).
enum class Mark { Skipped, Pass, Warn, Fail };

std::string_view mark_symbol(Mark mark);  // "-", "✓", "!", "✗"
std::string_view mark_name(Mark mark);    // "skipped", "pass", "warn", "fail"

struct IdpVerdict {
    Mark mark = Mark::Pass;
    std::string reason;  // why, for Warn and Fail
};

struct Check {
    std::string id;             // stable, for scripts: "tls.version_1_2", "jwks.algorithms"
    std::string section;        // "URL", "TLS", "Discovery", "JWKS", "Token"
    std::string title;          // "TLS 1.2 handshake"
    std::string detail;         // what was found, shown whatever the outcome
    Mark general = Mark::Pass;  // a finding that concerns no identity provider in particular
    std::string general_reason;
    std::array<IdpVerdict, 3> idps{};  // indexed by Idp

    IdpVerdict& verdict(Idp idp) { return idps[static_cast<std::size_t>(idp)]; }
    const IdpVerdict& verdict(Idp idp) const { return idps[static_cast<std::size_t>(idp)]; }

    // The same verdict for every identity provider.
    Check& all(Mark mark, const std::string& reason);
    // Raises one provider's verdict to `mark` (never lowers it); reasons accumulate.
    Check& raise(Idp idp, Mark mark, const std::string& reason);
    // A general warning (Warn) or failure, shown on the row but tied to no provider.
    Check& note(Mark mark, const std::string& reason);

    // The row's mark for the providers asked about: the worst of those verdicts and `general`.
    // Skipped when every verdict is.
    Mark mark(const std::vector<Idp>& asked) const;
};

Check make_check(std::string id, std::string section, std::string title, std::string detail = {});
Check skipped_check(std::string id, std::string section, std::string title, std::string reason);

struct ProbeReport {
    std::string issuer;
    std::vector<Idp> asked{kAllIdps.begin(), kAllIdps.end()};
    bool token_checked = false;  // --token was given
    std::vector<Check> checks;

    // One provider's overall verdict: the worst verdict over all checks, with the reasons of
    // every failing and warning check, each prefixed by the check's title.
    struct Summary {
        Mark mark = Mark::Pass;
        std::vector<std::string> reasons;
    };
    Summary summary(Idp idp) const;

    // Every check passes (warnings allowed) for every provider asked.
    bool passed() const;
};

// The longest detail or reason either rendering shows; longer ones are cut at a character
// boundary and marked. The checks bound what they build; this bounds what is printed.
inline constexpr std::size_t kMaxShownTextBytes = 1000;

// The process exit status: 0 when passed(), else 1.
int probe_exit_status(const ProbeReport& report);

// Both renderings show a check's text as the checks built it (outside text in it already went
// through escape_untrusted or quote_untrusted), passed through escape_untrusted once more so that
// a check that forgot cannot put a control character on the terminal, and cut at
// kMaxShownTextBytes.

// A table for a terminal: sections, one row per check with ✓/✗/! per provider asked and the
// reason beside each ✗ and !, then one verdict line per provider.
std::string render_probe_table(const ProbeReport& report);

// The same as a JSON document (see README "probe" for the schema), with a trailing newline.
std::string render_probe_json(const ProbeReport& report);

}  // namespace oidcgw
