// Shared by the probe's unit tests (tests/unit/probe/*_test.cc): a check row by id, its mark for
// one identity provider, every provider, and a JWKS body from key objects.
#pragma once

#include "probe/probe_report.h"
#include "test_pki.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace oidcgw::testing {

inline const Check& row(const std::vector<Check>& checks, const std::string& id) {
    for (const Check& check : checks) {
        if (check.id == id) return check;
    }
    throw std::runtime_error("no check " + id);
}

inline Mark mark_of(const Check& check, Idp idp) {
    return check.verdict(idp).mark;
}

inline const std::vector<Idp> kAll(kAllIdps.begin(), kAllIdps.end());

inline std::string jwks_of(const std::vector<std::string>& keys) {
    std::string body = "{\"keys\":[";
    for (std::size_t i = 0; i < keys.size(); ++i) body += (i ? "," : "") + keys[i];
    return body + "]}";
}

}  // namespace oidcgw::testing
