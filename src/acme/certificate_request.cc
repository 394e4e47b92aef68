#include "acme/certificate_request.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <memory>

namespace oidcgw {
namespace {

// RFC 5280's ub-common-name: a longer first name cannot be the subject's CN.
constexpr std::size_t kMaxCommonNameBytes = 64;

// A stack that owns the extensions pushed onto it.
struct ExtensionStackFree {
    void operator()(STACK_OF(X509_EXTENSION) * stack) const noexcept {
        sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
    }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionStackFree>;

template <typename Result>
Result openssl_failed(std::string* error, std::string message) {
    ERR_clear_error();
    if (error != nullptr) *error = std::move(message);
    return Result();
}

bool is_printable_ascii(const std::string& text) {
    for (const char c : text) {
        if (c <= ' ' || c > '~') return false;
    }
    return true;
}

GeneralNamePtr dns_general_name(const std::string& dns_name) {
    GeneralNamePtr name(GENERAL_NAME_new());
    Asn1Ia5StringPtr text(ASN1_IA5STRING_new());
    if (!name || !text ||
        ASN1_STRING_set(text.get(), dns_name.data(), static_cast<int>(dns_name.size())) != 1) {
        return nullptr;
    }
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, text.release());
    return name;
}

}  // namespace

EvpPkeyPtr generate_private_key(CertificateKeyType type) {
    EVP_PKEY* key =
        type == CertificateKeyType::EcdsaP256
            ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
            : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
    if (key == nullptr) ERR_clear_error();
    return EvpPkeyPtr(key);
}

std::string private_key_pem(EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (key == nullptr || !bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        ERR_clear_error();
        return "";
    }
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

X509ExtensionPtr dns_subject_alt_name(const std::vector<std::string>& dns_names,
                                      std::string* error) {
    if (dns_names.empty()) return openssl_failed<X509ExtensionPtr>(error, "no DNS name to certify");
    GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
    if (!names)
        return openssl_failed<X509ExtensionPtr>(error, "OpenSSL could not allocate a name list");
    for (std::size_t i = 0; i < dns_names.size(); ++i) {
        if (dns_names[i].empty() || !is_printable_ascii(dns_names[i])) {
            return openssl_failed<X509ExtensionPtr>(
                error, "DNS name " + std::to_string(i + 1) +
                           " is empty or not printable ASCII (give an international name in its "
                           "xn-- form)");
        }
        GeneralNamePtr name = dns_general_name(dns_names[i]);
        if (!name || sk_GENERAL_NAME_push(names.get(), name.get()) <= 0) {
            return openssl_failed<X509ExtensionPtr>(error,
                                                    "OpenSSL could not build the subjectAltName");
        }
        name.release();  // the list owns it now
    }
    X509ExtensionPtr extension(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
    if (!extension)
        return openssl_failed<X509ExtensionPtr>(error,
                                                "OpenSSL could not encode the subjectAltName");
    return extension;
}

std::optional<std::string> certificate_signing_request(const std::vector<std::string>& dns_names,
                                                       EVP_PKEY* key, std::string* error) {
    using Result = std::optional<std::string>;
    if (key == nullptr)
        return openssl_failed<Result>(error, "no key to sign the certificate request with");
    X509ExtensionPtr alt_names = dns_subject_alt_name(dns_names, error);
    if (!alt_names) return std::nullopt;
    X509ReqPtr request(X509_REQ_new());
    if (!request || X509_REQ_set_version(request.get(), X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_pubkey(request.get(), key) != 1) {
        return openssl_failed<Result>(error, "OpenSSL could not start the certificate request");
    }
    const std::string& first_name = dns_names.front();
    if (first_name.size() <= kMaxCommonNameBytes) {
        X509_NAME* subject = X509_REQ_get_subject_name(request.get());
        if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(first_name.data()),
                                       static_cast<int>(first_name.size()), -1, 0) != 1) {
            return openssl_failed<Result>(error, "OpenSSL could not set the request's common name");
        }
    } else if (X509_EXTENSION_set_critical(alt_names.get(), 1) != 1) {
        return openssl_failed<Result>(error, "OpenSSL could not mark the subjectAltName critical");
    }
    ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
    if (!extensions || sk_X509_EXTENSION_push(extensions.get(), alt_names.get()) <= 0) {
        return openssl_failed<Result>(error, "OpenSSL could not list the request's extensions");
    }
    alt_names.release();  // the stack owns it now
    if (X509_REQ_add_extensions(request.get(), extensions.get()) != 1) {
        return openssl_failed<Result>(error,
                                      "OpenSSL could not add the subjectAltName to the request");
    }
    if (X509_REQ_sign(request.get(), key, EVP_sha256()) <= 0) {
        return openssl_failed<Result>(error, "OpenSSL could not sign the certificate request");
    }
    const int length = i2d_X509_REQ(request.get(), nullptr);
    if (length <= 0)
        return openssl_failed<Result>(error, "OpenSSL could not encode the certificate request");
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* cursor = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_X509_REQ(request.get(), &cursor) != length) {
        return openssl_failed<Result>(error, "OpenSSL could not encode the certificate request");
    }
    return der;
}

}  // namespace oidcgw
