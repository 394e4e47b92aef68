#include "edge/tls_server_context.h"

#include "acme/tls_alpn_challenges.h"
#include "common/ascii.h"
#include "common/certificate_chain.h"
#include "common/digest.h"
#include "common/text_escape.h"
#include "common/utc_time.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <utility>

namespace oidcgw {
namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";
// Our order is the preference (SSL_OP_CIPHER_SERVER_PREFERENCE): an ECDSA certificate wins
// whenever the client accepts it, then Ed25519, then RSA (PSS before PKCS#1). No SHA-1/SHA-224.
constexpr const char* kSignatureAlgorithms =
    "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:ed448:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "RSA+SHA256:RSA+SHA384:RSA+SHA512";

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

void free_context_state(void* /*parent*/, void* state, CRYPTO_EX_DATA* /*data*/, int /*index*/,
                        long /*argl*/, void* /*argp*/) {
    delete static_cast<ContextState*>(state);
}

// The ex_data slot for ContextState, registered once per process (OpenSSL keeps it for good).
int context_state_index() {
    static const int index =
        SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_context_state);
    return index;
}

ContextState* context_state(SSL_CTX* context) {
    return static_cast<ContextState*>(SSL_CTX_get_ex_data(context, context_state_index()));
}

// The per-connection ex_data slot marking a handshake that answers a TLS-ALPN-01 challenge.
int acme_challenge_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

constexpr std::string_view kAcmeTls1 = "acme-tls/1";

std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

bool is_wildcard(std::string_view pattern) {
    return pattern.find('*') != std::string_view::npos;
}

// The leaf's DNS subjectAltNames, lowercased, sorted, without duplicates: the group key.
std::vector<std::string> group_key_of(const std::vector<std::string>& dns_names) {
    std::vector<std::string> names;
    for (const std::string& name : dns_names) names.push_back(to_lower_ascii(name));
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

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

// OpenSSL calls this on the context the connection started with (its session context) but
// passes the connection, whose context SNI may have switched: every context carries the keys.
int ticket_key_callback(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypting) {
    const ContextState* state = context_state(SSL_get_SSL_CTX(ssl));
    if (state == nullptr || !state->ticket_keys) return -1;
    if (encrypting != 0) return state->ticket_keys->encrypt(key_name, iv, cipher, mac);
    const int result = state->ticket_keys->decrypt(key_name, iv, cipher, mac);
    // TLS 1.3 clients use a ticket once (RFC 8446 C.4): without a fresh one after each
    // resumption, every other reconnect would be a full handshake.
    if (result == 1 && SSL_version(ssl) == TLS1_3_VERSION) return 2;
    return result;
}

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

// A group's session ID context: a digest of its names, so it stays the same across reloads and
// configuration order, and differs between groups (which never share the same names).
void set_group_session_context(SSL_CTX* context, const std::vector<std::string>& dns_names) {
    std::string joined;
    for (const std::string& name : dns_names) joined += name + "\n";
    const std::string id = "oidc-gateway " + sha256_hex(joined, 9);
    SSL_CTX_set_session_id_context(context, reinterpret_cast<const unsigned char*>(id.data()),
                                   static_cast<unsigned int>(id.size()));
}

// A context with the whole profile and no certificate. Every group's context gets the same
// profile: after an SNI switch OpenSSL reads some settings (ciphers, ALPN, sigalgs) from the new
// context and others (versions, options, session cache, tickets) from the first.
SslCtxPtr new_profile_context(const PublicTlsProfile& profile,
                              const std::shared_ptr<SessionTicketKeys>& ticket_keys,
                              std::string* error) {
    SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
    if (!context) {
        *error = "tls: cannot create a TLS context: " + openssl_error();
        return nullptr;
    }
    SSL_CTX* ctx = context.get();
    const int state_index = context_state_index();
    auto* state = new ContextState{ticket_keys, {}, {}, {}};
    if (state_index < 0 || SSL_CTX_set_ex_data(ctx, state_index, state) != 1) {
        delete state;
        *error = "tls: cannot attach state to a TLS context: " + openssl_error();
        return nullptr;
    }
    // Versions: TLS 1.2 stays by default (AWS falls back to thumbprints with 1.3 alone).
    const int minimum =
        profile.min_version == TlsMinVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, minimum) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        *error = "tls: cannot set the protocol versions: " + openssl_error();
        return nullptr;
    }
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // No SSL_MODE_RELEASE_BUFFERS: the server loop frees the buffers of idle connections itself
    // (see ServerLoop::on_buffer_sweep), without an allocation per record on busy ones.
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // One read() per burst of records instead of one for each record's header and another for its
    // body; the server loop asks SSL_has_pending before waiting for the socket again.
    SSL_CTX_set_read_ahead(ctx, 1);
    // No 0-RTT: early data is replayable.
    SSL_CTX_set_max_early_data(ctx, 0);
    SSL_CTX_set_recv_max_early_data(ctx, 0);
    if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
        SSL_CTX_set1_groups_list(ctx, kGroups) != 1 ||
        SSL_CTX_set1_sigalgs_list(ctx, kSignatureAlgorithms) != 1) {
        *error = "tls: cannot set the cipher profile: " + openssl_error();
        return nullptr;
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_protocol, nullptr);

    // Resumption: TLS 1.3 and 1.2 tickets under the gateway's keys; session IDs for TLS 1.2
    // clients without tickets. One TLS 1.3 ticket per handshake: the fetchers reconnect one at a
    // time, and every ticket costs bytes on each full handshake.
    if (!profile.session_resumption) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        if (SSL_CTX_set_num_tickets(ctx, 0) != 1) {
            *error = "tls: cannot turn session tickets off: " + openssl_error();
            return nullptr;
        }
        return context;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, kTls12SessionCacheSize);
    SSL_CTX_set_timeout(ctx, static_cast<long>(kSessionLifetime.count()));
    if (SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_callback) != 1) {
        *error = "tls: cannot set up session tickets: " + openssl_error();
        return nullptr;
    }
    return context;
}

std::string config_key(std::size_t index) {
    return "tls.certificates[" + std::to_string(index) + "]";
}

struct LoadedCertificate {
    std::string key;  // tls.certificates[i], or tls.acme
    const CertificateMaterial* material = nullptr;
    int key_type = 0;
    std::vector<std::string> dns_names;  // the group key (group_key_of)
};

// What follows loading, for the certificate configured at `key`: the expiry check, the warnings,
// the key type and the group key.
bool accept_certificate(const CertificateMaterial& material, const std::string& key,
                        std::time_t now, LoadedCertificate* loaded,
                        std::vector<std::string>* warnings, std::string* error) {
    loaded->key = key;
    loaded->material = &material;
    if (const auto expired = check_not_expired(material, now)) {
        *error = key + ".certificate: " + expired->message;
        return false;
    }
    const std::string described = "certificate " + quote_path(material.subject) + " in " +
                                  quote_path(material.certificate_path);
    const std::time_t not_after = material.not_after;
    const auto warn_within =
        std::chrono::duration_cast<std::chrono::seconds>(kCertificateExpiryWarning);
    if (not_after - now <= warn_within.count()) {
        const long days = static_cast<long>((not_after - now) / 86400);
        warnings->push_back(key + ".certificate: " + described + " expires on " +
                            utc_readable(not_after) + " (in " + std::to_string(days) +
                            (days == 1 ? " day)" : " days)"));
    }
    const std::time_t not_before = material.not_before;
    if (not_before > now) {
        warnings->push_back(key + ".certificate: " + described + " is not valid before " +
                            utc_readable(not_before) + " (notBefore)");
    }
    loaded->key_type = EVP_PKEY_get_base_id(material.private_key.get());
    loaded->dns_names = group_key_of(material.dns_names);
    if (loaded->dns_names.empty() && key != config_key(0)) {
        warnings->push_back(key + ".certificate: " + described +
                            " has no DNS subjectAltName, so no SNI selects it");
    }
    return true;
}

// SSL_CTX_use_certificate selects the slot for the key's type; the chain certificates added
// next belong to that slot, so RSA and ECDSA chains stay separate.
bool add_certificate(SSL_CTX* ctx, const LoadedCertificate& certificate, std::string* error) {
    const std::string& key = certificate.key;
    const CertificateMaterial& material = *certificate.material;
    if (SSL_CTX_use_certificate(ctx, material.leaf()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, material.private_key.get()) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        *error = key + ": " + openssl_error();
        return false;
    }
    SSL_CTX_clear_chain_certs(ctx);
    for (std::size_t c = 1; c < material.chain.size(); ++c) {
        if (SSL_CTX_add1_chain_cert(ctx, material.chain[c].get()) != 1) {
            *error = key + ".certificate: " + openssl_error();
            return false;
        }
    }
    return true;
}

}  // namespace

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

namespace {

// Checks and groups the certificates `material_at` gives, one index after the other, in
// configuration order (so the first problem in that order is the one reported), and builds the
// contexts. `material_at` returns null with *error set when tls.certificates[index] cannot load.
using MaterialSource = std::function<const CertificateMaterial*(std::size_t, std::string*)>;

SharedSslCtx build_context(std::size_t count, const MaterialSource& material_at,
                           PublicTlsProfile profile,
                           const std::shared_ptr<SessionTicketKeys>& ticket_keys,
                           const AcmeTlsInputs& acme, std::vector<std::string>* warnings,
                           std::string* error) {
    warnings->clear();
    if (!ticket_keys) {
        *error = "tls: no session ticket keys given";
        return nullptr;
    }
    if (count == 0 && !acme.certificate && !acme.challenges) {
        *error = "tls.certificates: at least one certificate is needed";
        return nullptr;
    }

    // Check every certificate, then group them by names, in configuration order. The ACME
    // certificate is a group of its own, first, so that it wins for its names.
    const std::time_t now = std::time(nullptr);
    std::vector<std::vector<LoadedCertificate>> groups;
    if (acme.certificate) {
        LoadedCertificate loaded;
        if (!accept_certificate(*acme.certificate, "tls.acme", now, &loaded, warnings, error)) {
            return nullptr;
        }
        groups.push_back({std::move(loaded)});
    }
    const std::size_t first_configured = groups.size();
    for (std::size_t i = 0; i < count; ++i) {
        const CertificateMaterial* material = material_at(i, error);
        if (material == nullptr) return nullptr;
        LoadedCertificate loaded;
        if (!accept_certificate(*material, config_key(i), now, &loaded, warnings, error)) {
            return nullptr;
        }
        auto group = std::find_if(
            groups.begin() + static_cast<std::ptrdiff_t>(first_configured), groups.end(),
            [&](const auto& members) { return members.front().dns_names == loaded.dns_names; });
        if (group == groups.end()) {
            groups.emplace_back();
            group = groups.end() - 1;
        }
        for (const LoadedCertificate& member : *group) {
            if (member.key_type == loaded.key_type) {
                *error = config_key(i) + ": the same names and key type as " + member.key +
                         "; combine at most one certificate per key type (RSA, ECDSA) for the "
                         "same names";
                return nullptr;
            }
        }
        group->push_back(std::move(loaded));
    }

    std::vector<SslCtxPtr> contexts;
    if (groups.empty()) {  // ACME only, before its first certificate: challenges alone
        SslCtxPtr context = new_profile_context(profile, ticket_keys, error);
        if (!context) return nullptr;
        contexts.push_back(std::move(context));
    }
    for (const auto& members : groups) {
        SslCtxPtr context = new_profile_context(profile, ticket_keys, error);
        if (!context) return nullptr;
        for (const LoadedCertificate& member : members) {
            if (!add_certificate(context.get(), member, error)) return nullptr;
        }
        set_group_session_context(context.get(), members.front().dns_names);
        contexts.push_back(std::move(context));
    }

    // The first group's context is the one connections start with; it finds the others by SNI.
    SSL_CTX* front = contexts.front().get();
    ContextState* front_state = context_state(front);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        front_state->sni_table.push_back(SniEntry{groups[g].front().dns_names, contexts[g].get()});
    }
    front_state->acme_challenges = acme.challenges;
    if (groups.size() > 1 || acme.challenges) {
        SSL_CTX_set_client_hello_cb(front, on_client_hello, front_state);
        SSL_CTX_set_tlsext_servername_callback(front, acknowledge_server_name);
    }
    for (std::size_t g = 1; g < contexts.size(); ++g) {
        front_state->sub_contexts.push_back(std::move(contexts[g]));
    }
    return SharedSslCtx(contexts.front().release(), SSL_CTX_free);
}

}  // namespace

SharedSslCtx build_public_tls_context(const std::vector<CertificateFiles>& certificates,
                                      PublicTlsProfile profile,
                                      std::shared_ptr<SessionTicketKeys> ticket_keys,
                                      const AcmeTlsInputs& acme, std::vector<std::string>* warnings,
                                      std::string* error) {
    // Each certificate's files are read once, as its turn comes.
    std::vector<CertificateMaterial> loaded;
    loaded.reserve(certificates.size());  // the groups point into it
    const auto load = [&](std::size_t index, std::string* problem) -> const CertificateMaterial* {
        CertificateLoad result = load_certificate_material(
            certificates[index].certificate, certificates[index].private_key, std::nullopt);
        if (!result) {
            const bool about_key = result.error.file == CertificateFile::PrivateKey;
            *problem = config_key(index) + (about_key ? ".private_key: " : ".certificate: ") +
                       result.error.message;
            return nullptr;
        }
        loaded.push_back(std::move(*result.material));
        return &loaded.back();
    };
    return build_context(certificates.size(), load, profile, ticket_keys, acme, warnings, error);
}

SharedSslCtx build_public_tls_context(
    const std::vector<std::shared_ptr<const CertificateMaterial>>& certificates,
    PublicTlsProfile profile, std::shared_ptr<SessionTicketKeys> ticket_keys,
    const AcmeTlsInputs& acme, std::vector<std::string>* warnings, std::string* error) {
    const auto given = [&](std::size_t index, std::string*) { return certificates[index].get(); };
    return build_context(certificates.size(), given, profile, ticket_keys, acme, warnings, error);
}

}  // namespace oidcgw
