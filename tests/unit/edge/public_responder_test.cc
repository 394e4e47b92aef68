#include "edge/public_responder.h"

#include "unit_support.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

using testing::fixture;
using testing::fixture_issuer;

constexpr std::string_view kDate = "Sun, 22 Nov 2026 10:00:00 GMT";

class PublicResponderTest : public ::testing::Test {
  protected:
    void SetUp() override {
        Rejection rejection;
        auto accepted = accept_document_pair(fixture_issuer(), fixture("openid-configuration.json"),
                                             fixture("jwks.json"), 1 << 20, &rejection);
        ASSERT_TRUE(accepted);
        accepted->discovery_modified = 1700000000;
        accepted->jwks_modified = 1700000000;
        IssuerSlot slot(fixture_issuer());
        slot.published = build_issuer_publication(std::move(*accepted), std::chrono::seconds(60));
        publication_.add_issuer(std::move(slot));
    }

    // Parses `head` with the real parser and answers it.
    std::string answer(const std::string& head, bool* keep_alive = nullptr,
                       PublicResponseInfo* info = nullptr) {
        head_ = head;
        const ParseResult parsed = parse_request(head_);
        EXPECT_EQ(parsed.status, ParseStatus::Complete) << head;
        std::string out;
        const bool alive =
            respond_to_public_request(publication_, parsed.request, kDate, out, info);
        if (keep_alive != nullptr) *keep_alive = alive;
        return out;
    }

    Publication publication_;
    std::string head_;
};

TEST_F(PublicResponderTest, GetIsTheFullPrebuiltResponse) {
    bool keep_alive = false;
    const std::string out = answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n\r\n", &keep_alive);
    EXPECT_TRUE(keep_alive);
    EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\nDate: Sun, 22 Nov 2026 10:00:00 GMT\r\n", 0), 0u);
    const std::size_t end_of_head = out.find("\r\n\r\n");
    ASSERT_NE(end_of_head, std::string::npos);
    EXPECT_EQ(out.substr(end_of_head + 4), fixture("jwks.json"));
    EXPECT_EQ(out.find("Connection:"), std::string::npos);
    EXPECT_EQ(out.find("Server:"), std::string::npos);
}

TEST_F(PublicResponderTest, HeadHasTheSameHeadAndNoBody) {
    const std::string get =
        answer("GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n\r\n");
    const std::string head =
        answer("HEAD /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n\r\n");
    EXPECT_EQ(head, get.substr(0, get.find("\r\n\r\n") + 4));
}

TEST_F(PublicResponderTest, ConditionalRequestsGet304) {
    const std::string etag = publication_.issuers[0].published->jwks.etag;
    bool keep_alive = false;
    PublicResponseInfo info;
    std::string out = answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n"
        "If-None-Match: \"x\", " +
            etag + "\r\n\r\n",
        &keep_alive, &info);
    EXPECT_EQ(info.status, 304);
    EXPECT_TRUE(keep_alive);
    EXPECT_EQ(out.rfind("HTTP/1.1 304 Not Modified\r\n", 0), 0u);
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
    EXPECT_NE(out.find("ETag: " + etag), std::string::npos);

    answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n"
        "If-None-Match: W/" +
            etag + "\r\n\r\n",
        nullptr, &info);
    EXPECT_EQ(info.status, 304);  // weak comparison for If-None-Match
    answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n"
        "If-None-Match: \"other\"\r\n\r\n",
        nullptr, &info);
    EXPECT_EQ(info.status, 200);
    answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n"
        "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n",
        nullptr, &info);
    EXPECT_EQ(info.status, 304);
    answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n"
        "If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n\r\n",
        nullptr, &info);
    EXPECT_EQ(info.status, 200);
    // If-None-Match wins over If-Modified-Since.
    answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n"
        "If-None-Match: \"other\"\r\nIf-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n",
        nullptr, &info);
    EXPECT_EQ(info.status, 200);
}

TEST_F(PublicResponderTest, OptionsIsACorsPreflightAnswer) {
    PublicResponseInfo info;
    const std::string out = answer(
        "OPTIONS /.well-known/openid-configuration HTTP/1.1\r\nHost: "
        "oidc.nomad.example.com\r\n\r\n",
        nullptr, &info);
    EXPECT_EQ(info.status, 204);
    EXPECT_NE(out.find("Allow: GET, HEAD, OPTIONS\r\n"), std::string::npos);
    EXPECT_NE(out.find("Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"), std::string::npos);
    EXPECT_NE(out.find("Access-Control-Allow-Origin: *\r\n"), std::string::npos);
    EXPECT_EQ(out.find("Content-Length"), std::string::npos);
}

TEST_F(PublicResponderTest, ErrorsAreFixedSmallAndClose) {
    struct Case {
        std::string head;
        int status;
    };
    const std::vector<Case> cases = {
        {"GET /nope HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n\r\n", 404},
        {"GET /.well-known/jwks.json HTTP/1.1\r\nHost: elsewhere.example.com\r\n\r\n", 404},
        {"POST /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n\r\n", 405},
        {"PUT /nope HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n\r\n", 404},
    };
    for (const Case& test : cases) {
        bool keep_alive = true;
        PublicResponseInfo info;
        const std::string out = answer(test.head, &keep_alive, &info);
        EXPECT_EQ(info.status, test.status) << test.head;
        EXPECT_FALSE(keep_alive);
        EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
        EXPECT_LT(out.size(), 400u);
        EXPECT_EQ(out.find("elsewhere"), std::string::npos);  // never echoes the request
        EXPECT_EQ(out.find("/nope"), std::string::npos);
        if (test.status == 405) {
            EXPECT_NE(out.find("Allow: GET, HEAD, OPTIONS\r\n"), std::string::npos);
        }
    }
}

TEST_F(PublicResponderTest, NotReadyIs503) {
    std::string error;
    publication_.add_issuer(IssuerSlot(*parse_issuer_url("https://second.example.com/x", &error)));
    PublicResponseInfo info;
    const std::string out = answer(
        "GET /x/.well-known/openid-configuration HTTP/1.1\r\nHost: second.example.com\r\n\r\n",
        nullptr, &info);
    EXPECT_EQ(info.status, 503);
    EXPECT_EQ(info.route, RouteKind::NotReady);
    EXPECT_NE(out.find("Retry-After: 10\r\n"), std::string::npos);
    EXPECT_EQ(out.find('{'), std::string::npos);
}

TEST_F(PublicResponderTest, Http10KeepAliveIsExplicit) {
    bool keep_alive = true;
    std::string out = answer(
        "GET /.well-known/jwks.json HTTP/1.0\r\nHost: oidc.nomad.example.com\r\n\r\n", &keep_alive);
    EXPECT_FALSE(keep_alive);
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
    out = answer(
        "GET /.well-known/jwks.json HTTP/1.0\r\nHost: oidc.nomad.example.com\r\n"
        "Connection: keep-alive\r\n\r\n",
        &keep_alive);
    EXPECT_TRUE(keep_alive);
    EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
    out = answer(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: oidc.nomad.example.com\r\n"
        "Connection: close\r\n\r\n",
        &keep_alive);
    EXPECT_FALSE(keep_alive);
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(PublicResponderTest, ParseErrorsHaveFixedBodies) {
    for (int status : {400, 414, 417, 431, 505}) {
        std::string out;
        respond_to_public_parse_error(status, kDate, out);
        EXPECT_EQ(out.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0), 0u);
        EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
        EXPECT_LT(out.size(), 400u);
    }
}

TEST(IfNoneMatch, Matching) {
    EXPECT_TRUE(if_none_match_matches("*", "\"a\""));
    EXPECT_TRUE(if_none_match_matches("\"a\"", "\"a\""));
    EXPECT_TRUE(if_none_match_matches(" \"b\" ,\t\"a\" ", "\"a\""));
    EXPECT_TRUE(if_none_match_matches("W/\"a\"", "\"a\""));
    EXPECT_FALSE(if_none_match_matches("\"ab\"", "\"a\""));
    EXPECT_FALSE(if_none_match_matches("a", "\"a\""));
    EXPECT_FALSE(if_none_match_matches("", "\"a\""));
}

}  // namespace
}  // namespace oidcgw
