// The ACME server's answers (RFC 8555 section 7), read into what the client needs. Pure: bytes from
// the CA in, a struct or a reason out; every URL must be https, every token base64url, every
// list and string bounded, so a hostile or broken CA cannot steer the client anywhere else.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {

// The largest JSON answer the client reads (an order with 100 names is about 10 KiB).
inline constexpr std::size_t kMaxAcmeJsonBytes = 256 * 1024;

struct AcmeDirectory {
    std::string new_nonce;
    std::string new_account;
    std::string new_order;
    std::string renewal_info;  // "" when the CA offers no ARI (RFC 9773)
    bool external_account_required = false;
};

// An RFC 7807 problem document as ACME uses it (section 6.7).
struct AcmeProblem {
    std::string type;  // "urn:ietf:params:acme:error:badNonce"; "" when the body had none
    std::string detail;
    int status = 0;
    // The type without the ACME prefix ("badNonce"), or the whole type for others.
    std::string short_type() const;
    // "badNonce: <detail>", escaped for a log line or /status.
    std::string summary() const;
};

struct AcmeChallenge {
    std::string type;
    std::string url;
    std::string token;  // base64url; checked only for tls-alpn-01 challenges
    std::string status;
    std::optional<AcmeProblem> error;
};

struct AcmeAuthorization {
    std::string status;      // pending, valid, invalid, deactivated, expired, revoked
    std::string identifier;  // the DNS name, lowercased
    std::vector<AcmeChallenge> challenges;
};

struct AcmeOrder {
    std::string status;  // pending, ready, processing, valid, invalid
    std::vector<std::string> authorizations;
    std::string finalize;
    std::string certificate;  // once valid
    std::optional<AcmeProblem> error;
};

std::optional<AcmeDirectory> parse_acme_directory(std::string_view body, std::string* error);
std::optional<AcmeOrder> parse_acme_order(std::string_view body, std::string* error);
std::optional<AcmeAuthorization> parse_acme_authorization(std::string_view body,
                                                          std::string* error);
// Whatever of a problem document can be read; a body that is not one gives a problem with only
// `status` set.
AcmeProblem parse_acme_problem(std::string_view body, int status);

// The newOrder payload (RFC 8555 section 7.4): a DNS identifier per name, and `replaces` (the
// predecessor's ARI certificate ID, RFC 9773 section 5) only when the CA offers renewalInfo and
// there is a predecessor.
std::string new_order_payload(const std::vector<std::string>& names, const std::string& replaces,
                              bool ca_offers_renewal_info);

// An https URL (by the gateway's one URL grammar, at most 2 KiB) the client may be sent to.
bool is_acme_url(std::string_view text);

// The tls-alpn-01 challenge of an authorization, or null.
const AcmeChallenge* tls_alpn_challenge(const AcmeAuthorization& authorization);

}  // namespace oidcgw
