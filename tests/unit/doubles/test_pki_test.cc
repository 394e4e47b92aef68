// Proves the test PKI and the temporary directory do what other tests rely on: certificates that
// verify for their purpose and only under their own authority, files that round-trip.
#include "test_pki.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace oidcgw::testing {
namespace {

using X509StorePtr = std::unique_ptr<X509_STORE, CDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, CDeleter<X509_STORE_CTX_free>>;
void free_certificate_stack(STACK_OF(X509) * stack) {
    sk_X509_pop_free(stack, X509_free);
}
using X509StackPtr = std::unique_ptr<STACK_OF(X509), CDeleter<free_certificate_stack>>;

std::vector<X509Ptr> load_pem_certificates(const std::string& path) {
    std::string pem = read_file(path);
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    std::vector<X509Ptr> certificates;
    while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
        certificates.emplace_back(certificate);
    }
    ERR_clear_error();  // the loop ends on a "no start line" error
    return certificates;
}

// Verifies the leaf in `chain_file` (plus any intermediates after it) against the root in
// `ca_file` for `purpose`, returning the X509 verify result code.
int verify_chain(const std::string& ca_file, const std::string& chain_file, int purpose) {
    std::vector<X509Ptr> roots = load_pem_certificates(ca_file);
    std::vector<X509Ptr> chain = load_pem_certificates(chain_file);
    if (roots.empty() || chain.empty()) return -1;
    X509StorePtr store(X509_STORE_new());
    for (auto& root : roots) X509_STORE_add_cert(store.get(), root.get());
    X509StackPtr untrusted(sk_X509_new_null());
    for (std::size_t i = 1; i < chain.size(); ++i) {
        X509_up_ref(chain[i].get());
        sk_X509_push(untrusted.get(), chain[i].get());
    }
    X509StoreCtxPtr context(X509_STORE_CTX_new());
    X509_STORE_CTX_init(context.get(), store.get(), chain[0].get(), untrusted.get());
    X509_STORE_CTX_set_purpose(context.get(), purpose);
    int ok = X509_verify_cert(context.get());
    int error = X509_STORE_CTX_get_error(context.get());
    return ok == 1 ? X509_V_OK : (error == X509_V_OK ? -1 : error);
}

TEST(TestPkiTest, ServerCertificateChainsToTheRoot) {
    TempDir directory;
    TestPki pki(directory.path(), "upstream");
    IssuedFiles server = pki.issue({.common_name = "server.global.nomad",
                                    .dns_names = {"server.global.nomad", "localhost"},
                                    .ip_addresses = {"127.0.0.1"}});
    EXPECT_EQ(verify_chain(pki.ca_file(), server.certificate, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    // Issued straight from the root: the file holds the leaf only.
    std::vector<X509Ptr> chain = load_pem_certificates(server.certificate);
    ASSERT_EQ(chain.size(), 1u);
    EXPECT_EQ(X509_check_host(chain[0].get(), "server.global.nomad", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(chain[0].get(), "other.global.nomad", 0, 0, nullptr), 0);
    EXPECT_EQ(X509_check_ip_asc(chain[0].get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(chain[0].get(), "127.0.0.2", 0), 0);
    EXPECT_EQ(X509_check_purpose(chain[0].get(), X509_PURPOSE_SSL_CLIENT, 0), 0);
    EXPECT_EQ(X509_check_ca(chain[0].get()), 0);
}

TEST(TestPkiTest, IntermediateIsWrittenAfterTheLeafAndVerifies) {
    TempDir directory;
    TestPki pki(directory.path(), "public");
    IssuedFiles leaf = pki.issue({.common_name = "oidc.example.com",
                                  .dns_names = {"oidc.example.com"},
                                  .key_type = KeyType::Rsa2048,
                                  .include_intermediate = true});
    std::vector<X509Ptr> chain = load_pem_certificates(leaf.certificate);
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_EQ(X509_check_issued(chain[1].get(), chain[0].get()), X509_V_OK);
    EXPECT_GT(X509_check_ca(chain[1].get()), 0);
    EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(chain[0].get())), EVP_PKEY_RSA);
    EXPECT_EQ(verify_chain(pki.ca_file(), leaf.certificate, X509_PURPOSE_SSL_SERVER), X509_V_OK);

    // Without the intermediate the leaf cannot reach the root.
    TempDir other;
    std::string pem = read_file(leaf.certificate);
    const std::string end_marker = "-----END CERTIFICATE-----\n";
    write_file(other.file("leaf-only.pem"),
               pem.substr(0, pem.find(end_marker) + end_marker.size()));
    EXPECT_EQ(verify_chain(pki.ca_file(), other.file("leaf-only.pem"), X509_PURPOSE_SSL_SERVER),
              X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(TestPkiTest, ClientCertificateHasClientPurposeAndPrivateKeyFile) {
    TempDir directory;
    TestPki pki(directory.path(), "upstream");
    IssuedFiles client = pki.issue({.common_name = "gateway client", .client = true});
    EXPECT_EQ(verify_chain(pki.ca_file(), client.certificate, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    EXPECT_NE(verify_chain(pki.ca_file(), client.certificate, X509_PURPOSE_SSL_SERVER), X509_V_OK);

    struct stat key_status {};
    ASSERT_EQ(::stat(client.private_key.c_str(), &key_status), 0);
    EXPECT_EQ(key_status.st_mode & 0777, 0600u);
    std::string key_pem = read_file(client.private_key);
    EXPECT_EQ(key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);  // PKCS#8

    BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    ASSERT_TRUE(key);
    std::vector<X509Ptr> chain = load_pem_certificates(client.certificate);
    ASSERT_FALSE(chain.empty());
    EXPECT_EQ(X509_check_private_key(chain[0].get(), key.get()), 1);
}

TEST(TestPkiTest, ValidityWindowIsHonoured) {
    TempDir directory;
    TestPki pki(directory.path(), "upstream");
    IssuedFiles expired = pki.issue(
        {.common_name = "expired", .valid_from_offset_seconds = -7200, .valid_for_seconds = -3600});
    EXPECT_EQ(verify_chain(pki.ca_file(), expired.certificate, X509_PURPOSE_SSL_SERVER),
              X509_V_ERR_CERT_HAS_EXPIRED);
    IssuedFiles future = pki.issue({.common_name = "future", .valid_from_offset_seconds = 3600});
    EXPECT_EQ(verify_chain(pki.ca_file(), future.certificate, X509_PURPOSE_SSL_SERVER),
              X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST(TestPkiTest, DifferentAuthoritiesDoNotTrustEachOther) {
    TempDir directory;
    TestPki first(directory.path(), "first");
    TestPki second(directory.path(), "second");
    IssuedFiles leaf = second.issue({.common_name = "server", .dns_names = {"server"}});
    EXPECT_NE(verify_chain(first.ca_file(), leaf.certificate, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    EXPECT_EQ(verify_chain(second.ca_file(), leaf.certificate, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST(TempDirTest, IsRemovedRecursivelyAndFilesRoundTrip) {
    std::string path;
    {
        TempDir directory;
        path = directory.path();
        std::filesystem::create_directories(directory.file("nested/deeper"));
        write_file(directory.file("nested/deeper/data.bin"), std::string("a\0b\xff", 4));
        EXPECT_EQ(read_file(directory.file("nested/deeper/data.bin")), std::string("a\0b\xff", 4));
    }
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDirTest, FileErrorsNameThePath) {
    TempDir directory;
    std::string missing = directory.file("missing/file.txt");
    try {
        read_file(missing);
        ADD_FAILURE() << "read_file did not throw";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find(missing), std::string::npos);
    }
    try {
        write_file(missing, "x");
        ADD_FAILURE() << "write_file did not throw";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find(missing), std::string::npos);
    }
}

}  // namespace
}  // namespace oidcgw::testing
