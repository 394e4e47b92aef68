#include "edge/tls_server_context.h"

#include "edge/tls_context_state.h"

#include "common/ascii.h"
#include "common/certificate_chain.h"
#include "common/digest.h"
#include "common/text_escape.h"
#include "common/utc_time.h"

#include <openssl/err.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <utility>

namespace oidcgw {
namespace tls_context {
namespace {

void free_context_state(void* /*parent*/, void* state, CRYPTO_EX_DATA* /*data*/, int /*index*/,
                        long /*argl*/, void* /*argp*/) {
    delete static_cast<ContextState*>(state);
}

}  // namespace

// Registered once per process (OpenSSL keeps it for good).
int context_state_index() {
    static const int index =
        SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_context_state);
    return index;
}

ContextState* context_state(SSL_CTX* context) {
    return static_cast<ContextState*>(SSL_CTX_get_ex_data(context, context_state_index()));
}

}  // namespace tls_context

namespace {

using tls_context::context_state;
using tls_context::context_state_index;
using tls_context::ContextState;
using tls_context::SniEntry;

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

std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

// The leaf's DNS subjectAltNames, lowercased, sorted, without duplicates: the group key.
std::vector<std::string> group_key_of(const std::vector<std::string>& dns_names) {
    std::vector<std::string> names;
    for (const std::string& name : dns_names) names.push_back(to_lower_ascii(name));
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
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
    SSL_CTX_set_alpn_select_cb(ctx, tls_context::select_protocol, nullptr);

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
        SSL_CTX_set_client_hello_cb(front, tls_context::on_client_hello, front_state);
        SSL_CTX_set_tlsext_servername_callback(front, tls_context::acknowledge_server_name);
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
