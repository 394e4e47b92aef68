// The TLS rows of `probe` (declared in probe_checks.h): both handshakes, then the presented
// chain's validity, names, order and trust.
#include "common/certificate_chain.h"
#include "common/text_escape.h"
#include "common/utc_time.h"
#include "probe/probe_checks.h"
#include "probe/thumbprint.h"

namespace oidcgw {
namespace {

constexpr const char* kTlsSection = "TLS";

// The first `count` certificates of `chain`, sharing them (another reference each).
std::vector<X509Ptr> first_certificates(const std::vector<X509Ptr>& chain, std::size_t count) {
    std::vector<X509Ptr> first;
    for (std::size_t index = 0; index < chain.size() && index < count; ++index) {
        X509_up_ref(chain[index].get());
        first.emplace_back(chain[index].get());
    }
    return first;
}

}  // namespace

std::vector<Check> check_tls(const TlsObservation& observation) {
    std::vector<Check> checks;
    const HandshakeResult& tls12 = observation.tls12;
    const HandshakeResult& tls13 = observation.tls13;

    Check version12 = make_check("tls.version_1_2", kTlsSection, "TLS 1.2 handshake");
    if (tls12.ok) {
        version12.detail = tls12.version + ", " + tls12.cipher;
    } else if (tls13.ok) {
        version12.detail = escape_untrusted(tls12.error);
        version12.raise(Idp::Aws, Mark::Fail,
                        "AWS IAM needs TLS 1.2 available (with TLS 1.3 only it falls back to "
                        "thumbprints and may fail)");
    } else {
        version12.all(Mark::Fail, escape_untrusted(tls12.error));
    }
    checks.push_back(version12);

    Check version13 = make_check("tls.version_1_3", kTlsSection, "TLS 1.3 handshake");
    if (tls13.ok) {
        version13.detail = tls13.version + ", " + tls13.cipher;
    } else if (tls12.ok) {
        version13.detail = escape_untrusted(tls13.error);
        version13.note(Mark::Warn,
                       "TLS 1.3 is not offered; the identity providers manage with "
                       "TLS 1.2, but enable it (tls.min_version 1.2 keeps both)");
    } else {
        version13.all(Mark::Fail, escape_untrusted(tls13.error));
    }
    checks.push_back(version13);

    const std::vector<X509Ptr>& presented = tls12.ok ? tls12.chain : tls13.chain;
    // Judging the order compares certificates pairwise by signature: only the first few.
    const std::vector<X509Ptr> chain = first_certificates(presented, kMaxChainCertificates);
    const bool too_long = presented.size() > chain.size();
    const std::vector<std::pair<const char*, const char*>> chain_rows = {
        {"tls.validity", "Certificate valid now"},
        {"tls.names", "Certificate names the host"},
        {"tls.chain", "Chain order (leaf, intermediates)"},
        {"tls.trust", "Chain trusted"}};
    if (!tls12.ok && !tls13.ok) {
        return skip_rest(std::move(checks), chain_rows, kTlsSection, "no TLS handshake succeeded");
    }
    if (chain.empty()) {
        return skip_rest(std::move(checks), chain_rows, kTlsSection,
                         "the server presented no certificate");
    }
    X509* leaf = chain.front().get();

    Check validity = make_check("tls.validity", kTlsSection, "Certificate valid now");
    const std::time_t not_before = certificate_not_before(leaf);
    const std::time_t not_after = certificate_not_after(leaf);
    const long days_left = static_cast<long>((not_after - observation.now) / 86400);
    validity.detail = "until " + utc_iso8601(not_after) + " (" + std::to_string(days_left) +
                      (days_left == 1 ? " day" : " days") + " left)";
    if (not_before > observation.now) {
        validity.all(Mark::Fail, "not valid before " + utc_iso8601(not_before));
    } else if (not_after <= observation.now) {
        validity.detail = "expired " + utc_iso8601(not_after);
        validity.all(Mark::Fail, "the certificate expired on " + utc_iso8601(not_after));
    } else if (days_left <
               std::chrono::floor<std::chrono::days>(kCertificateExpiryWarning).count()) {
        validity.all(Mark::Warn, "expires in " + std::to_string(days_left) + " days: renew it");
    }
    checks.push_back(validity);

    Check names = make_check("tls.names", kTlsSection, "Certificate names the host");
    const std::vector<std::string> sans = certificate_sans(leaf);
    if (certificate_names_host(leaf, observation.host)) {
        names.detail = escape_untrusted(observation.host) + " (subjectAltName)";
    } else {
        std::vector<std::string> shown_sans;
        for (const std::string& san : sans) shown_sans.push_back(escape_untrusted(san));
        names.detail = sans.empty() ? "no subjectAltName" : "names " + joined(shown_sans, ", ");
        names.all(Mark::Fail, "the certificate does not name " +
                                  escape_untrusted(observation.host) + " in its subjectAltName");
    }
    checks.push_back(names);

    Check order = make_check("tls.chain", kTlsSection, "Chain order (leaf, intermediates)");
    std::vector<std::string> subjects;
    for (const X509Ptr& certificate : chain)
        subjects.push_back(escape_untrusted(certificate_subject(certificate.get())));
    if (too_long) {
        subjects.push_back(std::to_string(presented.size() - chain.size()) + " more not examined");
    }
    order.detail = std::to_string(presented.size()) +
                   (presented.size() == 1 ? " certificate: " : " certificates: ") +
                   joined(subjects, " > ") + "; last (AWS thumbprint) " +
                   certificate_thumbprint(presented.back().get());
    if (too_long) {
        order.all(Mark::Fail, "the server presents " + std::to_string(presented.size()) +
                                  " certificates; probe examines at most " +
                                  std::to_string(kMaxChainCertificates) +
                                  ": send the leaf and its intermediates only (a handful)");
    }
    const ChainFindings findings = inspect_chain(chain);
    if (!findings.errors.empty()) {
        const std::string problems = joined(findings.errors, "; ");
        order.raise(Idp::Aws, Mark::Fail,
                    problems + " (AWS IAM wants leaf, then intermediates in order, nothing else)");
        order.raise(Idp::Gcp, Mark::Warn, problems);
        order.raise(Idp::Entra, Mark::Warn, problems);
    }
    // A cut chain does not end where the warnings think it does.
    if (!too_long) {
        for (const std::string& warning : findings.warnings) order.note(Mark::Warn, warning);
    }
    checks.push_back(order);

    Check trust = make_check("tls.trust", kTlsSection, "Chain trusted");
    const TrustResult trusted = verify_chain_trust(chain, observation.ca_file);
    if (trusted.trusted) {
        trust.detail = observation.ca_file.empty()
                           ? "by the system trust store"
                           : "by --ca " + observation.ca_file + " (instead of the system store)";
    } else {
        std::string reason =
            "not trusted by " +
            (observation.ca_file.empty() ? std::string("the system trust store")
                                         : "--ca " + observation.ca_file) +
            ": " + trusted.error +
            (too_long ? " (verifying the first " + std::to_string(kMaxChainCertificates) +
                            " certificates)"
                      : "");
        if (trusted.error.find("local issuer") != std::string::npos) {
            reason += chain.size() == 1 && !is_self_signed(leaf)
                          ? "; the server sends no intermediate certificate: add them to the "
                            "certificate file after the leaf"
                          : "; the top certificate's issuer is not in that store (a private "
                            "CA? pass --ca FILE to probe with it)";
        }
        trust.all(Mark::Fail, reason);
    }
    if (chain.size() == 1 && is_self_signed(leaf)) {
        trust.raise(Idp::Gcp, Mark::Fail,
                    "the certificate is self-signed: GCP needs one from a public CA");
    }
    checks.push_back(trust);
    return checks;
}

}  // namespace oidcgw
