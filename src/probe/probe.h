// `oidc-gateway probe`: does from the outside what AWS IAM, GCP Workload Identity Federation and
// Microsoft Entra do with an issuer (TLS, discovery, JWKS, optionally one token) and says, per
// check and per identity provider, what would fail and why, before a cloud gives a vague error.
#pragma once

#include "probe/probe_report.h"
#include "probe/tls_inspection.h"

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

struct ProbeOptions {
    std::string issuer_url;  // exactly as it will be configured
    std::string ca_file;     // --ca: trust this, not the system store
    std::string token_file;  // --token: a JWT to judge
    std::vector<Idp> idps{kAllIdps.begin(), kAllIdps.end()};  // --idp
    bool json = false;                                        // --json
    std::optional<Endpoint> connect_to;  // --connect-to: dial this for the issuer's host:port
    std::chrono::milliseconds timeout{10'000};  // --timeout: each connection or fetch
};

// Runs every check. `token` is the token's text when --token was given. Reaches the network.
ProbeReport probe_issuer(const ProbeOptions& options, const std::optional<std::string>& token);

// The command: reads the --ca and --token files, probes, prints the table (or JSON) on `out`.
// Returns 0 when every check passes for every identity provider asked, 1 when one fails, 2 when
// a named file cannot be read.
int run_probe(const ProbeOptions& options, std::ostream& out, std::ostream& err);

}  // namespace oidcgw
