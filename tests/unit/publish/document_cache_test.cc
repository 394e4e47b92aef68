#include "publish/document_cache.h"

#include "unit_support.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <filesystem>

namespace oidcgw {
namespace {

using testing::fixture;
using testing::fixture_issuer;
using testing::TempDir;

std::string sha256_hex(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
    std::string hex;
    char byte[3];
    for (unsigned int i = 0; i < length; ++i) {
        std::snprintf(byte, sizeof byte, "%02x", digest[i]);
        hex += byte;
    }
    return hex;
}

AcceptedDocuments fixture_documents() {
    Rejection rejection;
    auto accepted = accept_document_pair(fixture_issuer(), fixture("openid-configuration.json"),
                                         fixture("jwks.json"), 1 << 20, &rejection);
    EXPECT_TRUE(accepted);
    accepted->discovery_modified = 1700000001;
    accepted->jwks_modified = 1700000002;
    accepted->confirmed_at = 1700000003;
    return *accepted;
}

TEST(DocumentCache, RoundTripKeepsBytesAndTimes) {
    TempDir dir;
    DocumentCache cache(dir.path());
    std::string error;
    ASSERT_TRUE(cache.save(fixture_issuer(), fixture_documents(), &error)) << error;
    auto loaded = cache.load(fixture_issuer(), 1 << 20, &error);
    ASSERT_TRUE(loaded) << error;
    EXPECT_EQ(loaded->discovery_body, fixture("openid-configuration.json"));
    EXPECT_EQ(loaded->jwks_body, fixture("jwks.json"));
    EXPECT_EQ(loaded->discovery_modified, 1700000001);
    EXPECT_EQ(loaded->jwks_modified, 1700000002);
    EXPECT_EQ(loaded->confirmed_at, 1700000003);
    EXPECT_EQ(loaded->discovery.jwks_path, "/.well-known/jwks.json");
    // Nothing but the record is left behind (no temporary files).
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        ++files;
        EXPECT_EQ(entry.path().string(), cache.file_for(fixture_issuer()));
    }
    EXPECT_EQ(files, 1);
}

TEST(DocumentCache, AConfirmationMovesConfirmedAtWithoutRewritingTheRecord) {
    TempDir dir;
    DocumentCache cache(dir.path());
    AcceptedDocuments documents = fixture_documents();
    std::string error;
    EXPECT_EQ(cache.confirm(fixture_issuer(), documents, &error),
              DocumentCache::ConfirmResult::RecordMissing);
    ASSERT_TRUE(cache.save(fixture_issuer(), documents, &error)) << error;
    const std::string record = testing::read_file(cache.file_for(fixture_issuer()));

    documents.confirmed_at = 1700000500;
    ASSERT_EQ(cache.confirm(fixture_issuer(), documents, &error),
              DocumentCache::ConfirmResult::Confirmed)
        << error;
    EXPECT_EQ(testing::read_file(cache.file_for(fixture_issuer())), record);
    auto loaded = cache.load(fixture_issuer(), 1 << 20, &error);
    ASSERT_TRUE(loaded) << error;
    EXPECT_EQ(loaded->confirmed_at, 1700000500);
    EXPECT_EQ(loaded->jwks_modified, 1700000002);

    // A confirmation older than the record, or of other bytes, confirms nothing.
    documents.confirmed_at = 1600000000;
    ASSERT_EQ(cache.confirm(fixture_issuer(), documents, &error),
              DocumentCache::ConfirmResult::Confirmed);
    EXPECT_EQ(cache.load(fixture_issuer(), 1 << 20, &error)->confirmed_at, 1700000003);
    AcceptedDocuments other = documents;
    other.jwks_body += " ";
    other.confirmed_at = 1800000000;
    ASSERT_EQ(cache.confirm(fixture_issuer(), other, &error),
              DocumentCache::ConfirmResult::Confirmed);
    EXPECT_EQ(cache.load(fixture_issuer(), 1 << 20, &error)->confirmed_at, 1700000003);
    // Nor does a damaged one.
    testing::write_file(cache.confirmation_file_for(fixture_issuer()), "{\"format\":");
    EXPECT_EQ(cache.load(fixture_issuer(), 1 << 20, &error)->confirmed_at, 1700000003);
}

TEST(DocumentCache, NoFileIsNotAnError) {
    TempDir dir;
    std::string error = "stale";
    EXPECT_FALSE(DocumentCache(dir.path()).load(fixture_issuer(), 1 << 20, &error));
    EXPECT_TRUE(error.empty());
}

TEST(DocumentCache, DisabledCacheSavesNothing) {
    DocumentCache cache("");
    std::string error;
    EXPECT_FALSE(cache.enabled());
    EXPECT_TRUE(cache.save(fixture_issuer(), fixture_documents(), &error));
    EXPECT_FALSE(cache.load(fixture_issuer(), 1 << 20, &error));
}

TEST(DocumentCache, CorruptForeignOrInvalidRecordsAreRefused) {
    TempDir dir;
    DocumentCache cache(dir.path());
    std::string error;
    ASSERT_TRUE(cache.save(fixture_issuer(), fixture_documents(), &error));
    const std::string path = cache.file_for(fixture_issuer());
    const std::string good = testing::read_file(path);

    const auto refused = [&](const std::string& content, const std::string& expected) {
        testing::write_file(path, content);
        std::string reason;
        EXPECT_FALSE(cache.load(fixture_issuer(), 1 << 20, &reason)) << content.substr(0, 60);
        EXPECT_NE(reason.find(expected), std::string::npos) << reason;
    };
    refused(good.substr(0, good.size() / 2), "not a cache record");
    refused("", "not a cache record");
    refused("[]", "not an object");
    auto record = nlohmann::json::parse(good);
    auto foreign = record;
    foreign["issuer"] = "https://elsewhere.example.com";
    refused(foreign.dump(), "another issuer");
    auto wrong_format = record;
    wrong_format["format"] = "something/2";
    refused(wrong_format.dump(), "unknown cache format");
    // A record whose checksums match but whose document fails validation (as a record written
    // by an older, laxer version could).
    auto leaked = record;
    leaked["jwks"] = R"({"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB","d":"AQAB"}]})";
    leaked["jwks_sha256"] = sha256_hex(leaked["jwks"].get<std::string>());
    refused(leaked.dump(), "private_key_material");
    // A body altered on disk, still a valid JWKS: the checksum catches it.
    auto tampered = record;
    std::string jwks = tampered["jwks"];
    jwks.replace(jwks.find("3c0f5e2a"), 8, "4c0f5e2a");
    tampered["jwks"] = jwks;
    refused(tampered.dump(), "checksum");
    auto missing = record;
    missing.erase("jwks_modified");
    refused(missing.dump(), "missing");
    // And the good record still loads once restored.
    testing::write_file(path, good);
    EXPECT_TRUE(cache.load(fixture_issuer(), 1 << 20, &error)) << error;
}

TEST(DocumentCache, FileNamesDifferPerIssuer) {
    DocumentCache cache("/var/lib/oidc-gateway");
    std::string error;
    const auto a = parse_issuer_url("https://a.example.com", &error);
    const auto b = parse_issuer_url("https://a.example.com/", &error);
    EXPECT_NE(cache.file_for(*a), cache.file_for(*b));
    EXPECT_EQ(cache.file_for(*a).rfind("/var/lib/oidc-gateway/issuer-", 0), 0u);
}

TEST(DocumentCache, UnwritableDirectoryReportsWhy) {
    DocumentCache cache("/nonexistent/oidc-gateway-cache");
    std::string error;
    EXPECT_FALSE(cache.save(fixture_issuer(), fixture_documents(), &error));
    EXPECT_NE(error.find("/nonexistent/oidc-gateway-cache"), std::string::npos);
}

}  // namespace
}  // namespace oidcgw
