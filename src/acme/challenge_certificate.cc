#include "acme/challenge_certificate.h"

#include "acme/certificate_request.h"
#include "common/digest.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <array>
#include <ctime>
#include <vector>

namespace oidcgw {
namespace {

constexpr long kBackdateSeconds = 60 * 60;  // tolerates a validator whose clock runs behind
constexpr int kLifetimeDays = 7;
constexpr std::size_t kSerialBytes = 16;

X509Ptr no_certificate(std::string* error, std::string message) {
    ERR_clear_error();
    if (error != nullptr) *error = std::move(message);
    return nullptr;
}

// 16 random bytes with the top bit clear (a positive INTEGER) and the next bit set (never zero,
// always the same length).
bool set_random_serial(X509* certificate) {
    std::array<unsigned char, kSerialBytes> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return false;
    bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
    const BignumPtr serial(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
    return serial &&
           BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate)) != nullptr;
}

// The critical acmeIdentifier extension. Its extnValue holds the DER of an OCTET STRING with the
// digest, so the digest is wrapped twice: once here, once by the extension's own OCTET STRING.
X509ExtensionPtr acme_identifier_extension(std::string_view key_authorization) {
    const std::string digest = sha256_bytes(key_authorization);
    const Asn1OctetStringPtr authorization(ASN1_OCTET_STRING_new());
    if (!authorization ||
        ASN1_OCTET_STRING_set(authorization.get(),
                              reinterpret_cast<const unsigned char*>(digest.data()),
                              static_cast<int>(digest.size())) != 1) {
        return nullptr;
    }
    const int length = i2d_ASN1_OCTET_STRING(authorization.get(), nullptr);
    if (length <= 0) return nullptr;
    std::vector<unsigned char> der(static_cast<std::size_t>(length));
    unsigned char* cursor = der.data();
    const Asn1OctetStringPtr extension_value(ASN1_OCTET_STRING_new());
    const Asn1ObjectPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
    if (i2d_ASN1_OCTET_STRING(authorization.get(), &cursor) != length || !extension_value || !oid ||
        ASN1_OCTET_STRING_set(extension_value.get(), der.data(), length) != 1) {
        return nullptr;
    }
    return X509ExtensionPtr(
        X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), /*crit=*/1, extension_value.get()));
}

}  // namespace

X509Ptr tls_alpn_challenge_certificate(std::string_view dns_name,
                                       std::string_view key_authorization, EVP_PKEY* key,
                                       std::string* error) {
    if (key == nullptr)
        return no_certificate(error, "no key to sign the challenge certificate with");
    const X509ExtensionPtr alt_name = dns_subject_alt_name({std::string(dns_name)}, error);
    if (!alt_name) return nullptr;
    X509Ptr certificate(X509_new());
    std::time_t now = std::time(nullptr);  // one instant, so the lifetime is exactly 7 days
    if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
        !set_random_serial(certificate.get()) ||
        X509_time_adj_ex(X509_getm_notBefore(certificate.get()), 0, -kBackdateSeconds, &now) ==
            nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(certificate.get()), kLifetimeDays, -kBackdateSeconds,
                         &now) == nullptr) {
        return no_certificate(error, "OpenSSL could not start the challenge certificate");
    }
    // Validators read only the subjectAltName; the subject just says what the certificate is for.
    X509_NAME* subject = X509_get_subject_name(certificate.get());
    static constexpr char kSubject[] = "ACME TLS-ALPN-01 challenge";
    if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(kSubject), -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(certificate.get(), subject) != 1 ||
        X509_set_pubkey(certificate.get(), key) != 1) {
        return no_certificate(error,
                              "OpenSSL could not name the challenge certificate or set its key");
    }
    const X509ExtensionPtr acme_identifier = acme_identifier_extension(key_authorization);
    if (!acme_identifier || X509_add_ext(certificate.get(), alt_name.get(), -1) != 1 ||
        X509_add_ext(certificate.get(), acme_identifier.get(), -1) != 1) {
        return no_certificate(error,
                              "OpenSSL could not add the challenge certificate's extensions");
    }
    if (X509_sign(certificate.get(), key, EVP_sha256()) <= 0) {
        return no_certificate(error, "OpenSSL could not sign the challenge certificate");
    }
    return certificate;
}

}  // namespace oidcgw
