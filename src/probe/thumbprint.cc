#include "probe/thumbprint.h"

#include "common/certificate_chain.h"
#include "common/text_escape.h"
#include "config/config.h"

#include <openssl/evp.h>

#include <ostream>
#include <sstream>

namespace oidcgw {
namespace {

// Only the certificate matters here, so the configuration is parsed but its other files (the
// private key, often readable by the service account alone) are not opened.
int configured_thumbprints(const ThumbprintOptions& options, std::ostream& out, std::ostream& err) {
    std::string error;
    std::string text;
    if (!read_config_text(options.config_path, &text, &error)) {
        err << "oidc-gateway: " << error << "\n";
        return 2;
    }
    const ConfigResult parsed = parse_config(text);
    if (!parsed.config) {
        err << "oidc-gateway: " << options.config_path << ": " << parsed.error.to_string() << "\n";
        return 2;
    }
    if (parsed.config->certificates.empty()) {
        err << "oidc-gateway: " << options.config_path << ": no tls.certificates entry\n";
        return 2;
    }
    const std::vector<X509Ptr> chain =
        load_certificate_chain(parsed.config->certificates.front().certificate, &error);
    if (chain.empty()) {
        err << "oidc-gateway: " << options.config_path
            << ": tls.certificates[0].certificate: " << error << "\n";
        return 2;
    }
    std::string order_problem;
    if (!check_chain_order(chain, &order_problem)) {
        err << "oidc-gateway: warning: " << order_problem << "\n";
    }
    out << render_thumbprints(chain, options.all);
    return 0;
}

int served_thumbprints(const ThumbprintOptions& options, std::ostream& out, std::ostream& err) {
    const Endpoint& server = *options.server;
    const Endpoint& dial = options.connect_to ? *options.connect_to : server;
    const HandshakeResult handshake =
        tls_handshake(server.host, dial, TlsVersion::Any, options.timeout);
    if (!handshake.ok) {
        err << "oidc-gateway: " << server.to_string() << ": " << escape_untrusted(handshake.error)
            << "\n";
        return 1;
    }
    if (handshake.chain.empty()) {
        err << "oidc-gateway: " << server.to_string() << " presented no certificate\n";
        return 1;
    }
    // A thumbprint is a trust decision: never hand one out for a chain we could not verify.
    const TrustResult trust = verify_chain_trust(handshake.chain, options.ca_file);
    if (!trust.trusted) {
        err << "oidc-gateway: " << server.to_string() << ": the presented chain is not trusted by "
            << (options.ca_file.empty() ? std::string("the system store")
                                        : "--ca " + options.ca_file)
            << ": " << trust.error
            << (options.ca_file.empty() ? " (pass --ca FILE for a private CA)" : "") << "\n";
        return 1;
    }
    if (!certificate_names_host(handshake.chain.front().get(), server.host)) {
        err << "oidc-gateway: " << server.to_string() << ": the certificate does not name "
            << server.host << "\n";
        return 1;
    }
    out << render_thumbprints(handshake.chain, options.all);
    return 0;
}

}  // namespace

std::string certificate_thumbprint(X509* certificate) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (certificate == nullptr || X509_digest(certificate, EVP_sha1(), digest, &length) != 1) {
        return {};
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0x0f];
    }
    return hex;
}

std::string render_thumbprints(const std::vector<X509Ptr>& chain, bool all) {
    std::string lines;
    const std::size_t first = all || chain.empty() ? 0 : chain.size() - 1;
    for (std::size_t index = first; index < chain.size(); ++index) {
        lines += certificate_thumbprint(chain[index].get()) + "  " +
                 escape_untrusted(certificate_subject(chain[index].get())) + "\n";
    }
    return lines;
}

int run_thumbprint(const ThumbprintOptions& options, std::ostream& out, std::ostream& err) {
    if (!options.config_path.empty()) return configured_thumbprints(options, out, err);
    if (!options.server) {
        err << "oidc-gateway: thumbprint needs HOST[:PORT] or --config FILE\n";
        return 2;
    }
    std::string error;
    if (!options.ca_file.empty() && load_certificate_chain(options.ca_file, &error).empty()) {
        err << "oidc-gateway: --ca: " << error << "\n";
        return 2;
    }
    return served_thumbprints(options, out, err);
}

}  // namespace oidcgw
