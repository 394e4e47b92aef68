// renewal_info.cc: RFC 9773's certificate identifier (its Appendix A example and serials that
// need a pad byte), the suggested window a CA sends, and the time picked in it.
#include "acme/renewal_info.h"

#include "acme/certificate_request.h"
#include "common/base64url.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cmath>
#include <limits>

namespace oidcgw {
namespace {

// RFC 9773 Appendix A: AKI keyIdentifier 69:88:5B:…:C8:D4, serial 0x87654321.
constexpr const char* kRfc9773ExampleCertificate = R"(-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
)";

X509Ptr parse_pem(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// A certificate with the given serial and, when key_identifier is not empty, an AKI holding it.
X509Ptr certificate_with(long serial, const std::string& key_identifier) {
    EvpPkeyPtr key = generate_private_key(CertificateKeyType::EcdsaP256);
    X509Ptr certificate(X509_new());
    if (!key || !certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), serial) != 1 ||
        X509_set_pubkey(certificate.get(), key.get()) != 1) {
        return nullptr;
    }
    if (!key_identifier.empty()) {
        std::unique_ptr<AUTHORITY_KEYID, CDeleter<AUTHORITY_KEYID_free>> aki(AUTHORITY_KEYID_new());
        aki->keyid = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(aki->keyid,
                              reinterpret_cast<const unsigned char*>(key_identifier.data()),
                              static_cast<int>(key_identifier.size()));
        if (X509_add1_ext_i2d(certificate.get(), NID_authority_key_identifier, aki.get(), 0,
                              X509V3_ADD_DEFAULT) != 1) {
            return nullptr;
        }
    }
    if (X509_sign(certificate.get(), key.get(), EVP_sha256()) <= 0) return nullptr;
    return certificate;
}

TEST(RenewalInfoCertificateId, MatchesTheRfc9773Example) {
    X509Ptr certificate = parse_pem(kRfc9773ExampleCertificate);
    ASSERT_TRUE(certificate);
    EXPECT_EQ(ari_certificate_id(certificate.get()), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST(RenewalInfoCertificateId, BuiltFromTheSameAkiAndSerialItMatchesToo) {
    const std::optional<std::string> key_identifier =
        decode_base64url("aYhba4dGQEHhs3uEe6CuLN4ByNQ");
    ASSERT_TRUE(key_identifier);
    X509Ptr certificate = certificate_with(0x87654321L, *key_identifier);
    ASSERT_TRUE(certificate);
    EXPECT_EQ(ari_certificate_id(certificate.get()), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

TEST(RenewalInfoCertificateId, KeepsThePadByteOnlyWhenDerHasOne) {
    const std::string key_identifier("\x01\x02\x03", 3);
    X509Ptr small = certificate_with(0x7f, key_identifier);
    X509Ptr padded = certificate_with(0x80, key_identifier);
    X509Ptr wide = certificate_with(0x0102, key_identifier);
    ASSERT_TRUE(small && padded && wide);
    EXPECT_EQ(ari_certificate_id(small.get()), "AQID." + encode_base64url("\x7f"));
    EXPECT_EQ(ari_certificate_id(padded.get()),
              "AQID." + encode_base64url(std::string("\x00\x80", 2)));
    EXPECT_EQ(ari_certificate_id(wide.get()), "AQID." + encode_base64url("\x01\x02"));
}

TEST(RenewalInfoCertificateId, IsNulloptWithoutAnAkiKeyIdentifier) {
    X509Ptr certificate = certificate_with(5, "");
    ASSERT_TRUE(certificate);
    EXPECT_EQ(ari_certificate_id(certificate.get()), std::nullopt);
    EXPECT_EQ(ari_certificate_id(nullptr), std::nullopt);
}

TEST(RenewalInfoWindow, ParsesTheSuggestedWindow) {
    std::string error;
    const std::optional<RenewalWindow> window = parse_renewal_info(
        R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},
            "explanationURL":"https://acme.example.com/docs/ari"})",
        &error);
    ASSERT_TRUE(window) << error;
    EXPECT_EQ(window->start, 1735790400);
    EXPECT_EQ(window->end, 1735790400 + 86400);
}

TEST(RenewalInfoWindow, AcceptsFractionsAndOffsets) {
    std::string error;
    const std::optional<RenewalWindow> window = parse_renewal_info(
        R"({"suggestedWindow":{"start":"2025-01-02T05:30:00.999+01:30",
                               "end":"2025-01-02T23:00:00.5-05:00"}})",
        &error);
    ASSERT_TRUE(window) << error;
    EXPECT_EQ(window->start, 1735790400);
    EXPECT_EQ(window->end, 1735790400 + 86400);
}

TEST(RenewalInfoWindow, RefusesWithANamedReason) {
    const struct {
        const char* body;
        const char* reason;
    } cases[] = {
        {"", "does not parse as JSON"},
        {"{", "does not parse as JSON"},
        {"[]", "not a JSON object"},
        {"{}", "no \"suggestedWindow\""},
        {R"({"suggestedWindow":"soon"})", "no \"suggestedWindow\""},
        {R"({"suggestedWindow":{"end":"2025-01-03T04:00:00Z"}})", "no string \"start\""},
        {R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z"}})", "no string \"end\""},
        {R"({"suggestedWindow":{"start":1735790400,"end":"2025-01-03T04:00:00Z"}})",
         "no string \"start\""},
        {R"({"suggestedWindow":{"start":"2025-01-02","end":"2025-01-03T04:00:00Z"}})",
         "start \"2025-01-02\" is not an RFC 3339"},
        {R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"tomorrow"}})",
         "end \"tomorrow\" is not an RFC 3339"},
        {R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-02T04:00:00Z"}})",
         "not after its start"},
        {R"({"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}})",
         "not after its start"},
        {R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","start":"2025-01-01T04:00:00Z",
             "end":"2025-01-03T04:00:00Z"}})",
         "does not parse as JSON"},  // a duplicate member
    };
    for (const auto& c : cases) {
        std::string error;
        EXPECT_FALSE(parse_renewal_info(c.body, &error)) << c.body;
        EXPECT_NE(error.find(c.reason), std::string::npos) << c.body << " gave: " << error;
    }
}

TEST(RenewalInfoPick, IsTheFractionOfTheWindow) {
    const RenewalWindow window{1000, 2000};
    EXPECT_EQ(pick_renewal_time(window, 0.0), 1000);
    EXPECT_EQ(pick_renewal_time(window, 0.25), 1250);
    EXPECT_EQ(pick_renewal_time(window, 0.5), 1500);
    EXPECT_EQ(pick_renewal_time(window, 1.0), 2000);
    EXPECT_EQ(pick_renewal_time(window, -3.0), 1000);  // clamped into the window
    EXPECT_EQ(pick_renewal_time(window, 7.0), 2000);
    EXPECT_EQ(pick_renewal_time(window, std::numeric_limits<double>::quiet_NaN()), 1000);
}

}  // namespace
}  // namespace oidcgw
