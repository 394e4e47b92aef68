// `oidc-gateway thumbprint`: the SHA-1 thumbprint AWS IAM wants for an OIDC provider, that of the
// last certificate the server presents (the top intermediate), from a live server or from the
// gateway's own configured chain.
#pragma once

#include "common/raii.h"
#include "probe/tls_inspection.h"

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

// SHA-1 of the DER certificate as 40 lowercase hex characters, no colons (AWS's spelling).
std::string certificate_thumbprint(X509* certificate);

struct ThumbprintOptions {
    std::optional<Endpoint> server;      // HOST[:PORT]; unset with config_path
    std::string config_path;             // --config: the gateway's tls.certificates[0] chain
    std::string ca_file;                 // --ca: trust this instead of the system store
    bool all = false;                    // --all: every certificate, not only the last
    std::optional<Endpoint> connect_to;  // --connect-to: dial this instead of server
    std::chrono::milliseconds timeout{10'000};
};

// "THUMBPRINT  SUBJECT" lines: the last certificate of `chain`, or with `all` every one in order.
std::string render_thumbprints(const std::vector<X509Ptr>& chain, bool all);

// Runs the command: prints the lines on `out`, problems on `err`. Returns 0, 1 when the server
// cannot be reached or its chain is not trusted for the host, 2 when the configuration or its
// certificate file cannot be read.
int run_thumbprint(const ThumbprintOptions& options, std::ostream& out, std::ostream& err);

}  // namespace oidcgw
