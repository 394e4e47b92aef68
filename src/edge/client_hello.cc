// The ClientHello, read before any certificate is chosen: the server_name and ALPN extensions
// (pure readers of the client's bytes), the certificate group the SNI names, and the answer to a
// TLS-ALPN-01 validator.
#include "edge/client_hello.h"

#include "acme/tls_alpn_challenges.h"
#include "common/ascii.h"
#include "edge/tls_context_state.h"

#include <openssl/err.h>
#include <openssl/rand.h>

namespace oidcgw {
namespace {

// The per-connection ex_data slot marking a handshake that answers a TLS-ALPN-01 challenge.
int acme_challenge_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

constexpr std::string_view kAcmeTls1 = "acme-tls/1";

bool is_wildcard(std::string_view pattern) {
    return pattern.find('*') != std::string_view::npos;
}

}  // namespace

namespace tls_context {

int select_protocol(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* offered, unsigned int offered_length, void*) {
    if (is_acme_challenge_handshake(ssl)) {
        *out = reinterpret_cast<const unsigned char*>(kAcmeTls1.data());
        *out_length = static_cast<unsigned char>(kAcmeTls1.size());
        return SSL_TLSEXT_ERR_OK;
    }
    // Never acme-tls/1 here: only a pending challenge answers that protocol.
    static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, kHttp11, sizeof kHttp11, offered,
                              offered_length) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    // A client that offers only h2 still gets HTTP/1.1 without ALPN rather than a failed
    // handshake.
    return SSL_TLSEXT_ERR_NOACK;
}

namespace {

SSL_CTX* context_for_server_name(const ContextState& front, std::string_view server_name) {
    for (const bool wildcard_pass : {false, true}) {
        for (const SniEntry& entry : front.sni_table) {
            for (const std::string& name : entry.dns_names) {
                if (is_wildcard(name) == wildcard_pass && dns_name_matches(name, server_name)) {
                    return entry.context;
                }
            }
        }
    }
    return nullptr;
}

// Runs before OpenSSL looks at the ClientHello's session ID, tickets or PSKs: switching the
// context here switches the certificates on offer and the session ID context with it, so a
// session made for one certificate group never resumes under another (RFC 6066 section 3). The
// servername callback would run only after the resumption decision.
std::optional<std::string> client_hello_server_name(SSL* ssl) {
    const unsigned char* extension = nullptr;
    std::size_t length = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &extension, &length) != 1) {
        return std::nullopt;
    }
    return host_name_from_server_name_extension(
        std::string_view(reinterpret_cast<const char*>(extension), length));
}

int select_certificate_by_client_hello(SSL* ssl, int* alert, const ContextState& front) {
    // No SNI: the front's certificates. A malformed extension is left to OpenSSL's own parser,
    // which refuses the handshake.
    const std::optional<std::string> server_name = client_hello_server_name(ssl);
    if (!server_name) return SSL_CLIENT_HELLO_SUCCESS;
    SSL_CTX* chosen = context_for_server_name(front, *server_name);
    if (chosen == nullptr || chosen == SSL_get_SSL_CTX(ssl)) return SSL_CLIENT_HELLO_SUCCESS;
    if (SSL_set_SSL_CTX(ssl, chosen) == nullptr) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

enum class ChallengeOutcome { NotAChallenge, Answered, Refused };

// A validator's ClientHello (ALPN `acme-tls/1` alone): the challenge certificate for its name
// replaces every configured certificate on this connection, which never resumes a session or
// gets a ticket (either would skip the Certificate message the validator checks).
ChallengeOutcome answer_acme_challenge(SSL* ssl, int* alert, const TlsAlpnChallenges& challenges) {
    const unsigned char* extension = nullptr;
    std::size_t length = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation,
                                  &extension, &length) != 1) {
        return ChallengeOutcome::NotAChallenge;
    }
    switch (acme_alpn_offer(std::string_view(reinterpret_cast<const char*>(extension), length))) {
        case AcmeAlpnOffer::NotOffered:
        case AcmeAlpnOffer::Malformed:  // OpenSSL's own parser refuses it
            return ChallengeOutcome::NotAChallenge;
        case AcmeAlpnOffer::AmongOthers:
            *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
            return ChallengeOutcome::Refused;
        case AcmeAlpnOffer::Only:
            break;
    }
    const std::optional<std::string> server_name = client_hello_server_name(ssl);
    const std::shared_ptr<const TlsAlpnAnswer> answer =
        server_name ? challenges.find(*server_name) : nullptr;
    if (!answer) {
        *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
        return ChallengeOutcome::Refused;
    }
    // A session ID context of its own, random: no later connection can resume this session
    // (TLS 1.2 caches it by ID), and it resumes nothing made for the configured certificates.
    unsigned char session_context[16];
    if (RAND_bytes(session_context, sizeof session_context) != 1) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return ChallengeOutcome::Refused;
    }
    // Any non-null pointer marks the connection; the protocol's name is one that lives for good.
    if (SSL_set_ex_data(ssl, acme_challenge_index(), const_cast<char*>(kAcmeTls1.data())) != 1) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return ChallengeOutcome::Refused;
    }
    SSL_certs_clear(ssl);  // no configured certificate may be chosen by the signature algorithms
    if (SSL_use_certificate(ssl, answer->certificate.get()) != 1 ||
        SSL_use_PrivateKey(ssl, answer->private_key.get()) != 1 ||
        SSL_set_session_id_context(ssl, session_context, sizeof session_context) != 1 ||
        SSL_set_num_tickets(ssl, 0) != 1) {
        ERR_clear_error();
        *alert = SSL_AD_INTERNAL_ERROR;
        return ChallengeOutcome::Refused;
    }
    SSL_set_options(ssl, SSL_OP_NO_TICKET);
    return ChallengeOutcome::Answered;
}

}  // namespace

// Runs before OpenSSL looks at the ClientHello's session ID, tickets or PSKs (see
// select_certificate_by_client_hello), and again after a HelloRetryRequest.
int on_client_hello(SSL* ssl, int* alert, void* front_state) {
    const auto& front = *static_cast<const ContextState*>(front_state);
    if (front.acme_challenges) {
        switch (answer_acme_challenge(ssl, alert, *front.acme_challenges)) {
            case ChallengeOutcome::Answered:
                return SSL_CLIENT_HELLO_SUCCESS;
            case ChallengeOutcome::Refused:
                return SSL_CLIENT_HELLO_ERROR;
            case ChallengeOutcome::NotAChallenge:
                break;
        }
    }
    if (front.sni_table.size() < 2) return SSL_CLIENT_HELLO_SUCCESS;
    return select_certificate_by_client_hello(ssl, alert, front);
}

// The name was used already (above); acknowledging it keeps the TLS 1.2 session's host name.
int acknowledge_server_name(SSL*, int*, void*) {
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace tls_context

std::optional<std::string> host_name_from_server_name_extension(std::string_view extension) {
    // ServerNameList: a 2-byte length, then entries of a 1-byte type and a 2-byte length each.
    const auto u16 = [&](std::size_t at) {
        return static_cast<std::size_t>(static_cast<unsigned char>(extension[at]) << 8 |
                                        static_cast<unsigned char>(extension[at + 1]));
    };
    if (extension.size() < 2 || u16(0) != extension.size() - 2) return std::nullopt;
    std::size_t at = 2;
    while (extension.size() - at >= 3) {
        const unsigned char type = static_cast<unsigned char>(extension[at]);
        const std::size_t length = u16(at + 1);
        at += 3;
        if (length > extension.size() - at) return std::nullopt;
        if (type == TLSEXT_NAMETYPE_host_name) {
            const std::string_view name = extension.substr(at, length);
            // RFC 6066: a DNS name, no NUL; OpenSSL refuses the rest later anyway.
            if (name.empty() || name.size() > 255 || name.find('\0') != std::string_view::npos) {
                return std::nullopt;
            }
            return std::string(name);
        }
        at += length;
    }
    return std::nullopt;
}

bool is_acme_challenge_handshake(SSL* ssl) {
    return SSL_get_ex_data(ssl, acme_challenge_index()) != nullptr;
}

AcmeAlpnOffer acme_alpn_offer(std::string_view extension) {
    // ProtocolNameList: a 2-byte length, then names of a 1-byte length (at least 1) each.
    if (extension.size() < 2) return AcmeAlpnOffer::Malformed;
    const std::size_t declared = static_cast<std::size_t>(
        static_cast<unsigned char>(extension[0]) << 8 | static_cast<unsigned char>(extension[1]));
    if (declared != extension.size() - 2 || declared == 0) return AcmeAlpnOffer::Malformed;
    bool acme = false;
    bool others = false;
    for (std::size_t at = 2; at < extension.size();) {
        const std::size_t length = static_cast<unsigned char>(extension[at]);
        ++at;
        if (length == 0 || length > extension.size() - at) return AcmeAlpnOffer::Malformed;
        (extension.substr(at, length) == kAcmeTls1 ? acme : others) = true;
        at += length;
    }
    if (!acme) return AcmeAlpnOffer::NotOffered;
    return others ? AcmeAlpnOffer::AmongOthers : AcmeAlpnOffer::Only;
}

bool dns_name_matches(std::string_view pattern, std::string_view host_name) {
    if (!host_name.empty() && host_name.back() == '.') host_name.remove_suffix(1);
    if (pattern.empty() || host_name.empty()) return false;
    if (!is_wildcard(pattern)) return equals_ignoring_ascii_case(pattern, host_name);
    // Only "*." followed by at least two labels, with no further '*'.
    if (pattern.substr(0, 2) != "*.") return false;
    const std::string_view suffix = pattern.substr(2);
    if (is_wildcard(suffix) || suffix.find('.') == std::string_view::npos ||
        suffix.front() == '.' || suffix.back() == '.') {
        return false;
    }
    const std::size_t first_dot = host_name.find('.');
    if (first_dot == 0 || first_dot == std::string_view::npos) return false;
    return equals_ignoring_ascii_case(host_name.substr(first_dot + 1), suffix);
}

}  // namespace oidcgw
