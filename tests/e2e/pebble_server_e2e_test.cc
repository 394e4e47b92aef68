// The ACME server the gateway's ACME client is tested against: PebbleServer brings pebble up on
// loopback with the options asked for, its DNS sends every name to 127.0.0.1 and nothing to IPv6,
// it stops by pid, and a restart is a new CA on the same URLs.
#include "pebble_server.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <nlohmann/json.hpp>

namespace oidcgw::testing {
namespace {

using nlohmann::json;

X509Ptr parse_certificate(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// A self-signed CA certificate: what a chain the gateway obtained is verified against.
void expect_root_ca(const std::string& pem) {
    const X509Ptr root = parse_certificate(pem);
    ASSERT_TRUE(root) << pem;
    EXPECT_GT(X509_check_ca(root.get()), 0);
    EXPECT_EQ(X509_check_issued(root.get(), root.get()), X509_V_OK);
}

json fetch_directory(const PebbleServer& pebble) {
    const HttpResponse response = http_request(pebble.directory_url(), pebble.https_options());
    EXPECT_EQ(response.status, 200) << response.error;
    return json::parse(response.body, nullptr, false);
}

TEST(PebbleServer, ServesItsDirectoryAndResolvesEveryNameToLoopback) {
    TempDir dir;
    PebbleServer pebble(
        dir.path(), {.certificate_validity = std::chrono::seconds(600), .nonce_reject_percent = 0});
    pebble.start();
    ASSERT_TRUE(pebble.running()) << pebble.log();

    const json directory = fetch_directory(pebble);
    // pebble builds its URLs from the Host asked for: they stay on the directory's origin.
    const std::string origin =
        pebble.directory_url().substr(0, pebble.directory_url().find("/dir"));
    for (const char* resource : {"newNonce", "newAccount", "newOrder"}) {
        ASSERT_TRUE(directory.contains(resource) && directory[resource].is_string()) << directory;
        EXPECT_EQ(directory[resource].get<std::string>().rfind(origin + "/", 0), 0u) << directory;
    }
    EXPECT_EQ(directory.at("meta").at("externalAccountRequired"), false) << directory;

    // The options reached pebble.
    const std::string log = pebble.log();
    EXPECT_NE(log.find("Using certificate validity period of 600 seconds"), std::string::npos);
    EXPECT_NE(log.find("Configured to reject 0% of good nonces"), std::string::npos) << log;
    EXPECT_NE(log.find("authz reuse for each identifier 0% of the time"), std::string::npos);
    EXPECT_NE(log.find("Disabling random VA sleeps"), std::string::npos);

    // What pebble's VA is told for any identifier: the gateway on 127.0.0.1, never [::1].
    EXPECT_EQ(pebble.dns_lookup("gw-test.example", DnsRecordType::A),
              std::vector<std::string>{"127.0.0.1"});
    EXPECT_TRUE(pebble.dns_lookup("gw-test.example", DnsRecordType::Aaaa).empty());
}

TEST(PebbleServer, StopsByPidAndRestartsWithANewRootOnTheSameUrls) {
    TempDir dir;
    PebbleServer pebble(dir.path(), {});
    pebble.start();
    const std::string first_root = pebble.root_pem();
    expect_root_ca(first_root);

    pebble.stop();
    EXPECT_FALSE(pebble.running());
    const HttpResponse refused = http_request(pebble.directory_url(), pebble.https_options());
    EXPECT_EQ(refused.status, 0);
    EXPECT_EQ(refused.error, "Couldn't connect to server");
    pebble.stop();  // idempotent

    pebble.start();
    ASSERT_TRUE(pebble.running()) << pebble.log();
    EXPECT_TRUE(fetch_directory(pebble).contains("newOrder"));
    const std::string second_root = pebble.root_pem();
    expect_root_ca(second_root);
    EXPECT_NE(second_root, first_root);
}

TEST(PebbleServer, RequiresExternalAccountBindingWhenAsked) {
    TempDir dir;
    PebbleServer pebble(dir.path(), {.external_account_binding_required = true});
    pebble.start();  // pebble refuses to start with a MAC key it cannot decode

    EXPECT_EQ(fetch_directory(pebble).at("meta").at("externalAccountRequired"), true);
    EXPECT_FALSE(pebble.eab_key_id().empty());
    // 32 random bytes, base64url without padding, as pebble's configuration wants them.
    EXPECT_EQ(pebble.eab_mac_key().size(), 43u);
    EXPECT_EQ(pebble.eab_mac_key().find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
}

}  // namespace
}  // namespace oidcgw::testing
