#include "probe/jwt_verification.h"

#include "common/base64url.h"
#include "common/error_report.h"
#include "common/strict_json.h"
#include "common/text_escape.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>

namespace oidcgw {
namespace {

using nlohmann::json;

// Only JWK import builds parameter lists, so these aliases stay local.
using OsslParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, CDeleter<OSSL_PARAM_BLD_free>>;
using OsslParamPtr = std::unique_ptr<OSSL_PARAM, CDeleter<OSSL_PARAM_free>>;

struct OpensslFree {
    void operator()(unsigned char* buffer) const noexcept { OPENSSL_free(buffer); }
};
using OpensslBytePtr = std::unique_ptr<unsigned char, OpensslFree>;

// A JOSE algorithm and what it needs: the key type, the digest, and for ECDSA the curve and the
// byte length of each of R and S.
struct Algorithm {
    std::string_view name;
    std::string_view kty;
    const EVP_MD* (*digest)();  // null for EdDSA (the digest is part of the scheme)
    bool pss = false;
    std::string_view curve;      // ES*: the JWK crv it requires
    std::size_t coordinate = 0;  // ES*: bytes in R and in S
};

const EVP_MD* no_digest() {
    return nullptr;
}

const std::array<Algorithm, 10>& algorithms() {
    static const std::array<Algorithm, 10> table = {{
        {"RS256", "RSA", EVP_sha256, false, {}, 0},
        {"RS384", "RSA", EVP_sha384, false, {}, 0},
        {"RS512", "RSA", EVP_sha512, false, {}, 0},
        {"PS256", "RSA", EVP_sha256, true, {}, 0},
        {"PS384", "RSA", EVP_sha384, true, {}, 0},
        {"PS512", "RSA", EVP_sha512, true, {}, 0},
        {"ES256", "EC", EVP_sha256, false, "P-256", 32},
        {"ES384", "EC", EVP_sha384, false, "P-384", 48},
        {"ES512", "EC", EVP_sha512, false, "P-521", 66},
        {"EdDSA", "OKP", no_digest, false, {}, 0},
    }};
    return table;
}

const Algorithm* find_algorithm(std::string_view name) {
    for (const Algorithm& algorithm : algorithms()) {
        if (algorithm.name == name) return &algorithm;
    }
    return nullptr;
}

// A required base64url string member of a JWK, decoded.
std::optional<std::string> jwk_bytes(const json& jwk, const char* name, std::string* error) {
    const auto member = jwk.find(name);
    if (member == jwk.end() || !member->is_string()) {
        fail(error, std::string("the key has no string member \"") + name + "\"");
        return std::nullopt;
    }
    std::optional<std::string> bytes = decode_base64url(member->get_ref<const std::string&>());
    if (!bytes || bytes->empty()) {
        fail(error, std::string("the key's \"") + name + "\" is not unpadded base64url");
        return std::nullopt;
    }
    return bytes;
}

EvpPkeyPtr key_from_params(const char* type, OSSL_PARAM_BLD* builder, std::string* error) {
    OsslParamPtr params(OSSL_PARAM_BLD_to_param(builder));
    EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
        EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        ERR_clear_error();
        fail(error, std::string("OpenSSL refused the ") + type + " key");
        return nullptr;
    }
    return EvpPkeyPtr(key);
}

BignumPtr bignum(const std::string& bytes) {
    return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                               static_cast<int>(bytes.size()), nullptr));
}

EvpPkeyPtr rsa_key(const json& jwk, std::string* error) {
    const std::optional<std::string> modulus = jwk_bytes(jwk, "n", error);
    const std::optional<std::string> exponent = modulus ? jwk_bytes(jwk, "e", error) : std::nullopt;
    if (!modulus || !exponent) return nullptr;
    BignumPtr n = bignum(*modulus);
    BignumPtr e = bignum(*exponent);
    OsslParamBldPtr builder(OSSL_PARAM_BLD_new());
    if (!n || !e || !builder ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
        fail(error, "out of memory building an RSA key");
        return nullptr;
    }
    return key_from_params("RSA", builder.get(), error);
}

EvpPkeyPtr ec_key(const json& jwk, const std::string& crv, std::string* error) {
    struct Curve {
        std::string_view jwk_name;
        const char* openssl_name;
        std::size_t coordinate;
    };
    static constexpr std::array<Curve, 3> curves = {{
        {"P-256", "prime256v1", 32},
        {"P-384", "secp384r1", 48},
        {"P-521", "secp521r1", 66},
    }};
    const Curve* curve = nullptr;
    for (const Curve& candidate : curves) {
        if (candidate.jwk_name == crv) curve = &candidate;
    }
    if (curve == nullptr) {
        fail(error, "EC curve " + quote_untrusted(crv) + " is not P-256, P-384 or P-521");
        return nullptr;
    }
    const std::optional<std::string> x = jwk_bytes(jwk, "x", error);
    const std::optional<std::string> y = x ? jwk_bytes(jwk, "y", error) : std::nullopt;
    if (!x || !y) return nullptr;
    if (x->size() != curve->coordinate || y->size() != curve->coordinate) {
        fail(error, "the key's x and y must be " + std::to_string(curve->coordinate) +
                        " bytes each for " + crv);
        return nullptr;
    }
    const std::string point = std::string(1, '\x04') + *x + *y;  // uncompressed SEC 1 point
    OsslParamBldPtr builder(OSSL_PARAM_BLD_new());
    if (!builder ||
        OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                        curve->openssl_name, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
        fail(error, "out of memory building an EC key");
        return nullptr;
    }
    return key_from_params("EC", builder.get(), error);
}

EvpPkeyPtr okp_key(const json& jwk, const std::string& crv, std::string* error) {
    const int type = crv == "Ed25519" ? EVP_PKEY_ED25519 : crv == "Ed448" ? EVP_PKEY_ED448 : 0;
    if (type == 0) {
        fail(error, "OKP curve " + quote_untrusted(crv) + " is not Ed25519 or Ed448");
        return nullptr;
    }
    const std::optional<std::string> x = jwk_bytes(jwk, "x", error);
    if (!x) return nullptr;
    EvpPkeyPtr key(EVP_PKEY_new_raw_public_key(
        type, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
    ERR_clear_error();
    if (!key) fail(error, "the key's x is not a valid " + crv + " public key");
    return key;
}

// JOSE carries an ECDSA signature as R || S; OpenSSL verifies the DER form.
std::optional<std::string> ecdsa_der(const std::string& raw, std::size_t coordinate) {
    if (raw.size() != 2 * coordinate) return std::nullopt;
    EcdsaSigPtr signature(ECDSA_SIG_new());
    BignumPtr r = bignum(raw.substr(0, coordinate));
    BignumPtr s = bignum(raw.substr(coordinate));
    if (!signature || !r || !s || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
        return std::nullopt;
    }
    r.release();  // owned by the signature now
    s.release();
    unsigned char* raw_der = nullptr;
    const int length = i2d_ECDSA_SIG(signature.get(), &raw_der);
    OpensslBytePtr der(raw_der);
    if (length <= 0) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(der.get()), static_cast<std::size_t>(length));
}

std::string string_member(const json& object, const char* name) {
    const auto member = object.find(name);
    return member != object.end() && member->is_string() ? member->get<std::string>()
                                                         : std::string();
}

}  // namespace

std::optional<DecodedJwt> decode_jwt(std::string_view token, std::string* error) {
    const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
    while (!token.empty() && is_space(token.front())) token.remove_prefix(1);
    while (!token.empty() && is_space(token.back())) token.remove_suffix(1);
    const std::size_t first = token.find('.');
    const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
        fail(error, "not a compact JWS: expected three base64url parts separated by '.'");
        return std::nullopt;
    }
    const std::optional<std::string> header_text = decode_base64url(token.substr(0, first));
    const std::optional<std::string> payload_text =
        decode_base64url(token.substr(first + 1, second - first - 1));
    const std::optional<std::string> signature = decode_base64url(token.substr(second + 1));
    if (!header_text || !payload_text || !signature) {
        fail(error, std::string("the ") +
                        (!header_text    ? "header"
                         : !payload_text ? "payload"
                                         : "signature") +
                        " is not unpadded base64url");
        return std::nullopt;
    }
    std::string parse_error;
    std::optional<json> header = parse_strict_json(*header_text, &parse_error);
    if (!header || !header->is_object()) {
        fail(error, "the header is not a JSON object" +
                        (parse_error.empty() ? std::string() : ": " + parse_error));
        return std::nullopt;
    }
    std::optional<json> claims = parse_strict_json(*payload_text, &parse_error);
    if (!claims || !claims->is_object()) {
        fail(error, "the payload is not a JSON object" +
                        (parse_error.empty() ? std::string() : ": " + parse_error));
        return std::nullopt;
    }
    const auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string()) {
        fail(error, "the header has no string \"alg\"");
        return std::nullopt;
    }
    const auto kid = header->find("kid");
    if (kid != header->end() && !kid->is_string()) {
        fail(error, "the header's \"kid\" is not a string");
        return std::nullopt;
    }
    DecodedJwt decoded;
    decoded.alg = alg->get<std::string>();
    decoded.kid = kid != header->end() ? kid->get<std::string>() : std::string();
    decoded.header = std::move(*header);
    decoded.claims = std::move(*claims);
    decoded.signing_input = std::string(token.substr(0, second));
    decoded.signature = std::move(*signature);
    return decoded;
}

EvpPkeyPtr public_key_from_jwk(const json& jwk, std::string* error) {
    if (!jwk.is_object()) {
        fail(error, "the key is not a JSON object");
        return nullptr;
    }
    const std::string kty = string_member(jwk, "kty");
    const std::string crv = string_member(jwk, "crv");
    if (kty == "RSA") return rsa_key(jwk, error);
    if (kty == "EC") return ec_key(jwk, crv, error);
    if (kty == "OKP") return okp_key(jwk, crv, error);
    fail(error, kty.empty()
                    ? std::string("the key has no \"kty\"")
                    : "key type " + quote_untrusted(kty) + " cannot verify signatures here");
    return nullptr;
}

bool is_supported_jws_algorithm(std::string_view alg) {
    return find_algorithm(alg) != nullptr;
}

bool verify_jwt_signature(const DecodedJwt& token, const json& jwk, std::string* error) {
    const Algorithm* algorithm = find_algorithm(token.alg);
    if (algorithm == nullptr) {
        return fail(error, "algorithm " + quote_untrusted(token.alg) +
                               " is not an asymmetric JWS algorithm "
                               "a relying party accepts");
    }
    if (!jwk.is_object()) return fail(error, "the key is not a JSON object");
    const std::string kty = string_member(jwk, "kty");
    if (kty != algorithm->kty) {
        return fail(error,
                    "the token says " + token.alg + " but the key is kty " + quote_untrusted(kty));
    }
    if (const std::string key_alg = string_member(jwk, "alg");
        !key_alg.empty() && key_alg != token.alg) {
        return fail(error, "the token says " + token.alg + " but the key is for " +
                               quote_untrusted(key_alg));
    }
    if (const std::string use = string_member(jwk, "use"); !use.empty() && use != "sig") {
        return fail(error, "the key's use is " + quote_untrusted(use) + ", not \"sig\"");
    }
    if (!algorithm->curve.empty() && string_member(jwk, "crv") != algorithm->curve) {
        return fail(error, "the token says " + token.alg + ", which needs curve " +
                               std::string(algorithm->curve));
    }
    EvpPkeyPtr key = public_key_from_jwk(jwk, error);
    if (!key) return false;

    std::string signature = token.signature;
    if (algorithm->coordinate != 0) {
        std::optional<std::string> der = ecdsa_der(signature, algorithm->coordinate);
        if (!der) {
            return fail(error, "the " + token.alg + " signature must be " +
                                   std::to_string(2 * algorithm->coordinate) + " bytes (R || S)");
        }
        signature = std::move(*der);
    }

    ERR_clear_error();
    EvpMdCtxPtr context(EVP_MD_CTX_new());
    EVP_PKEY_CTX* key_context = nullptr;
    if (!context || EVP_DigestVerifyInit(context.get(), &key_context, algorithm->digest(), nullptr,
                                         key.get()) != 1) {
        ERR_clear_error();
        return fail(error, "OpenSSL cannot verify " + token.alg + " with this key");
    }
    if (algorithm->pss &&
        (EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) != 1)) {
        ERR_clear_error();
        return fail(error, "OpenSSL cannot set up PSS verification");
    }
    const int verified = EVP_DigestVerify(
        context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
        reinterpret_cast<const unsigned char*>(token.signing_input.data()),
        token.signing_input.size());
    ERR_clear_error();
    if (verified != 1) return fail(error, "the signature does not verify with this key");
    return true;
}

}  // namespace oidcgw
