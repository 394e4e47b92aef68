// Rules an upstream document must pass before the gateway publishes it. The gateway parses only
// to validate; what it publishes is always the upstream's exact bytes.
#pragma once

#include "config/issuer_url.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

// Why a document was refused: `code` is a short stable token (for metrics and tests), `detail`
// a sentence for operators. Neither ever contains key material.
struct Rejection {
    std::string code;
    std::string detail;
};

struct DiscoveryInfo {
    std::string jwks_uri;            // as in the document
    std::string jwks_path;           // public path to serve the JWKS at
    std::string jwks_upstream_path;  // jwks_path with the issuer's prefix removed
};

struct KeySummary {
    std::string kid;
    std::string kty;  // "RSA", "EC" or "OKP"
    std::string alg;  // empty when the key names none
    std::string crv;  // EC/OKP curve, else empty
};

struct JwksInfo {
    std::vector<KeySummary> keys;       // in document order
    std::vector<std::string> warnings;  // e.g. no key AWS accepts, over 100 RSA keys
};

// Discovery document: an object (no duplicate members); `issuer` byte-identical to issuer.text;
// `jwks_uri` passes jwks_path_for_issuer; response_types_supported, subject_types_supported and
// id_token_signing_alg_values_supported are non-empty arrays of strings.
std::optional<DiscoveryInfo> validate_discovery(std::string_view body, const IssuerUrl& issuer,
                                                Rejection* rejection);

// JWKS: see the README section "What the gateway refuses to publish".
std::optional<JwksInfo> validate_jwks(std::string_view body, Rejection* rejection);

}  // namespace oidcgw
