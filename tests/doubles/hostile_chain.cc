#include "hostile_chain.h"

#include "openssl_failure.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

namespace oidcgw::testing {
namespace {

constexpr const char* kSharedName = "x";  // short, so that hundreds fit in one TLS message

EvpPkeyPtr p256_key() {
    EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) throw_openssl_error("hostile_chain: key generation failed");
    return key;
}

void set_common_name(X509_NAME* name, const std::string& common_name) {
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(common_name.data()),
                                   static_cast<int>(common_name.size()), -1, 0) != 1) {
        throw_openssl_error("hostile_chain: cannot set a CN");
    }
}

// A bare certificate (no extensions unless added later) for `key`, named `subject`, claiming to
// be issued by kSharedName.
X509Ptr bare_certificate(long serial, const std::string& subject, EVP_PKEY* key) {
    X509Ptr certificate(X509_new());
    if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), serial) != 1) {
        throw_openssl_error("hostile_chain: cannot start a certificate");
    }
    set_common_name(X509_get_subject_name(certificate.get()), subject);
    set_common_name(X509_get_issuer_name(certificate.get()), kSharedName);
    if (X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600) == nullptr ||
        X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 30L * 24 * 3600) == nullptr ||
        X509_set_pubkey(certificate.get(), key) != 1) {
        throw_openssl_error("hostile_chain: cannot set validity or key");
    }
    return certificate;
}

}  // namespace

IssuedFiles write_hostile_chain(const std::string& directory, const HostileChainRequest& request) {
    const EvpPkeyPtr signer = p256_key();  // signs everything; in no certificate
    const EvpPkeyPtr leaf_key = p256_key();
    X509Ptr leaf = bare_certificate(1, request.leaf_common_name, leaf_key.get());
    X509V3_CTX context;
    X509V3_set_ctx(&context, nullptr, leaf.get(), nullptr, nullptr, 0);
    X509ExtensionPtr names(X509V3_EXT_nconf_nid(nullptr, &context, NID_subject_alt_name,
                                                ("DNS:" + request.host).c_str()));
    if (!names || X509_add_ext(leaf.get(), names.get(), -1) != 1 ||
        X509_sign(leaf.get(), signer.get(), EVP_sha256()) <= 0) {
        throw_openssl_error("hostile_chain: cannot finish the leaf");
    }
    std::string chain = certificate_pem(leaf.get());
    for (std::size_t index = 0; index < request.fillers; ++index) {
        const EvpPkeyPtr key = p256_key();
        X509Ptr filler = bare_certificate(static_cast<long>(index) + 2, kSharedName, key.get());
        if (X509_sign(filler.get(), signer.get(), EVP_sha256()) <= 0) {
            throw_openssl_error("hostile_chain: cannot sign a filler");
        }
        chain += certificate_pem(filler.get());
    }
    const IssuedFiles files{directory + "/hostile-chain.pem", directory + "/hostile-key.pem"};
    write_file(files.certificate, chain);
    write_file(files.private_key, private_key_pem(leaf_key.get()));
    return files;
}

}  // namespace oidcgw::testing
