#include "jwt_signing.h"

#include "common/base64url.h"
#include "jwt_tools.h"
#include "openssl_failure.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <stdexcept>

namespace oidcgw::testing {
namespace {

std::string bignum_bytes(const BIGNUM* number, std::size_t width) {
    std::string bytes(width, '\0');
    if (BN_bn2binpad(number, reinterpret_cast<unsigned char*>(bytes.data()),
                     static_cast<int>(width)) < 0) {
        throw_openssl_error("number wider than " + std::to_string(width) + " bytes");
    }
    return bytes;
}

std::string bignum_param(EVP_PKEY* key, const char* name) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
        throw_openssl_error(std::string("cannot read parameter ") + name);
    }
    BignumPtr number(raw);
    return bignum_bytes(number.get(), static_cast<std::size_t>(BN_num_bytes(number.get())));
}

std::size_t coordinate_bytes(const std::string& alg) {
    if (alg == "ES256") return 32;
    if (alg == "ES384") return 48;
    return 66;
}

const EVP_MD* digest_for(const std::string& alg) {
    if (alg == "EdDSA") return nullptr;
    if (alg.ends_with("256")) return EVP_sha256();
    if (alg.ends_with("384")) return EVP_sha384();
    return EVP_sha512();
}

// DER ECDSA-Sig-Value to JOSE's fixed-width R || S.
std::string der_to_raw(const std::string& der, std::size_t width) {
    const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
    EcdsaSigPtr signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
    if (!signature) throw_openssl_error("cannot parse an ECDSA signature");
    return bignum_bytes(ECDSA_SIG_get0_r(signature.get()), width) +
           bignum_bytes(ECDSA_SIG_get0_s(signature.get()), width);
}

}  // namespace

EvpPkeyPtr generate_ed25519_key() {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (key == nullptr) throw_openssl_error("Ed25519 key generation failed");
    return EvpPkeyPtr(key);
}

EvpPkeyPtr generate_ec_key(const std::string& curve) {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve.c_str());
    if (key == nullptr) throw_openssl_error("EC key generation failed for " + curve);
    return EvpPkeyPtr(key);
}

std::string nomad_ed25519_jwk(EVP_PKEY* key, const std::string& kid) {
    std::string raw(32, '\0');
    std::size_t length = raw.size();
    if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &length) !=
        1) {
        throw_openssl_error("cannot read the Ed25519 public key");
    }
    raw.resize(length);
    return R"({"use":"sig","kty":"OKP","kid":)" + nlohmann::json(kid).dump() +
           R"(,"crv":"Ed25519","alg":"EdDSA","x":")" + encode_base64url(raw) + R"("})";
}

std::string ec_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg) {
    char group[64] = {0};
    std::size_t group_length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &group_length) != 1) {
        throw_openssl_error("cannot read the EC group");
    }
    const std::string name = group;
    const std::string crv = name == "prime256v1"  ? "P-256"
                            : name == "secp384r1" ? "P-384"
                                                  : "P-521";
    const std::size_t width = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
    BIGNUM* raw_x = nullptr;
    BIGNUM* raw_y = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &raw_x) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &raw_y) != 1) {
        BN_free(raw_x);
        throw_openssl_error("cannot read the EC point");
    }
    BignumPtr x(raw_x);
    BignumPtr y(raw_y);
    return R"({"use":"sig","kty":"EC","kid":)" + nlohmann::json(kid).dump() + R"(,"crv":")" + crv +
           R"(","alg":")" + alg + R"(","x":")" + encode_base64url(bignum_bytes(x.get(), width)) +
           R"(","y":")" + encode_base64url(bignum_bytes(y.get(), width)) + R"("})";
}

std::string rsa_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg) {
    return R"({"use":"sig","kty":"RSA","kid":)" + nlohmann::json(kid).dump() + R"(,"alg":")" + alg +
           R"(","n":")" + encode_base64url(bignum_param(key, OSSL_PKEY_PARAM_RSA_N)) +
           R"(","e":")" + encode_base64url(bignum_param(key, OSSL_PKEY_PARAM_RSA_E)) + R"("})";
}

std::string sign_jwt(EVP_PKEY* key, const std::string& alg, const std::string& kid,
                     const std::string& claims_json) {
    const std::string header =
        R"({"alg":")" + alg + R"(","kid":)" + nlohmann::json(kid).dump() + R"(,"typ":"JWT"})";
    const std::string signing_input =
        encode_base64url(header) + "." + encode_base64url(claims_json);
    EvpMdCtxPtr context(EVP_MD_CTX_new());
    EVP_PKEY_CTX* key_context = nullptr;
    if (!context ||
        EVP_DigestSignInit(context.get(), &key_context, digest_for(alg), nullptr, key) != 1) {
        throw_openssl_error("cannot start a " + alg + " signature");
    }
    if (alg.starts_with("PS") &&
        (EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) != 1)) {
        throw_openssl_error("cannot set up PSS");
    }
    const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
    std::size_t length = 0;
    if (EVP_DigestSign(context.get(), nullptr, &length, input, signing_input.size()) != 1) {
        throw_openssl_error("cannot size a " + alg + " signature");
    }
    std::string signature(length, '\0');
    if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       input, signing_input.size()) != 1) {
        throw_openssl_error(alg + " signature failed");
    }
    signature.resize(length);
    if (alg.starts_with("ES")) signature = der_to_raw(signature, coordinate_bytes(alg));
    return signing_input + "." + encode_base64url(signature);
}

std::string identity_claims(const std::string& issuer, const std::string& audience,
                            long issued_offset_seconds, long lifetime_seconds) {
    const long issued = static_cast<long>(std::time(nullptr)) + issued_offset_seconds;
    const nlohmann::json claims = {
        {"aud", audience},
        {"exp", issued + lifetime_seconds},
        {"iat", issued},
        {"iss", issuer},
        {"jti", "4b2f0c3e-1d7a-4e8b-9a61-0f5c2d9e7b34"},
        {"nbf", issued},
        {"nomad_allocation_id", "7e4a9d12-3c5b-4f6e-8a1d-2b9c0e7f5a43"},
        {"nomad_job_id", "web"},
        {"nomad_namespace", "default"},
        {"nomad_task", "app"},
        {"sub", "global:default:web:app:app:default"},
    };
    return claims.dump();
}

}  // namespace oidcgw::testing
