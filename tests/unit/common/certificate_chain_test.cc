#include "common/certificate_chain.h"

#include "test_pki.h"

#include <gtest/gtest.h>
#include <openssl/encoder.h>
#include <openssl/pem.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <string>

namespace oidcgw::testing {
namespace {

using EncoderContextPtr = std::unique_ptr<OSSL_ENCODER_CTX, CDeleter<OSSL_ENCODER_CTX_free>>;

// The leaf block and the intermediate block of a chain file, separately.
std::pair<std::string, std::string> split_chain(const std::string& chain_text) {
    const std::string end = "-----END CERTIFICATE-----\n";
    const std::size_t first_end = chain_text.find(end);
    EXPECT_NE(first_end, std::string::npos);
    return {chain_text.substr(0, first_end + end.size()),
            chain_text.substr(first_end + end.size())};
}

class CertificateChainTest : public ::testing::Test {
  protected:
    TempDir dir_;
    TestPki pki_{dir_.path(), "chain"};

    IssuedFiles issue(const std::string& name, KeyType type = KeyType::EcdsaP256,
                      bool with_intermediate = false) {
        CertificateRequest request;
        request.common_name = name;
        request.dns_names = {name};
        request.key_type = type;
        request.include_intermediate = with_intermediate;
        return pki_.issue(request);
    }

    std::vector<X509Ptr> load_ok(const std::string& path) {
        std::string error;
        std::vector<X509Ptr> chain = load_certificate_chain(path, &error);
        EXPECT_FALSE(chain.empty()) << error;
        EXPECT_TRUE(error.empty()) << error;
        return chain;
    }

    EvpPkeyPtr key_ok(const std::string& path) {
        std::string error;
        EvpPkeyPtr key = load_private_key(path, &error);
        EXPECT_TRUE(key) << error;
        return key;
    }

    std::string chain_error(const std::string& path) {
        std::string error;
        EXPECT_TRUE(load_certificate_chain(path, &error).empty());
        EXPECT_FALSE(error.empty());
        return error;
    }

    std::string key_error(const std::string& path) {
        std::string error;
        EXPECT_FALSE(load_private_key(path, &error));
        EXPECT_FALSE(error.empty());
        return error;
    }
};

TEST_F(CertificateChainTest, LeafAndIntermediateInOrder) {
    const IssuedFiles files = issue("www.example.com", KeyType::EcdsaP256, true);
    const std::vector<X509Ptr> chain = load_ok(files.certificate);
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_EQ(certificate_subject(chain[0].get()), "CN=www.example.com");
    EXPECT_EQ(certificate_subject(chain[1].get()), "CN=chain Intermediate CA");
    std::string error;
    EXPECT_TRUE(check_chain_order(chain, &error)) << error;

    const EvpPkeyPtr key = key_ok(files.private_key);
    EXPECT_TRUE(check_key_matches(chain[0].get(), key.get(), &error)) << error;
}

TEST_F(CertificateChainTest, SelfSignedRootAtTheEndIsAllowed) {
    const IssuedFiles files = issue("root-included", KeyType::EcdsaP256, true);
    const std::string full = files.certificate + ".full";
    write_file(full, read_file(files.certificate) + read_file(pki_.ca_file()));
    const std::vector<X509Ptr> chain = load_ok(full);
    ASSERT_EQ(chain.size(), 3u);
    std::string error;
    EXPECT_TRUE(check_chain_order(chain, &error)) << error;
}

TEST_F(CertificateChainTest, SingleCertificateIsInOrder) {
    const std::vector<X509Ptr> chain = load_ok(issue("single").certificate);
    ASSERT_EQ(chain.size(), 1u);
    std::string error;
    EXPECT_TRUE(check_chain_order(chain, &error)) << error;
}

TEST_F(CertificateChainTest, ReversedOrderIsRejected) {
    const IssuedFiles files = issue("reversed", KeyType::EcdsaP256, true);
    const auto [leaf, intermediate] = split_chain(read_file(files.certificate));
    const std::string reversed = dir_.file("reversed.pem");
    write_file(reversed, intermediate + leaf);
    const std::vector<X509Ptr> chain = load_ok(reversed);
    ASSERT_EQ(chain.size(), 2u);
    std::string error;
    EXPECT_FALSE(check_chain_order(chain, &error));
    EXPECT_NE(error.find("certificate 2 (CN=reversed) did not issue certificate 1"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("leaf first"), std::string::npos) << error;
}

TEST_F(CertificateChainTest, MissingIntermediateIsRejected) {
    // Leaf issued by the intermediate, followed directly by the root.
    const IssuedFiles files = issue("gap", KeyType::EcdsaP256, true);
    const std::string gap = dir_.file("gap.pem");
    write_file(gap, split_chain(read_file(files.certificate)).first + read_file(pki_.ca_file()));
    std::string error;
    EXPECT_FALSE(check_chain_order(load_ok(gap), &error));
    EXPECT_NE(error.find("did not issue certificate 1"), std::string::npos) << error;
}

TEST_F(CertificateChainTest, SameNameDifferentKeyIsRejected) {
    // Another PKI whose intermediate has the same subject name but a different key: only the
    // key identifiers and the signature tell them apart.
    TempDir other_dir;
    TestPki other(other_dir.path(), "chain");
    CertificateRequest request;
    request.common_name = "impostor";
    request.include_intermediate = true;
    const IssuedFiles other_files = other.issue(request);
    const IssuedFiles files = issue("genuine", KeyType::EcdsaP256, true);
    const std::string mixed = dir_.file("mixed.pem");
    write_file(mixed, split_chain(read_file(files.certificate)).first +
                          split_chain(read_file(other_files.certificate)).second);
    std::string error;
    EXPECT_FALSE(check_chain_order(load_ok(mixed), &error));
    EXPECT_FALSE(error.empty());
}

TEST_F(CertificateChainTest, EmptyChainIsNotInOrder) {
    std::string error;
    EXPECT_FALSE(check_chain_order({}, &error));
    EXPECT_NE(error.find("empty"), std::string::npos);
}

TEST_F(CertificateChainTest, KeyOfAnotherCertificateIsRejected) {
    const IssuedFiles first = issue("first");
    const IssuedFiles second = issue("second");
    const std::vector<X509Ptr> chain = load_ok(first.certificate);
    const EvpPkeyPtr other_key = key_ok(second.private_key);
    std::string error;
    EXPECT_FALSE(check_key_matches(chain[0].get(), other_key.get(), &error));
    EXPECT_NE(error.find("does not belong"), std::string::npos) << error;
    EXPECT_NE(error.find("CN=first"), std::string::npos) << error;
}

TEST_F(CertificateChainTest, RsaAndEcKeys) {
    for (const KeyType type : {KeyType::Rsa2048, KeyType::EcdsaP256}) {
        const bool rsa = type == KeyType::Rsa2048;
        const IssuedFiles files = issue(rsa ? "rsa" : "ec", type);
        const std::vector<X509Ptr> chain = load_ok(files.certificate);
        const EvpPkeyPtr key = key_ok(files.private_key);
        ASSERT_TRUE(key);
        EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), rsa ? EVP_PKEY_RSA : EVP_PKEY_EC);
        std::string error;
        EXPECT_TRUE(check_key_matches(chain[0].get(), key.get(), &error)) << error;
    }
    // An RSA key never matches an EC certificate.
    const std::vector<X509Ptr> ec_chain = load_ok(issue("ec-cert").certificate);
    const EvpPkeyPtr rsa_key = key_ok(issue("rsa-key", KeyType::Rsa2048).private_key);
    std::string error;
    EXPECT_FALSE(check_key_matches(ec_chain[0].get(), rsa_key.get(), &error));
}

TEST_F(CertificateChainTest, TraditionalKeyFormats) {
    for (const KeyType type : {KeyType::Rsa2048, KeyType::EcdsaP256}) {
        const bool rsa = type == KeyType::Rsa2048;
        const IssuedFiles files = issue(rsa ? "rsa-traditional" : "ec-traditional", type);
        const EvpPkeyPtr key = key_ok(files.private_key);
        ASSERT_TRUE(key);
        // Re-encode as "BEGIN RSA PRIVATE KEY" / "BEGIN EC PRIVATE KEY".
        EncoderContextPtr encoder(OSSL_ENCODER_CTX_new_for_pkey(
            key.get(), OSSL_KEYMGMT_SELECT_KEYPAIR | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS, "PEM",
            "type-specific", nullptr));
        ASSERT_TRUE(encoder);
        unsigned char* data = nullptr;
        std::size_t length = 0;
        ASSERT_EQ(OSSL_ENCODER_to_data(encoder.get(), &data, &length), 1);
        const std::string pem(reinterpret_cast<const char*>(data), length);
        OPENSSL_free(data);
        EXPECT_NE(pem.find(rsa ? "BEGIN RSA PRIVATE KEY" : "BEGIN EC PRIVATE KEY"),
                  std::string::npos);
        const std::string path = dir_.file(rsa ? "rsa-traditional.pem" : "ec-traditional.pem");
        write_file(path, pem);
        const EvpPkeyPtr reloaded = key_ok(path);
        std::string error;
        EXPECT_TRUE(check_key_matches(load_ok(files.certificate)[0].get(), reloaded.get(), &error))
            << error;
    }
}

TEST_F(CertificateChainTest, MissingFileIsNamed) {
    const std::string path = dir_.file("absent.pem");
    EXPECT_EQ(chain_error(path), "cannot read \"" + path + "\": No such file or directory");
    EXPECT_EQ(key_error(path), "cannot read \"" + path + "\": No such file or directory");
}

TEST_F(CertificateChainTest, UnreadableFileIsNamed) {
    // A directory cannot be read as a file, whoever runs the test (root ignores mode bits).
    EXPECT_EQ(chain_error(dir_.path()),
              "cannot read \"" + dir_.path() + "\": is a directory, not a regular file");
    EXPECT_EQ(key_error(dir_.path()),
              "cannot read \"" + dir_.path() + "\": is a directory, not a regular file");
}

TEST_F(CertificateChainTest, GarbageIsNamed) {
    const std::string path = dir_.file("garbage.pem");
    write_file(path, "this is not a certificate\n");
    const std::string error = chain_error(path);
    EXPECT_NE(error.find("\"" + path + "\""), std::string::npos) << error;
    EXPECT_NE(error.find("no PEM certificate"), std::string::npos) << error;
    EXPECT_NE(key_error(path).find("\"" + path + "\""), std::string::npos);

    const std::string empty = dir_.file("empty.pem");
    write_file(empty, "");
    EXPECT_NE(chain_error(empty).find("no PEM certificate"), std::string::npos);
}

TEST_F(CertificateChainTest, CorruptCertificateBlockIsRejected) {
    const IssuedFiles files = issue("corrupt");
    std::string text = read_file(files.certificate);
    // Flip characters inside the base64 body: the DER no longer parses (or the base64 breaks).
    const std::size_t body = text.find('\n') + 20;
    text.replace(body, 8, "!!!!!!!!");
    const std::string path = dir_.file("corrupt.pem");
    write_file(path, text);
    const std::string error = chain_error(path);
    EXPECT_NE(error.find("\"" + path + "\""), std::string::npos) << error;

    // A good certificate followed by a block with a valid base64 body that is not DER.
    const std::string truncated = dir_.file("truncated.pem");
    write_file(truncated, read_file(files.certificate) +
                              "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n");
    EXPECT_NE(chain_error(truncated).find("certificate 2 does not parse"), std::string::npos);
}

TEST_F(CertificateChainTest, KeyInCertificateFileIsRefusedWithoutLeakingIt) {
    const IssuedFiles files = issue("combined");
    const std::string key_text = read_file(files.private_key);
    const std::string combined = dir_.file("combined.pem");
    write_file(combined, read_file(files.certificate) + key_text);
    const std::string error = chain_error(combined);
    EXPECT_NE(error.find("\"PRIVATE KEY\" block"), std::string::npos) << error;
    // No line of the key's base64 body appears in the message.
    const std::string body_line = key_text.substr(key_text.find('\n') + 1, 40);
    EXPECT_EQ(error.find(body_line), std::string::npos);
}

TEST_F(CertificateChainTest, CaBundleWithCommentsLoads) {
    const IssuedFiles files = issue("bundle", KeyType::EcdsaP256, true);
    const std::string bundle = dir_.file("bundle.pem");
    write_file(bundle, "# Root\n" + read_file(pki_.ca_file()) + "\n# Intermediate\n" +
                           split_chain(read_file(files.certificate)).second);
    EXPECT_EQ(load_ok(bundle).size(), 2u);
}

TEST_F(CertificateChainTest, KeyErrorsNeverContainKeyBytes) {
    const std::string path = dir_.file("broken-key.pem");
    write_file(
        path, "-----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n");
    const std::string error = key_error(path);
    EXPECT_EQ(error.find("SECRET"), std::string::npos) << error;
    EXPECT_NE(error.find("no usable PEM private key"), std::string::npos) << error;

    // A certificate file is not a key file.
    EXPECT_NE(key_error(issue("not-a-key").certificate).find("no usable PEM private key"),
              std::string::npos);
}

TEST_F(CertificateChainTest, EncryptedKeyIsRefusedWithoutPrompting) {
    const IssuedFiles files = issue("encrypted");
    const EvpPkeyPtr key = key_ok(files.private_key);
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASSERT_TRUE(bio);
    static const char kPassphrase[] = "correct horse";
    ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), kPassphrase,
                                            sizeof kPassphrase - 1, nullptr, nullptr),
              1);
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    const std::string path = dir_.file("encrypted-key.pem");
    write_file(path, std::string(data, static_cast<std::size_t>(length)));
    EXPECT_NE(key_error(path).find("encrypted private key"), std::string::npos);
}

TEST_F(CertificateChainTest, SubjectSansAndValidity) {
    CertificateRequest request;
    request.common_name = "names";
    request.dns_names = {"gw.example.com", "*.example.org"};
    request.ip_addresses = {"127.0.0.1", "::1"};
    request.valid_from_offset_seconds = -7200;
    request.valid_for_seconds = 86400;
    const std::time_t before = std::time(nullptr);
    const IssuedFiles files = pki_.issue(request);
    const std::time_t after = std::time(nullptr);
    const std::vector<X509Ptr> chain = load_ok(files.certificate);
    X509* leaf = chain.at(0).get();

    EXPECT_EQ(certificate_subject(leaf), "CN=names");
    EXPECT_EQ(certificate_sans(leaf),
              (std::vector<std::string>{"gw.example.com", "*.example.org", "127.0.0.1", "::1"}));
    EXPECT_GE(certificate_not_after(leaf), before + 86400);
    EXPECT_LE(certificate_not_after(leaf), after + 86400);
    EXPECT_GE(certificate_not_before(leaf), before - 7200);
    EXPECT_LE(certificate_not_before(leaf), after - 7200);
}

TEST_F(CertificateChainTest, NoSansIsEmpty) {
    CertificateRequest request;
    request.common_name = "nosan";
    const std::vector<X509Ptr> chain = load_ok(pki_.issue(request).certificate);
    EXPECT_TRUE(certificate_sans(chain.at(0).get()).empty());
}

TEST_F(CertificateChainTest, DnsNamesLeaveOutAddresses) {
    CertificateRequest request;
    request.common_name = "dns-only";
    request.dns_names = {"gw.example.com", "*.example.org"};
    request.ip_addresses = {"127.0.0.1"};
    const std::vector<X509Ptr> chain = load_ok(pki_.issue(request).certificate);
    EXPECT_EQ(certificate_dns_names(chain.at(0).get()),
              (std::vector<std::string>{"gw.example.com", "*.example.org"}));
}

// load_certificate_material: the one sequence (chain, key, order, key match, expiry).

TEST_F(CertificateChainTest, MaterialHoldsTheCheckedChainKeyAndLeafFacts) {
    const IssuedFiles files = issue("material.example.com", KeyType::Rsa2048, true);
    const std::time_t now = std::time(nullptr);
    const CertificateLoad load =
        load_certificate_material(files.certificate, files.private_key, now);
    ASSERT_TRUE(load) << load.error.message;
    const CertificateMaterial& material = *load.material;
    EXPECT_EQ(material.certificate_path, files.certificate);
    ASSERT_EQ(material.chain.size(), 2u);
    EXPECT_EQ(certificate_subject(material.chain[1].get()), "CN=chain Intermediate CA");
    EXPECT_EQ(material.leaf(), material.chain.front().get());
    EXPECT_EQ(material.subject, "CN=material.example.com");
    EXPECT_EQ(material.dns_names, std::vector<std::string>{"material.example.com"});
    EXPECT_EQ(material.not_after, certificate_not_after(material.leaf()));
    EXPECT_EQ(material.not_before, certificate_not_before(material.leaf()));
    EXPECT_GT(material.not_after, now);
    std::string error;
    EXPECT_TRUE(check_key_matches(material.leaf(), material.private_key.get(), &error)) << error;
    EXPECT_FALSE(check_not_expired(material, now));
}

TEST_F(CertificateChainTest, MaterialErrorsNameTheFileAtFault) {
    const IssuedFiles files = issue("faults", KeyType::EcdsaP256, true);
    const IssuedFiles other = issue("other");
    const auto error_of = [](const std::string& certificate, const std::string& key) {
        const CertificateLoad load = load_certificate_material(certificate, key, std::nullopt);
        EXPECT_FALSE(load);
        EXPECT_FALSE(load.material.has_value());
        return load.error;
    };

    const std::string missing = dir_.file("missing.pem");
    CertificateLoadError error = error_of(missing, files.private_key);
    EXPECT_EQ(error.file, CertificateFile::Certificate);
    EXPECT_NE(error.message.find(missing), std::string::npos) << error.message;

    error = error_of(files.certificate, missing);
    EXPECT_EQ(error.file, CertificateFile::PrivateKey);
    EXPECT_NE(error.message.find(missing), std::string::npos) << error.message;

    // Both files load, so the order is judged before the key: the chain is at fault.
    const auto [leaf, intermediate] = split_chain(read_file(files.certificate));
    const std::string reversed = dir_.file("faults-reversed.pem");
    write_file(reversed, intermediate + leaf);
    error = error_of(reversed, other.private_key);
    EXPECT_EQ(error.file, CertificateFile::Certificate);
    EXPECT_NE(error.message.find("did not issue"), std::string::npos) << error.message;

    error = error_of(files.certificate, other.private_key);
    EXPECT_EQ(error.file, CertificateFile::PrivateKey);
    EXPECT_NE(error.message.find("does not belong"), std::string::npos) << error.message;
    EXPECT_TRUE(error.message.ends_with(" in \"" + files.certificate + "\"")) << error.message;
}

TEST_F(CertificateChainTest, MaterialRefusesAnExpiredLeafOnlyWhenAskedTo) {
    CertificateRequest request;
    request.common_name = "expired.example.com";
    request.dns_names = {"expired.example.com"};
    request.valid_from_offset_seconds = -7200;
    request.valid_for_seconds = -60;
    const IssuedFiles files = pki_.issue(request);
    const std::time_t now = std::time(nullptr);

    const CertificateLoad unchecked =
        load_certificate_material(files.certificate, files.private_key, std::nullopt);
    ASSERT_TRUE(unchecked) << unchecked.error.message;
    const std::optional<CertificateLoadError> expired = check_not_expired(*unchecked.material, now);
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->file, CertificateFile::Certificate);
    EXPECT_TRUE(expired->message.starts_with("certificate \"CN=expired.example.com\" in \"" +
                                             files.certificate + "\" expired on 20"))
        << expired->message;
    EXPECT_TRUE(expired->message.ends_with(" (notAfter)")) << expired->message;

    const CertificateLoad checked =
        load_certificate_material(files.certificate, files.private_key, now);
    ASSERT_FALSE(checked);
    EXPECT_EQ(checked.error.file, CertificateFile::Certificate);
    EXPECT_EQ(checked.error.message, expired->message);
    // The notAfter instant itself counts as expired.
    EXPECT_TRUE(check_not_expired(*unchecked.material, unchecked.material->not_after));
    EXPECT_FALSE(check_not_expired(*unchecked.material, unchecked.material->not_after - 1));
}

TEST(CertificateExpiryWarningTest, IsFourteenDays) {
    EXPECT_EQ(std::chrono::floor<std::chrono::days>(kCertificateExpiryWarning).count(), 14);
}

}  // namespace
}  // namespace oidcgw::testing
