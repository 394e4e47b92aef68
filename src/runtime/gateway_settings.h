// What the gateway's start and reload derive from a Config for the parts they wire: the issuers'
// names, the public TLS profile, connection deadlines, the health listener's admission, the public
// sockets' options and how the publication is served.
#pragma once

#include "config/config.h"
#include "edge/listen_socket.h"
#include "edge/server_loop.h"
#include "edge/tls_server_context.h"
#include "publish/publication_assembly.h"

#include <memory>
#include <string>
#include <vector>

namespace oidcgw {

std::vector<std::string> issuer_names(const Config& config);
std::vector<IssuerUrl> issuer_urls(const Config& config);
PublicTlsProfile tls_profile(const Config& config);
ConnectionDeadlines deadlines_from(const Config& config);
// The health listener's admission: its own caps, the public side's rate per address.
ConnectionLimits health_limits(const ConnectionLimits& limits);
ListenSocketOptions public_socket_options(const ConnectionDeadlines& deadlines);
PublicationSettings publication_settings(const Config& config);

// Whether config.public_certificates stands for config.certificates, one for one (a Config from
// load_config_file; not one parsed from text, or one whose certificates were changed since).
bool has_loaded_certificates(const Config& config);
// The public TLS context: from the certificates load_config_file read and checked when there are
// (each file read once per start or reload), else from the files.
// `acme`: the ACME certificate and challenges, when tls.acme is set.
SharedSslCtx public_tls_context(const Config& config,
                                std::shared_ptr<SessionTicketKeys> ticket_keys,
                                const AcmeTlsInputs& acme, std::vector<std::string>* warnings,
                                std::string* error);

}  // namespace oidcgw
