// The JOSE pieces an ACME client signs with (RFC 8555 §6.2): the account key as a JWK and its
// thumbprint (RFC 7517, 7638), ES256 signatures (RFC 7518 §3.4), flattened JWS requests
// (RFC 7515 §7.2.2), the external account binding (RFC 8555 §7.3.4), and key authorizations.
#pragma once

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {

// The public JWK of an EC P-256 key: exactly {"crv":"P-256","kty":"EC","x":…,"y":…}, each
// coordinate the full 32 bytes (left-padded with zeros). A null json for any other key.
nlohmann::json account_jwk(EVP_PKEY* key);

// RFC 7638: base64url(SHA-256) of the key's required members (EC: crv, kty, x, y; RSA: e, kty, n;
// OKP: crv, kty, x; oct: k, kty) in lexicographic order without whitespace. "" when a required
// member is missing or not a string, or the kty is none of these.
std::string jwk_thumbprint(const nlohmann::json& jwk);

// An ES256 signature of `signing_input` in JWS form: R||S, each left-padded to 32 bytes (64 in
// all), not DER. nullopt when `key` is not an EC P-256 private key or OpenSSL fails.
std::optional<std::string> sign_es256(EVP_PKEY* key, std::string_view signing_input);

// The body of an ACME request: the JSON text {"protected":…,"payload":…,"signature":…} with
// protected = base64url(protected_header.dump()), payload = base64url(payload) ("" stays "",
// POST-as-GET; "{}" becomes "e30") and the ES256 signature of protected + "." + payload. The
// header must be an object whose "alg" is "ES256"; the caller adds nonce, url and jwk or kid.
std::optional<std::string> flattened_jws(EVP_PKEY* key, const nlohmann::json& protected_header,
                                         std::string_view payload, std::string* error);

// The "externalAccountBinding" member of a newAccount payload: a flattened JWS object (not text)
// with protected {"alg":"HS256","kid":key_id,"url":new_account_url} (no nonce), payload
// base64url(account_jwk.dump()) and an HMAC-SHA256 signature keyed with the raw `mac_key` bytes
// (the caller decodes the CA's base64url key). A null json when `mac_key` is empty or a text is
// not UTF-8.
nlohmann::json external_account_binding(std::string_view key_id, std::string_view mac_key,
                                        const nlohmann::json& account_jwk,
                                        std::string_view new_account_url);

// RFC 8555 §8.1: token + "." + the account key's thumbprint.
std::string key_authorization(std::string_view token, std::string_view account_thumbprint);

}  // namespace oidcgw
