#include "jwt_tools.h"

#include "common/base64url.h"
#include "openssl_failure.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace oidcgw::testing {
namespace {

// Only the JWT helpers juggle parameter lists, so the aliases stay local.
using OsslParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, CDeleter<OSSL_PARAM_BLD_free>>;
using OsslParamPtr = std::unique_ptr<OSSL_PARAM, CDeleter<OSSL_PARAM_free>>;

std::string bignum_param_base64url(EVP_PKEY* key, const char* name) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
        throw_openssl_error(std::string("cannot read RSA parameter ") + name);
    }
    BignumPtr number(raw);
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(number.get())), '\0');
    BN_bn2bin(number.get(), reinterpret_cast<unsigned char*>(bytes.data()));
    return encode_base64url(bytes);
}

// Enough JSON string escaping for a kid; kids are UUIDs in practice.
std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            constexpr char kHex[] = "0123456789abcdef";
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

EvpPkeyPtr rsa_public_key(const std::string& modulus, const std::string& exponent) {
    BignumPtr n(BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()),
                          static_cast<int>(modulus.size()), nullptr));
    BignumPtr e(BN_bin2bn(reinterpret_cast<const unsigned char*>(exponent.data()),
                          static_cast<int>(exponent.size()), nullptr));
    OsslParamBldPtr builder(OSSL_PARAM_BLD_new());
    if (!n || !e || !builder ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
        return nullptr;
    }
    OsslParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
    EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
        EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return nullptr;
    }
    return EvpPkeyPtr(key);
}

}  // namespace

EvpPkeyPtr generate_rsa_key(int bits) {
    EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* key = nullptr;
    if (!context || EVP_PKEY_keygen_init(context.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), bits) != 1 ||
        EVP_PKEY_keygen(context.get(), &key) != 1) {
        throw_openssl_error("RSA key generation failed");
    }
    return EvpPkeyPtr(key);
}

std::string nomad_rsa_jwk(EVP_PKEY* key, const std::string& kid) {
    return R"({"use":"sig","kty":"RSA","kid":)" + json_string(kid) + R"(,"alg":"RS256","n":")" +
           bignum_param_base64url(key, OSSL_PKEY_PARAM_RSA_N) + R"(","e":")" +
           bignum_param_base64url(key, OSSL_PKEY_PARAM_RSA_E) + R"("})";
}

std::string sign_rs256_jwt(EVP_PKEY* key, const std::string& kid, const std::string& claims_json) {
    std::string header = R"({"alg":"RS256","kid":)" + json_string(kid) + R"(,"typ":"JWT"})";
    std::string signing_input = encode_base64url(header) + "." + encode_base64url(claims_json);

    EvpMdCtxPtr context(EVP_MD_CTX_new());
    std::size_t length = 0;
    // RSA keys sign with PKCS#1 v1.5 padding unless told otherwise: exactly RS256.
    if (!context || EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(context.get(), nullptr, &length,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw_openssl_error("cannot start RS256 signature");
    }
    std::string signature(length, '\0');
    if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw_openssl_error("RS256 signature failed");
    }
    signature.resize(length);
    return signing_input + "." + encode_base64url(signature);
}

std::optional<std::string> verify_rs256_jwt(const std::string& token, const std::string& n_b64url,
                                            const std::string& e_b64url) {
    std::size_t first_dot = token.find('.');
    if (first_dot == std::string::npos) return std::nullopt;
    std::size_t second_dot = token.find('.', first_dot + 1);
    if (second_dot == std::string::npos || token.find('.', second_dot + 1) != std::string::npos) {
        return std::nullopt;
    }
    std::string_view view(token);
    auto header = decode_base64url(view.substr(0, first_dot));
    auto payload = decode_base64url(view.substr(first_dot + 1, second_dot - first_dot - 1));
    auto signature = decode_base64url(view.substr(second_dot + 1));
    auto modulus = decode_base64url(n_b64url);
    auto exponent = decode_base64url(e_b64url);
    if (!header || !payload || !signature || !modulus || !exponent || modulus->empty() ||
        exponent->empty()) {
        return std::nullopt;
    }

    // The algorithm comes from the verifier's expectation, but a header that claims another one
    // (alg confusion, "none") is refused outright.
    nlohmann::json parsed_header = nlohmann::json::parse(*header, nullptr, false);
    if (!parsed_header.is_object() || !parsed_header.contains("alg") ||
        parsed_header["alg"] != "RS256") {
        return std::nullopt;
    }

    EvpPkeyPtr key = rsa_public_key(*modulus, *exponent);
    EvpMdCtxPtr context(EVP_MD_CTX_new());
    if (!key || !context ||
        EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    std::string_view signing_input = view.substr(0, second_dot);
    int verified = EVP_DigestVerify(
        context.get(), reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
    ERR_clear_error();
    if (verified != 1) return std::nullopt;
    return payload;
}

}  // namespace oidcgw::testing
