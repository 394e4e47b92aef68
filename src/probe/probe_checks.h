// The rows of `probe` for the issuer URL, its TLS endpoint and its discovery document, each judged
// per identity provider. Everything here works on what was already fetched, so unit tests can
// feed it any document or certificate chain.
#pragma once

#include "probe/probe_fetch.h"
#include "probe/probe_report.h"
#include "probe/tls_inspection.h"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

inline constexpr std::size_t kEntraMaxIssuerLength = 600;
inline constexpr std::chrono::milliseconds kAwsFetchLimit{5000};  // AWS gives up about here
inline constexpr std::chrono::milliseconds kSlowFetch{2000};      // worth a warning already
// Certificates of a presented chain that the TLS rows examine; a longer chain fails. Real chains
// are a leaf and one to three intermediates.
inline constexpr std::size_t kMaxChainCertificates = 10;

// An issuer URL taken apart leniently, so that every rule it breaks can be reported (the
// gateway's own parse_issuer_url stops at the first).
struct ProbeUrl {
    std::string scheme;  // as written
    std::string userinfo;
    bool has_userinfo = false;
    std::string host;  // as written, without brackets
    std::string port_text;
    bool has_port = false;
    std::optional<std::uint16_t> port;  // the port to connect to (443 when none is written)
    std::string path;
    bool has_query = false;
    bool has_fragment = false;
};

// nullopt when the text is not SCHEME://AUTHORITY[PATH][?QUERY][#FRAGMENT] at all.
std::optional<ProbeUrl> split_probe_url(std::string_view url);

// The URL section: https, port (AWS: none, so 443), no query/fragment/userinfo, length (Entra).
std::vector<Check> check_issuer_url(std::string_view url);

// The discovery URL OpenID Connect derives from an issuer: any trailing slash dropped, then
// "/.well-known/openid-configuration".
std::string discovery_url_for(std::string_view issuer);

// "differs only by a trailing slash: ..." or "differs from ..." for two issuer strings.
std::string describe_issuer_mismatch(std::string_view found, std::string_view expected,
                                     std::string_view found_where);

struct TlsObservation {
    HandshakeResult tls12;
    HandshakeResult tls13;
    std::string host;     // the issuer's host: SNI and the name the certificate must cover
    std::string ca_file;  // --ca, or "" for the system store
    std::time_t now = 0;
};

// The TLS section: both handshakes, validity, names, chain order, trust (probe_tls_checks.cc).
std::vector<Check> check_tls(const TlsObservation& observation);

// "Fetch" rows for the discovery document and the JWKS: reached, verified, 200, no redirect.
Check check_fetch(std::string id, std::string section, std::string title, const ProbeFetch& fetch);

// application/json (parameters such as charset allowed).
Check check_content_type(std::string id, std::string section, const ProbeFetch& fetch);

struct DiscoveryFindings {
    std::string jwks_uri;  // set when the document names an https jwks_uri
};

// The document rows: parses, issuer byte-identical, required members, jwks_uri.
std::vector<Check> check_discovery_document(std::string_view body, std::string_view issuer,
                                            DiscoveryFindings* findings);

// Both fetch times against AWS's ~5 s limit; jwks absent when it was not fetched.
Check check_response_time(std::chrono::milliseconds discovery,
                          std::optional<std::chrono::milliseconds> jwks);

// For the files that build rows: `parts` joined with `separator`, and `checks` followed by the
// `rows` (id, title) of `section`, each skipped for `reason`.
std::string joined(const std::vector<std::string>& parts, const char* separator);
std::vector<Check> skip_rest(std::vector<Check> checks,
                             const std::vector<std::pair<const char*, const char*>>& rows,
                             const char* section, const std::string& reason);

}  // namespace oidcgw
