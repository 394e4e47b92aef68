// ACME Renewal Information (RFC 9773): the identifier a CA knows a certificate by, the window it
// suggests renewing in, and a time picked inside that window.
#pragma once

#include <openssl/x509.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// RFC 9773 §4.1: base64url(the Authority Key Identifier's keyIdentifier) + "." +
// base64url(the serial's DER INTEGER content, a leading 0x00 kept). nullopt when the certificate
// has no AKI keyIdentifier.
std::optional<std::string> ari_certificate_id(X509* certificate);

struct RenewalWindow {
    std::time_t start = 0;
    std::time_t end = 0;
};

// The suggestedWindow of a renewalInfo response: {"suggestedWindow":{"start":…,"end":…},…} with
// RFC 3339 times. nullopt with *error naming the reason when the body is not a JSON object, the
// window or a time is missing or not RFC 3339, or the end is not after the start.
std::optional<RenewalWindow> parse_renewal_info(std::string_view body, std::string* error);

// start + (end - start) * uniform01, the uniformly random point RFC 9773 §4.2 asks clients to
// renew at; uniform01 is clamped to [0, 1].
std::time_t pick_renewal_time(const RenewalWindow& window, double uniform01);

}  // namespace oidcgw
