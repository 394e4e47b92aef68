// certificate_request.cc: keys of both types, their PEM, and CSRs that parse, verify and carry
// exactly the names asked for.
#include "acme/certificate_request.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <string>
#include <vector>

namespace oidcgw {
namespace {

X509ReqPtr parse_request(const std::string& der) {
    const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
    X509ReqPtr request(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(der.size())));
    EXPECT_EQ(cursor, reinterpret_cast<const unsigned char*>(der.data()) + der.size());
    return request;
}

// The request's subjectAltName: its DNS names in order, and whether anything else is in it.
struct RequestedNames {
    std::vector<std::string> dns_names;
    int other_names = 0;
    bool critical = false;
};

RequestedNames requested_names(X509_REQ* request) {
    RequestedNames names;
    STACK_OF(X509_EXTENSION)* extensions = X509_REQ_get_extensions(request);
    int critical = -1;
    GeneralNamesPtr alt_names(static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(extensions, NID_subject_alt_name, &critical, nullptr)));
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
    names.critical = critical == 1;
    for (int i = 0; alt_names && i < sk_GENERAL_NAME_num(alt_names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt_names.get(), i);
        if (name->type != GEN_DNS) {
            ++names.other_names;
            continue;
        }
        const ASN1_IA5STRING* text = name->d.dNSName;
        names.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                                     static_cast<std::size_t>(ASN1_STRING_length(text)));
    }
    return names;
}

std::string common_name(X509_REQ* request) {
    char text[256] = {};
    const int length = X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(request), NID_commonName,
                                                 text, sizeof text);
    return length > 0 ? std::string(text, static_cast<std::size_t>(length)) : std::string();
}

class CertificateRequest : public ::testing::TestWithParam<CertificateKeyType> {};

TEST_P(CertificateRequest, ParsesVerifiesAndNamesEveryDnsName) {
    EvpPkeyPtr key = generate_private_key(GetParam());
    ASSERT_TRUE(key);
    const std::vector<std::string> names = {"gw.example.com", "www.example.com", "*.example.org"};
    std::string error;
    const std::optional<std::string> der = certificate_signing_request(names, key.get(), &error);
    ASSERT_TRUE(der) << error;
    X509ReqPtr request = parse_request(*der);
    ASSERT_TRUE(request);
    EXPECT_EQ(X509_REQ_get_version(request.get()), X509_REQ_VERSION_1);
    EXPECT_EQ(X509_REQ_verify(request.get(), key.get()), 1);
    EvpPkeyPtr other = generate_private_key(GetParam());
    EXPECT_NE(X509_REQ_verify(request.get(), other.get()), 1);
    EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(request.get()), key.get()), 1);
    EXPECT_EQ(X509_REQ_get_signature_nid(request.get()), GetParam() == CertificateKeyType::EcdsaP256
                                                             ? NID_ecdsa_with_SHA256
                                                             : NID_sha256WithRSAEncryption);
    EXPECT_EQ(common_name(request.get()), "gw.example.com");
    const RequestedNames requested = requested_names(request.get());
    EXPECT_EQ(requested.dns_names, names);
    EXPECT_EQ(requested.other_names, 0);
    EXPECT_FALSE(requested.critical);
}

TEST_P(CertificateRequest, KeyPemRoundTripsAsPkcs8) {
    EvpPkeyPtr key = generate_private_key(GetParam());
    ASSERT_TRUE(key);
    const std::string pem = private_key_pem(key.get());
    EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << pem;
    EXPECT_NE(pem.find("-----END PRIVATE KEY-----"), std::string::npos);
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EvpPkeyPtr read(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    ASSERT_TRUE(read);
    EXPECT_EQ(EVP_PKEY_eq(read.get(), key.get()), 1);
    EXPECT_EQ(EVP_PKEY_get_bits(read.get()),
              GetParam() == CertificateKeyType::Rsa2048 ? 2048 : 256);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, CertificateRequest,
                         ::testing::Values(CertificateKeyType::EcdsaP256,
                                           CertificateKeyType::Rsa2048),
                         [](const ::testing::TestParamInfo<CertificateKeyType>& key_type) {
                             return key_type.param == CertificateKeyType::EcdsaP256 ? "EcdsaP256"
                                                                                    : "Rsa2048";
                         });

TEST(CertificateRequestNames, ALongFirstNameLeavesTheSubjectEmptyAndTheNamesCritical) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    ASSERT_TRUE(key);
    const std::string long_name = std::string(60, 'a') + ".example.com";  // 72 bytes
    std::string error;
    const std::optional<std::string> der =
        certificate_signing_request({long_name}, key.get(), &error);
    ASSERT_TRUE(der) << error;
    X509ReqPtr request = parse_request(*der);
    ASSERT_TRUE(request);
    EXPECT_EQ(X509_NAME_entry_count(X509_REQ_get_subject_name(request.get())), 0);
    const RequestedNames requested = requested_names(request.get());
    EXPECT_EQ(requested.dns_names, std::vector<std::string>{long_name});
    EXPECT_TRUE(requested.critical);
}

TEST(CertificateRequestNames, RefusesNoNamesBadNamesAndNoKey) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    ASSERT_TRUE(key);
    std::string error;
    EXPECT_FALSE(certificate_signing_request({}, key.get(), &error));
    EXPECT_FALSE(error.empty());
    for (const std::string& bad : {std::string(), std::string("bad name.example"),
                                   std::string("caf\xc3\xa9.example"), std::string("a\0b", 3)}) {
        error.clear();
        EXPECT_FALSE(certificate_signing_request({"ok.example", bad}, key.get(), &error));
        EXPECT_NE(error.find("DNS name 2"), std::string::npos) << error;
    }
    error.clear();
    EXPECT_FALSE(certificate_signing_request({"ok.example"}, nullptr, &error));
    EXPECT_FALSE(error.empty());
}

TEST(CertificateRequestNames, PrivateKeyPemIsEmptyWithoutAKey) {
    EXPECT_EQ(private_key_pem(nullptr), "");
}

}  // namespace
}  // namespace oidcgw
