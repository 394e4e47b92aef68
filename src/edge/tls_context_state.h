// Private to src/edge: what a public TLS context carries (its ContextState, as SSL_CTX ex_data) and
// the callbacks that read the ClientHello (client_hello.cc) for the context builder
// (tls_server_context.cc).
#pragma once

#include "common/raii.h"
#include "edge/session_tickets.h"

#include <memory>
#include <string>
#include <vector>

namespace oidcgw {

class TlsAlpnChallenges;

namespace tls_context {

// One group of certificates for the same names, and what OpenSSL needs to find it again.
struct SniEntry {
    std::vector<std::string> dns_names;  // lowercased
    SSL_CTX* context = nullptr;          // owned by ContextState::sub_contexts, or the front
};

// Attached to every context (SSL_CTX ex_data) and freed with it, so callbacks running for a
// connection made just before a reload still find it.
struct ContextState {
    std::shared_ptr<SessionTicketKeys> ticket_keys;
    // Only on the front context (the one returned, serving certificates[0]'s group): every
    // group in configuration order, and the other groups' contexts, kept alive here.
    std::vector<SniEntry> sni_table;
    std::vector<SslCtxPtr> sub_contexts;
    // Only on the front context, with tls.acme: the pending TLS-ALPN-01 answers.
    std::shared_ptr<const TlsAlpnChallenges> acme_challenges;
};

// The ContextState a context carries (null for one not built by build_public_tls_context).
ContextState* context_state(SSL_CTX* context);
// The ex_data slot for ContextState, registered once per process.
int context_state_index();

// SSL_CTX_set_client_hello_cb on the front context (its state as the argument): answers a
// TLS-ALPN-01 validator, else switches to the certificate group the SNI names.
int on_client_hello(SSL* ssl, int* alert, void* front_state);
// SSL_CTX_set_tlsext_servername_callback: the name was used already by on_client_hello.
int acknowledge_server_name(SSL* ssl, int* alert, void* argument);
// SSL_CTX_set_alpn_select_cb on every context: http/1.1, or acme-tls/1 for a validator only.
int select_protocol(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* offered, unsigned int offered_length, void* argument);

}  // namespace tls_context
}  // namespace oidcgw
