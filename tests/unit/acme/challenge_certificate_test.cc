// challenge_certificate.cc: the TLS-ALPN-01 certificate read back with OpenSSL's parser and its
// command-line tool: one dNSName, the critical acmeIdentifier holding the digest, self-signed.
#include "acme/challenge_certificate.h"

#include "acme/certificate_request.h"
#include "common/certificate_chain.h"
#include "common/digest.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <memory>

namespace oidcgw {
namespace {

constexpr const char* kKeyAuthorization =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

X509Ptr challenge_certificate(EVP_PKEY* key, const char* dns_name = "gw.example.com") {
    std::string error;
    X509Ptr certificate = tls_alpn_challenge_certificate(dns_name, kKeyAuthorization, key, &error);
    EXPECT_TRUE(certificate) << error;
    return certificate;
}

TEST(ChallengeCertificate, CarriesTheCriticalAcmeIdentifierWithTheDigest) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    ASSERT_TRUE(key);
    X509Ptr certificate = challenge_certificate(key.get());
    ASSERT_TRUE(certificate);
    const Asn1ObjectPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
    ASSERT_TRUE(oid);
    const int index = X509_get_ext_by_OBJ(certificate.get(), oid.get(), -1);
    ASSERT_GE(index, 0);
    EXPECT_LT(X509_get_ext_by_OBJ(certificate.get(), oid.get(), index), 0);  // only once
    X509_EXTENSION* extension = X509_get_ext(certificate.get(), index);
    EXPECT_EQ(X509_EXTENSION_get_critical(extension), 1);
    // extnValue is the DER of an OCTET STRING: 04 20, then the 32 digest bytes.
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(extension);
    ASSERT_EQ(ASN1_STRING_length(value), 34);
    const unsigned char* cursor = ASN1_STRING_get0_data(value);
    EXPECT_EQ(cursor[0], 0x04);
    EXPECT_EQ(cursor[1], 0x20);
    const Asn1OctetStringPtr inner(d2i_ASN1_OCTET_STRING(nullptr, &cursor, 34));
    ASSERT_TRUE(inner);
    EXPECT_EQ(cursor, ASN1_STRING_get0_data(value) + 34);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner.get())),
                          static_cast<std::size_t>(ASN1_STRING_length(inner.get()))),
              sha256_bytes(kKeyAuthorization));
}

TEST(ChallengeCertificate, NamesExactlyTheOneDnsName) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    ASSERT_TRUE(key);
    X509Ptr certificate = challenge_certificate(key.get(), "Gw.Example.com");
    ASSERT_TRUE(certificate);
    int critical = -1;
    const GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(certificate.get(), NID_subject_alt_name, &critical, nullptr)));
    ASSERT_TRUE(names);
    ASSERT_EQ(sk_GENERAL_NAME_num(names.get()), 1);
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), 0);
    ASSERT_EQ(name->type, GEN_DNS);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                          static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName))),
              "Gw.Example.com");
}

TEST(ChallengeCertificate, IsASelfSignedV3CertificateValidAroundNow) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    ASSERT_TRUE(key);
    X509Ptr certificate = challenge_certificate(key.get());
    ASSERT_TRUE(certificate);
    EXPECT_EQ(X509_get_version(certificate.get()), X509_VERSION_3);
    EXPECT_EQ(X509_verify(certificate.get(), key.get()), 1);
    EvpPkeyPtr other = generate_private_key(CertificateKeyType::EcdsaP256);
    EXPECT_NE(X509_verify(certificate.get(), other.get()), 1);
    EXPECT_EQ(X509_check_issued(certificate.get(), certificate.get()), X509_V_OK);
    EXPECT_EQ(X509_get_signature_nid(certificate.get()), NID_ecdsa_with_SHA256);

    // From an hour ago, for exactly 7 days.
    const std::time_t now = std::time(nullptr);
    const std::time_t not_before = certificate_not_before(certificate.get());
    EXPECT_LE(not_before, now - 3600);
    EXPECT_GE(not_before, now - 3600 - 60);
    EXPECT_EQ(certificate_not_after(certificate.get()) - not_before, 7 * 24 * 3600);

    const ASN1_INTEGER* serial = X509_get0_serialNumber(certificate.get());
    const BignumPtr serial_number(ASN1_INTEGER_to_BN(serial, nullptr));
    ASSERT_TRUE(serial_number);
    EXPECT_EQ(BN_is_negative(serial_number.get()), 0);
    EXPECT_EQ(BN_is_zero(serial_number.get()), 0);
    X509Ptr second = challenge_certificate(key.get());
    ASSERT_TRUE(second);
    EXPECT_NE(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(second.get())), 0);
}

TEST(ChallengeCertificate, OpensslCliShowsTheIdentifierAsCritical) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    ASSERT_TRUE(key);
    X509Ptr certificate = challenge_certificate(key.get());
    ASSERT_TRUE(certificate);
    testing::TempDir directory;
    const std::string path = directory.file("challenge.pem");
    testing::write_file(path, testing::certificate_pem(certificate.get()));
    using PipePtr = std::unique_ptr<FILE, CDeleter<pclose>>;
    const std::string command = "timeout 20 openssl x509 -noout -text -in '" + path + "' 2>&1";
    PipePtr pipe(popen(command.c_str(), "r"));
    ASSERT_TRUE(pipe);
    std::string output;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
    EXPECT_NE(output.find("1.3.6.1.5.5.7.1.31: critical"), std::string::npos) << output;
    EXPECT_NE(output.find("DNS:gw.example.com"), std::string::npos) << output;
}

TEST(ChallengeCertificate, RefusesABadNameOrNoKey) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    ASSERT_TRUE(key);
    std::string error;
    EXPECT_FALSE(tls_alpn_challenge_certificate("", kKeyAuthorization, key.get(), &error));
    EXPECT_FALSE(error.empty());
    error.clear();
    EXPECT_FALSE(tls_alpn_challenge_certificate("a b", kKeyAuthorization, key.get(), &error));
    EXPECT_FALSE(error.empty());
    error.clear();
    EXPECT_FALSE(
        tls_alpn_challenge_certificate("gw.example.com", kKeyAuthorization, nullptr, &error));
    EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace oidcgw
