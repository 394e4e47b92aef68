#include "probe/probe.h"

#include "common/certificate_chain.h"
#include "common/file_reading.h"
#include "common/text_escape.h"
#include "probe/jwks_checks.h"
#include "probe/probe_checks.h"
#include "probe/probe_fetch.h"
#include "probe/token_checks.h"

#include <curl/curl.h>

#include <ctime>
#include <ostream>

namespace oidcgw {
namespace {

constexpr std::size_t kMaxTokenBytes = 64 * 1024;  // Nomad's tokens are about 1 KiB

// libcurl's global state for the length of one command (serve sets up its own).
class CurlGlobal {
  public:
    CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}
    ~CurlGlobal() {
        if (ok_) curl_global_cleanup();
    }
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
    bool ok() const { return ok_; }

  private:
    bool ok_;
};

void add_skipped(std::vector<Check>& checks,
                 const std::vector<std::tuple<const char*, const char*, const char*>>& rows,
                 const std::string& reason) {
    for (const auto& [id, section, title] : rows) {
        checks.push_back(skipped_check(id, section, title, reason));
    }
}

void append(std::vector<Check>& checks, std::vector<Check> more) {
    for (Check& check : more) checks.push_back(std::move(check));
}

// The fetch row, its Content-Type row, and whether the body is worth checking.
bool add_fetch_rows(std::vector<Check>& checks, const char* id_prefix, const char* section,
                    const char* title, const std::string& url, const ProbeFetch& fetch) {
    Check fetched = check_fetch(std::string(id_prefix) + ".fetch", section, title, fetch);
    fetched.detail += " from " + quote_untrusted(url);
    checks.push_back(fetched);
    const bool usable = fetch.reached && fetch.status == 200;
    if (usable) {
        checks.push_back(
            check_content_type(std::string(id_prefix) + ".content_type", section, fetch));
    } else {
        checks.push_back(skipped_check(std::string(id_prefix) + ".content_type", section,
                                       "Content-Type application/json", "no 200 response"));
    }
    return usable;
}

std::optional<std::string> read_token_file(const std::string& path, std::string* error) {
    std::string text;
    std::string problem;
    if (!read_regular_file(path, kMaxTokenBytes, &text, &problem)) {
        *error = "cannot read --token file " + quote_path(path) + ": " + problem;
        return std::nullopt;
    }
    return text;
}

}  // namespace

ProbeReport probe_issuer(const ProbeOptions& options, const std::optional<std::string>& token) {
    ProbeReport report;
    report.issuer = options.issuer_url;
    report.asked = options.idps;
    report.token_checked = token.has_value();
    std::vector<Check>& checks = report.checks;
    const std::time_t now = std::time(nullptr);

    append(checks, check_issuer_url(options.issuer_url));
    const std::optional<ProbeUrl> url = split_probe_url(options.issuer_url);
    const bool reachable =
        url && url->scheme == "https" && !url->host.empty() && url->port && !url->has_userinfo;

    JwksFindings jwks;
    if (!reachable) {
        add_skipped(checks,
                    {{"tls.handshake", "TLS", "TLS handshakes"},
                     {"discovery.fetch", "Discovery", "Discovery document fetched"},
                     {"jwks.fetch", "JWKS", "JWKS fetched (jwks_uri)"}},
                    "the issuer URL cannot be fetched");
    } else {
        const Endpoint issuer_endpoint{url->host, *url->port};
        const Endpoint dial = options.connect_to.value_or(issuer_endpoint);

        TlsObservation tls;
        tls.host = url->host;
        tls.ca_file = options.ca_file;
        tls.now = now;
        tls.tls12 = tls_handshake(url->host, dial, TlsVersion::Tls12, options.timeout);
        tls.tls13 = tls_handshake(url->host, dial, TlsVersion::Tls13, options.timeout);
        append(checks, check_tls(tls));

        ProbeFetchSettings settings;
        settings.ca_file = options.ca_file;
        settings.timeout = options.timeout;
        if (options.connect_to) {
            settings.connect_to = connect_to_entry(url->host, *url->port, options.connect_to->host,
                                                   options.connect_to->port);
        }

        const std::string discovery_url = discovery_url_for(options.issuer_url);
        const ProbeFetch discovery = probe_fetch(discovery_url, settings);
        DiscoveryFindings found;
        if (add_fetch_rows(checks, "discovery", "Discovery", "Discovery document fetched",
                           discovery_url, discovery)) {
            append(checks, check_discovery_document(discovery.body, options.issuer_url, &found));
        } else {
            add_skipped(checks,
                        {{"discovery.json", "Discovery", "Discovery document parses"},
                         {"discovery.issuer", "Discovery", "issuer identical to the URL"},
                         {"discovery.members", "Discovery", "Required members"},
                         {"discovery.jwks_uri", "Discovery", "jwks_uri is https"}},
                        "no discovery document");
        }

        std::optional<std::chrono::milliseconds> jwks_time;
        if (found.jwks_uri.empty()) {
            add_skipped(checks, {{"jwks.fetch", "JWKS", "JWKS fetched (jwks_uri)"}},
                        "no usable jwks_uri");
        } else {
            const ProbeFetch fetched = probe_fetch(found.jwks_uri, settings);
            if (fetched.reached) jwks_time = fetched.elapsed;
            if (add_fetch_rows(checks, "jwks", "JWKS", "JWKS fetched (jwks_uri)", found.jwks_uri,
                               fetched)) {
                append(checks, check_jwks_document(fetched.body, &jwks));
            }
        }
        if (discovery.reached) checks.push_back(check_response_time(discovery.elapsed, jwks_time));
    }

    if (token) {
        TokenContext context;
        context.issuer = options.issuer_url;
        context.keys = jwks.keys ? &*jwks.keys : nullptr;
        context.now = now;
        append(checks, check_token(*token, context));
    }
    return report;
}

int run_probe(const ProbeOptions& options, std::ostream& out, std::ostream& err) {
    std::string error;
    if (!options.ca_file.empty() && load_certificate_chain(options.ca_file, &error).empty()) {
        err << "oidc-gateway: --ca: " << error << "\n";
        return 2;
    }
    std::optional<std::string> token;
    if (!options.token_file.empty()) {
        token = read_token_file(options.token_file, &error);
        if (!token) {
            err << "oidc-gateway: " << error << "\n";
            return 2;
        }
    }
    const CurlGlobal curl;
    if (!curl.ok()) {
        err << "oidc-gateway: libcurl initialisation failed\n";
        return 1;
    }
    const ProbeReport report = probe_issuer(options, token);
    out << (options.json ? render_probe_json(report) : render_probe_table(report));
    return probe_exit_status(report);
}

}  // namespace oidcgw
