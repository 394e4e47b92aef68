// The public side's TLS: Mozilla "intermediate" (TLS 1.2 and 1.3, ECDHE with AEAD only), or TLS
// 1.3 only; the configured chains served exactly as given, chosen by SNI; HTTP/1.1 ALPN; session
// resumption with tickets under the gateway's own keys and a TLS 1.2 session cache.
#pragma once

#include "common/certificate_chain.h"
#include "common/raii.h"
#include "config/config.h"
#include "edge/client_hello.h"
#include "edge/session_tickets.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

class TlsAlpnChallenges;

// Shared between workers; each SSL holds its own reference (OpenSSL's count), so a context can
// be replaced while connections made with the old one carry on. Everything the context needs
// (the per-name sub-contexts, the SNI table, the ticket keys) lives as long as that count.
using SharedSslCtx = std::shared_ptr<SSL_CTX>;

// TLS 1.2 sessions kept for resumption by session ID (clients without tickets), per context.
inline constexpr long kTls12SessionCacheSize = 20'000;

// How long a session (ticket or cache entry) may be resumed. Equal to the ticket keys' rotation
// period, so a ticket never outlives the key that decrypts it.
inline constexpr std::chrono::seconds kSessionLifetime = SessionTicketKeys::kDefaultRotationPeriod;

// The configuration's choices within the fixed profile (tls.min_version,
// tls.session_resumption). Converts from a TlsMinVersion alone, resumption on.
struct PublicTlsProfile {
    PublicTlsProfile(TlsMinVersion version = TlsMinVersion::Tls12, bool resumption = true)
        : min_version(version), session_resumption(resumption) {}
    TlsMinVersion min_version;
    // Off: no session tickets (SSL_OP_NO_TICKET, none issued in TLS 1.3) and no TLS 1.2 session
    // cache, so every connection makes a full handshake.
    bool session_resumption;
};

// Builds the context every public listener uses.
//
// Certificates are grouped by their set of DNS subjectAltNames (compared case-insensitively):
// one group may hold one certificate per key type (an RSA and an ECDSA one, say), and the client's
// signature algorithms pick among them, ECDSA first. The group served is the first whose names
// match the client's SNI exactly, else the first with a matching wildcard, else the group of
// certificates[0] (also when the client sends no SNI).
//
// Each certificate is loaded and checked by load_certificate_material (common/certificate_chain.h),
// each file read once: the key matches, the chain runs leaf → issuers, and the leaf has not
// expired (an error naming `tls.certificates[i].certificate` and the date). One that expires
// within kCertificateExpiryWarning, or is not valid yet, adds a line to *warnings (which is
// cleared first).
//
// `ticket_keys` (required) encrypts session tickets; pass the same object to every build so
// that tickets survive reloads. `acme` adds what the ACME client gives (below). Returns null with
// *error naming the config key on failure.
struct AcmeTlsInputs;
SharedSslCtx build_public_tls_context(const std::vector<CertificateFiles>& certificates,
                                      PublicTlsProfile profile,
                                      std::shared_ptr<SessionTicketKeys> ticket_keys,
                                      const AcmeTlsInputs& acme, std::vector<std::string>* warnings,
                                      std::string* error);

// What the public context takes from the ACME client (tls.acme).
struct AcmeTlsInputs {
    // The ACME certificate: its group comes first, so it is what clients without SNI get, and it
    // wins over a configured certificate for the same names. Null until one is issued.
    std::shared_ptr<const CertificateMaterial> certificate;
    // Set: handshakes whose ALPN offers `acme-tls/1` are answered from here (RFC 8737), and the
    // context may be built with no certificate at all (normal handshakes then fail).
    std::shared_ptr<const TlsAlpnChallenges> challenges;
};

// The same from material already loaded (certificates[i] standing for tls.certificates[i]), so a
// caller that loaded it for its own checks need not read the files again. The expiry check and
// the warnings are made again here, at the time of the build; the context takes its own
// references, so the material may go once this returns.
//
// With `acme.challenges`, a ClientHello offering `acme-tls/1` as its only protocol gets, for a
// name with a pending challenge, the challenge certificate alone (no chain, no session
// resumption, no ticket) and `acme-tls/1` selected; for any other name, or with `acme-tls/1`
// among other protocols, the handshake fails. Without it, acme-tls/1 is never selected.
SharedSslCtx build_public_tls_context(
    const std::vector<std::shared_ptr<const CertificateMaterial>>& certificates,
    PublicTlsProfile profile, std::shared_ptr<SessionTicketKeys> ticket_keys,
    const AcmeTlsInputs& acme, std::vector<std::string>* warnings, std::string* error);

}  // namespace oidcgw
