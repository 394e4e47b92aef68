#include "acme/jose.h"

#include "common/base64url.h"
#include "common/digest.h"
#include "common/error_report.h"
#include "common/raii.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <array>
#include <span>

namespace oidcgw {
namespace {

using nlohmann::json;

constexpr std::size_t kP256CoordinateBytes = 32;

bool is_p256_key(EVP_PKEY* key) {
    if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1) return false;
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1) {
        ERR_clear_error();
        return false;
    }
    return OBJ_txt2nid(group.data()) == NID_X9_62_prime256v1;
}

// A P-256 number as its fixed-width big-endian bytes: JOSE never drops leading zeros.
std::optional<std::string> coordinate_bytes(const BIGNUM* number) {
    std::string bytes(kP256CoordinateBytes, '\0');
    if (BN_bn2binpad(number, reinterpret_cast<unsigned char*>(bytes.data()),
                     static_cast<int>(bytes.size())) != static_cast<int>(bytes.size())) {
        return std::nullopt;
    }
    return bytes;
}

std::optional<std::string> public_coordinate(EVP_PKEY* key, const char* name) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    const BignumPtr number(raw);
    return coordinate_bytes(number.get());
}

// The members RFC 7638 §3.2 hashes, per key type; empty for a type it does not define.
std::span<const char* const> thumbprint_members(const std::string& kty) {
    static constexpr const char* kEc[] = {"crv", "kty", "x", "y"};
    static constexpr const char* kRsa[] = {"e", "kty", "n"};
    static constexpr const char* kOkp[] = {"crv", "kty", "x"};
    static constexpr const char* kOct[] = {"k", "kty"};
    if (kty == "EC") return kEc;
    if (kty == "RSA") return kRsa;
    if (kty == "OKP") return kOkp;
    if (kty == "oct") return kOct;
    return {};
}

}  // namespace

json account_jwk(EVP_PKEY* key) {
    if (!is_p256_key(key)) return nullptr;
    const std::optional<std::string> x = public_coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X);
    const std::optional<std::string> y = public_coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y);
    if (!x || !y) return nullptr;
    return {
        {"crv", "P-256"}, {"kty", "EC"}, {"x", encode_base64url(*x)}, {"y", encode_base64url(*y)}};
}

std::string jwk_thumbprint(const json& jwk) {
    if (!jwk.is_object()) return "";
    const auto kty = jwk.find("kty");
    if (kty == jwk.end() || !kty->is_string()) return "";
    const std::span<const char* const> names = thumbprint_members(kty->get<std::string>());
    if (names.empty()) return "";
    // nlohmann::json keeps object members sorted by name and dump() adds no whitespace: exactly
    // the canonical form RFC 7638 §3.3 asks for.
    json required = json::object();
    for (const char* name : names) {
        const auto member = jwk.find(name);
        if (member == jwk.end() || !member->is_string()) return "";
        required[name] = *member;
    }
    try {
        return encode_base64url(sha256_bytes(required.dump()));
    } catch (const json::exception&) {
        return "";  // a member that is not UTF-8
    }
}

std::optional<std::string> sign_es256(EVP_PKEY* key, std::string_view signing_input) {
    if (!is_p256_key(key)) return std::nullopt;
    const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
    EvpMdCtxPtr context(EVP_MD_CTX_new());
    std::size_t der_length = 0;
    if (!context || EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(context.get(), nullptr, &der_length, input, signing_input.size()) != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    std::string der(der_length, '\0');
    if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(der.data()), &der_length,
                       input, signing_input.size()) != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    // OpenSSL signs in DER (SEQUENCE of two INTEGERs); JWS wants the two numbers side by side.
    const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
    const EcdsaSigPtr signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_length)));
    if (!signature) {
        ERR_clear_error();
        return std::nullopt;
    }
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(signature.get(), &r, &s);
    const std::optional<std::string> r_bytes = coordinate_bytes(r);
    const std::optional<std::string> s_bytes = coordinate_bytes(s);
    if (!r_bytes || !s_bytes) return std::nullopt;
    return *r_bytes + *s_bytes;
}

std::optional<std::string> flattened_jws(EVP_PKEY* key, const json& protected_header,
                                         std::string_view payload, std::string* error) {
    const auto alg =
        protected_header.is_object() ? protected_header.find("alg") : protected_header.end();
    if (!protected_header.is_object() || alg == protected_header.end() || *alg != "ES256") {
        fail(error, "the protected header is not an object with \"alg\":\"ES256\"");
        return std::nullopt;
    }
    std::string header_text;
    try {
        header_text = protected_header.dump();
    } catch (const json::exception&) {
        fail(error, "the protected header holds text that is not UTF-8");
        return std::nullopt;
    }
    if (!is_p256_key(key)) {
        fail(error, "the account key is not an EC P-256 key");
        return std::nullopt;
    }
    const std::string encoded_header = encode_base64url(header_text);
    const std::string encoded_payload = encode_base64url(payload);
    const std::optional<std::string> signature =
        sign_es256(key, encoded_header + "." + encoded_payload);
    if (!signature) {
        fail(error, "OpenSSL could not sign the request with the account key");
        return std::nullopt;
    }
    // Members in the order RFC 8555's examples show, so a logged request reads like them.
    nlohmann::ordered_json body;
    body["protected"] = encoded_header;
    body["payload"] = encoded_payload;
    body["signature"] = encode_base64url(*signature);
    return body.dump();
}

json external_account_binding(std::string_view key_id, std::string_view mac_key,
                              const json& account_jwk, std::string_view new_account_url) {
    if (mac_key.empty() || !account_jwk.is_object()) return nullptr;
    const json header = {
        {"alg", "HS256"}, {"kid", std::string(key_id)}, {"url", std::string(new_account_url)}};
    std::string encoded_header;
    std::string encoded_payload;
    try {
        encoded_header = encode_base64url(header.dump());
        encoded_payload = encode_base64url(account_jwk.dump());
    } catch (const json::exception&) {
        return nullptr;  // a text that is not UTF-8
    }
    const std::string signing_input = encoded_header + "." + encoded_payload;
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    std::size_t mac_length = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, mac_key.data(), mac_key.size(),
                  reinterpret_cast<const unsigned char*>(signing_input.data()),
                  signing_input.size(), mac.data(), mac.size(), &mac_length) == nullptr) {
        ERR_clear_error();
        return nullptr;
    }
    return {{"protected", encoded_header},
            {"payload", encoded_payload},
            {"signature", encode_base64url(std::string_view(
                              reinterpret_cast<const char*>(mac.data()), mac_length))}};
}

std::string key_authorization(std::string_view token, std::string_view account_thumbprint) {
    std::string authorization;
    authorization.reserve(token.size() + 1 + account_thumbprint.size());
    authorization.append(token).append(".").append(account_thumbprint);
    return authorization;
}

}  // namespace oidcgw
