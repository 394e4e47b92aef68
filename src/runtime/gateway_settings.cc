#include "runtime/gateway_settings.h"

#include <chrono>

namespace oidcgw {

std::vector<std::string> issuer_names(const Config& config) {
    std::vector<std::string> names;
    for (const IssuerConfig& issuer : config.issuers) names.push_back(issuer.issuer.text);
    return names;
}

std::vector<IssuerUrl> issuer_urls(const Config& config) {
    std::vector<IssuerUrl> urls;
    for (const IssuerConfig& issuer : config.issuers) urls.push_back(issuer.issuer);
    return urls;
}

PublicTlsProfile tls_profile(const Config& config) {
    return {config.tls_min_version, config.tls_session_resumption};
}

ConnectionDeadlines deadlines_from(const Config& config) {
    // The configured timeouts are the edge's deadlines plus worker_stall, which the loops
    // do not enforce themselves.
    return static_cast<const ConnectionDeadlines&>(config.timeouts);
}

ConnectionLimits health_limits(const ConnectionLimits& limits) {
    ConnectionLimits health = limits;
    health.max_connections = limits.health_max_connections;
    health.max_connections_per_ip = limits.health_max_connections_per_ip;
    // The private side's neighbours (scrapers, probes, pods of one node) often share a /64:
    // counted per address there.
    health.ipv6_prefix_length = 128;
    return health;
}

ListenSocketOptions public_socket_options(const ConnectionDeadlines& deadlines) {
    ListenSocketOptions options;
    options.reuse_port = true;
    options.defer_accept_seconds = static_cast<int>(
        std::chrono::duration_cast<std::chrono::seconds>(deadlines.handshake).count());
    return options;
}

PublicationSettings publication_settings(const Config& config) {
    PublicationSettings settings;
    settings.max_age = std::chrono::duration_cast<std::chrono::seconds>(config.max_age);
    settings.max_stale = std::chrono::duration_cast<std::chrono::seconds>(config.max_stale);
    settings.serve_stale = config.serve_stale;
    return settings;
}

bool has_loaded_certificates(const Config& config) {
    if (config.public_certificates.size() != config.certificates.size()) return false;
    for (std::size_t i = 0; i < config.certificates.size(); ++i) {
        const std::shared_ptr<const CertificateMaterial>& material = config.public_certificates[i];
        if (!material || material->certificate_path != config.certificates[i].certificate) {
            return false;
        }
    }
    return true;
}

SharedSslCtx public_tls_context(const Config& config,
                                std::shared_ptr<SessionTicketKeys> ticket_keys,
                                const AcmeTlsInputs& acme, std::vector<std::string>* warnings,
                                std::string* error) {
    if (has_loaded_certificates(config)) {
        return build_public_tls_context(config.public_certificates, tls_profile(config),
                                        std::move(ticket_keys), acme, warnings, error);
    }
    return build_public_tls_context(config.certificates, tls_profile(config),
                                    std::move(ticket_keys), acme, warnings, error);
}

}  // namespace oidcgw
