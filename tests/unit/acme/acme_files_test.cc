// cache_dir/acme (src/acme/acme_files.cc): what is written reads back; what was tampered with,
// cut short or is for other names is refused with the reason.
#include "acme/acme_files.h"

#include "common/certificate_chain.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <string>

namespace oidcgw::testing {
namespace {

class AcmeFilesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string error;
        ASSERT_TRUE(files_.ensure_directory(&error)) << error;
    }

    // Issues a certificate for `names` and keeps it as the ACME client would.
    void keep(const std::vector<std::string>& names, long valid_for = 30L * 24 * 3600) {
        CertificateRequest request;
        request.common_name = "acme-" + std::to_string(serial_++);
        request.dns_names = names;
        request.include_intermediate = true;
        request.valid_for_seconds = valid_for;
        const IssuedFiles issued = pki_.issue(request);
        std::string error;
        EvpPkeyPtr key = load_private_key(issued.private_key, &error);
        ASSERT_TRUE(key) << error;
        ASSERT_TRUE(files_.save_certificate(read_file(issued.certificate), key.get(), &error))
            << error;
    }

    std::shared_ptr<const CertificateMaterial> load(const std::vector<std::string>& names,
                                                    std::string* error, bool* missing) {
        return files_.load_certificate(names, std::time(nullptr), missing, error);
    }

    TempDir directory_;
    TestPki pki_{directory_.path(), "acme-files"};
    AcmeFiles files_{directory_.path()};
    int serial_ = 0;
};

TEST_F(AcmeFilesTest, KeepsTheCertificateAndItsKeyPrivately) {
    keep({"gw.example", "b.example"});
    std::string error;
    bool missing = true;
    const auto material = load({"GW.example", "b.example"}, &error, &missing);
    ASSERT_TRUE(material) << error;
    EXPECT_FALSE(missing);
    EXPECT_EQ(material->chain.size(), 2u);  // as the CA gave it
    struct stat status {};
    ASSERT_EQ(::stat(files_.certificate_key_path().c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(files_.directory().c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 0777, 0700u);
}

TEST_F(AcmeFilesTest, NoCertificateIsMissingNotAnError) {
    std::string error;
    bool missing = false;
    EXPECT_FALSE(load({"gw.example"}, &error, &missing));
    EXPECT_TRUE(missing);
    EXPECT_EQ(error, "");
}

TEST_F(AcmeFilesTest, RefusesACertificateForOtherNames) {
    keep({"gw.example"});
    std::string error;
    bool missing = false;
    EXPECT_FALSE(load({"gw.example", "new.example"}, &error, &missing));
    EXPECT_FALSE(missing);
    EXPECT_NE(error.find("does not name \"new.example\""), std::string::npos) << error;
}

TEST_F(AcmeFilesTest, RefusesTamperedTruncatedOrExpiredFiles) {
    std::string error;
    bool missing = false;
    keep({"gw.example"});
    const std::string chain = read_file(files_.certificate_path());
    write_file(files_.certificate_path(), chain.substr(0, chain.size() / 2));
    EXPECT_FALSE(load({"gw.example"}, &error, &missing));
    EXPECT_NE(error.find(files_.certificate_path()), std::string::npos) << error;

    keep({"gw.example"});
    const std::string first_key = read_file(files_.certificate_key_path());
    keep({"gw.example"});
    write_file(files_.certificate_key_path(), first_key);  // another certificate's key
    EXPECT_FALSE(load({"gw.example"}, &error, &missing));
    EXPECT_NE(error.find("does not belong to the certificate"), std::string::npos) << error;

    write_file(files_.certificate_key_path(), "-----BEGIN PRIVATE KEY-----\ngarbage\n");
    EXPECT_FALSE(load({"gw.example"}, &error, &missing));
    EXPECT_NE(error.find(files_.certificate_key_path()), std::string::npos) << error;

    keep({"gw.example"}, /*valid_for=*/-60);
    EXPECT_FALSE(load({"gw.example"}, &error, &missing));
    EXPECT_NE(error.find("expired"), std::string::npos) << error;
}

TEST_F(AcmeFilesTest, TheAccountKeyAndUrlRoundTripAndABadKeyIsRefused) {
    std::string error;
    bool missing = false;
    EXPECT_FALSE(files_.load_account_key(&missing, &error));
    EXPECT_TRUE(missing);

    CertificateRequest request;
    request.common_name = "account";
    const IssuedFiles issued = pki_.issue(request);
    EvpPkeyPtr key = load_private_key(issued.private_key, &error);
    ASSERT_TRUE(key) << error;
    ASSERT_TRUE(files_.save_account_key(key.get(), &error)) << error;
    EvpPkeyPtr loaded = files_.load_account_key(&missing, &error);
    ASSERT_TRUE(loaded) << error;
    EXPECT_EQ(EVP_PKEY_eq(loaded.get(), key.get()), 1);

    ASSERT_TRUE(files_.save_account_url("https://ca/dir", "https://ca/acct/1", &error)) << error;
    EXPECT_EQ(files_.load_account_url("https://ca/dir"), "https://ca/acct/1");
    EXPECT_EQ(files_.load_account_url("https://other-ca/dir"), "");  // another CA's account

    write_file(files_.account_key_path(), "not a key");
    EXPECT_FALSE(files_.load_account_key(&missing, &error));
    EXPECT_FALSE(missing);
    EXPECT_NE(error.find(files_.account_key_path()), std::string::npos) << error;

    request.common_name = "rsa-account";
    request.key_type = KeyType::Rsa2048;
    const IssuedFiles rsa = pki_.issue(request);
    write_file(files_.account_key_path(), read_file(rsa.private_key));
    EXPECT_FALSE(files_.load_account_key(&missing, &error));
    EXPECT_NE(error.find("not an ECDSA P-256 key"), std::string::npos) << error;
}

TEST_F(AcmeFilesTest, OneGatewayAtATimeHoldsTheOrderingLock) {
    std::string error;
    bool busy = true;
    UniqueFd first = files_.try_lock(&busy, &error);
    ASSERT_GE(first.get(), 0) << error;
    EXPECT_FALSE(busy);
    UniqueFd second = files_.try_lock(&busy, &error);  // another open file description
    EXPECT_LT(second.get(), 0);
    EXPECT_TRUE(busy);
    first = UniqueFd();
    UniqueFd third = files_.try_lock(&busy, &error);
    EXPECT_GE(third.get(), 0) << error;
}

}  // namespace
}  // namespace oidcgw::testing
