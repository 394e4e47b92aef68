#include "publish/publication.h"

#include "publish_fixtures.h"
#include "unit_support.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

using testing::fixture;
using testing::fixture_issuer;

IssuerUrl issuer(const std::string& text) {
    std::string error;
    auto parsed = parse_issuer_url(text, &error);
    EXPECT_TRUE(parsed) << error;
    return *parsed;
}

std::shared_ptr<const IssuerPublication> fixture_publication(std::time_t modified = 1700000000) {
    return build_issuer_publication(testing::accepted_fixture_pair(modified),
                                    std::chrono::seconds(300));
}

TEST(AcceptDocumentPair, AcceptsTheFixturesAndNamesTheJwksPath) {
    Rejection rejection;
    auto accepted = accept_document_pair(fixture_issuer(), fixture("openid-configuration.json"),
                                         fixture("jwks.json"), 1 << 20, &rejection);
    ASSERT_TRUE(accepted);
    EXPECT_EQ(accepted->discovery.jwks_path, "/.well-known/jwks.json");
    EXPECT_EQ(accepted->discovery_body, fixture("openid-configuration.json"));
    EXPECT_EQ(accepted->jwks.keys.size(), 2u);
}

TEST(AcceptDocumentPair, RefusesOversizedAndInvalidDocuments) {
    Rejection rejection;
    EXPECT_FALSE(accept_document_pair(fixture_issuer(), fixture("openid-configuration.json"),
                                      fixture("jwks.json"), 100, &rejection));
    EXPECT_EQ(rejection.code, "too_large");
    EXPECT_FALSE(accept_document_pair(fixture_issuer(), fixture("openid-configuration.json"),
                                      "{\"keys\":[]}", 1 << 20, &rejection));
    EXPECT_FALSE(rejection.code.empty());
    EXPECT_FALSE(accept_document_pair(issuer("https://other.example.com"),
                                      fixture("openid-configuration.json"), fixture("jwks.json"),
                                      1 << 20, &rejection));
    EXPECT_EQ(rejection.code, "issuer_mismatch");
}

TEST(BuildIssuerPublication, PrebuildsHeadersAroundTheExactBytes) {
    const auto published = fixture_publication();
    EXPECT_EQ(published->jwks.body, fixture("jwks.json"));
    EXPECT_EQ(published->discovery.body, fixture("openid-configuration.json"));
    const std::string& fields = published->jwks.fields_200;
    EXPECT_NE(fields.find("Content-Type: application/json\r\n"), std::string::npos);
    EXPECT_NE(
        fields.find("Content-Length: " + std::to_string(fixture("jwks.json").size()) + "\r\n"),
        std::string::npos);
    EXPECT_NE(fields.find("Cache-Control: public, max-age=300\r\n"), std::string::npos);
    EXPECT_NE(fields.find("ETag: " + published->jwks.etag + "\r\n"), std::string::npos);
    EXPECT_NE(fields.find("Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n"), std::string::npos);
    EXPECT_NE(fields.find("Strict-Transport-Security: max-age=63072000\r\n"), std::string::npos);
    EXPECT_NE(fields.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos);
    EXPECT_NE(fields.find("Access-Control-Allow-Origin: *\r\n"), std::string::npos);
    EXPECT_EQ(published->jwks.fields_304.find("Content-Length"), std::string::npos);
}

TEST(BuildIssuerPublication, EtagIsStrongAndFollowsTheBytes) {
    const auto a = fixture_publication(1);
    const auto b = fixture_publication(2);
    EXPECT_EQ(a->jwks.etag, b->jwks.etag);  // same bytes, same validator, whatever the time
    EXPECT_NE(a->jwks.etag, a->discovery.etag);
    EXPECT_EQ(a->jwks.etag.front(), '"');
    EXPECT_EQ(a->jwks.etag.back(), '"');
    EXPECT_NE(a->jwks.etag.substr(0, 2), "W/");
}

Publication two_issuers_one_host() {
    Publication publication;
    IssuerSlot nomad(fixture_issuer());
    nomad.published = fixture_publication();
    publication.add_issuer(std::move(nomad));
    publication.add_issuer(IssuerSlot(issuer("https://oidc.nomad.example.com/eu")));  // not ready
    return publication;
}

TEST(RouteRequest, ServesExactlyTheTwoPathsOnTheIssuersHost) {
    const Publication publication = two_issuers_one_host();
    const auto route = [&](std::string_view host, std::string_view path) {
        return route_request(publication, host, path).kind;
    };
    EXPECT_EQ(route("oidc.nomad.example.com", "/.well-known/openid-configuration"),
              RouteKind::Discovery);
    EXPECT_EQ(route("oidc.nomad.example.com", "/.well-known/jwks.json"), RouteKind::Jwks);
    EXPECT_EQ(route("OIDC.Nomad.Example.COM:443", "/.well-known/jwks.json"), RouteKind::Jwks);
    EXPECT_EQ(route("oidc.nomad.example.com:8443", "/.well-known/jwks.json"), RouteKind::NotFound);
    EXPECT_EQ(route("other.example.com", "/.well-known/jwks.json"), RouteKind::NotFound);
    EXPECT_EQ(route("oidc.nomad.example.com.", "/.well-known/jwks.json"), RouteKind::NotFound);
    for (const char* path :
         {"/", "", "/.well-known/jwks.json/", "//.well-known/jwks.json", "/.well-known/%6Awks.json",
          "/./.well-known/jwks.json", "/.well-known/../.well-known/jwks.json",
          "/.WELL-KNOWN/jwks.json", "/v1/.well-known/jwks.json"}) {
        EXPECT_EQ(route("oidc.nomad.example.com", path), RouteKind::NotFound) << path;
    }
}

TEST(RouteRequest, IssuerWithoutDocumentsIsNotReadyOnItsPathsOnly) {
    const Publication publication = two_issuers_one_host();
    EXPECT_EQ(
        route_request(publication, "oidc.nomad.example.com", "/eu/.well-known/openid-configuration")
            .kind,
        RouteKind::NotReady);
    EXPECT_EQ(
        route_request(publication, "oidc.nomad.example.com", "/eu/.well-known/jwks.json").kind,
        RouteKind::NotReady);
    EXPECT_EQ(route_request(publication, "oidc.nomad.example.com", "/eu/other").kind,
              RouteKind::NotFound);
    const RouteResult ready =
        route_request(publication, "oidc.nomad.example.com", "/.well-known/jwks.json");
    ASSERT_NE(ready.document, nullptr);
    EXPECT_EQ(ready.document->body, fixture("jwks.json"));
    EXPECT_EQ(ready.slot, &publication.issuers[0]);
}

// Issue: one issuer's upstream named another issuer's JWKS path as its jwks_uri (it lies under
// its own prefix too), and the first match in configuration order served it.
Publication root_issuer_claiming_the_eu_path(bool root_first) {
    Publication publication;
    IssuerSlot root(fixture_issuer());
    auto hijacking = std::make_shared<IssuerPublication>(*fixture_publication());
    hijacking->jwks_path = "/eu/.well-known/jwks.json";
    root.published = hijacking;
    IssuerSlot eu(issuer("https://oidc.nomad.example.com/eu"));
    if (root_first) {
        publication.add_issuer(std::move(root));
        publication.add_issuer(std::move(eu));
    } else {
        publication.add_issuer(std::move(eu));
        publication.add_issuer(std::move(root));
    }
    return publication;
}

TEST(RouteRequest, APathBelongsToTheLongestIssuerPrefixWhateverTheConfigurationOrder) {
    for (const bool root_first : {true, false}) {
        const Publication publication = root_issuer_claiming_the_eu_path(root_first);
        const RouteResult route =
            route_request(publication, "oidc.nomad.example.com", "/eu/.well-known/jwks.json");
        EXPECT_EQ(route.kind, RouteKind::NotReady) << root_first;  // eu's, not the root's keys
        ASSERT_NE(route.slot, nullptr);
        EXPECT_EQ(route.slot->issuer.text, "https://oidc.nomad.example.com/eu");
        // The root issuer keeps its own discovery path.
        EXPECT_EQ(route_request(publication, "oidc.nomad.example.com",
                                "/.well-known/openid-configuration")
                      .kind,
                  RouteKind::Discovery);
    }
}

// Routing looks up the prefixes of the request path, not every issuer: with many issuers on one
// authority each path still reaches its own, a copy of the publication routes the same, and a
// path of thousands of segments is only looked at as far as the longest configured prefix.
TEST(RouteRequest, ManyIssuersOnOneAuthorityEachGetTheirOwnPaths) {
    Publication publication;
    for (int k = 1; k <= 100; ++k) {
        publication.add_issuer(
            IssuerSlot(issuer("https://oidc.nomad.example.com/i" + std::to_string(k))));
    }
    publication.add_issuer(IssuerSlot(issuer("https://other.example.com/i7")));
    const Publication copy = publication;
    for (const Publication* routed : {static_cast<const Publication*>(&publication), &copy}) {
        for (const int k : {1, 7, 10, 99, 100}) {
            const std::string prefix = "/i" + std::to_string(k);
            const RouteResult route =
                route_request(*routed, "oidc.nomad.example.com", prefix + "/.well-known/jwks.json");
            EXPECT_EQ(route.kind, RouteKind::NotReady) << prefix;
            EXPECT_EQ(route.slot, &routed->issuers[static_cast<std::size_t>(k - 1)]) << prefix;
        }
        const RouteResult other =
            route_request(*routed, "other.example.com", "/i7/.well-known/openid-configuration");
        EXPECT_EQ(other.slot, &routed->issuers[100]);
        EXPECT_EQ(route_request(*routed, "other.example.com", "/i8/.well-known/jwks.json").kind,
                  RouteKind::NotFound);
        EXPECT_EQ(
            route_request(*routed, "oidc.nomad.example.com", "/i101/.well-known/jwks.json").kind,
            RouteKind::NotFound);
        EXPECT_EQ(route_request(*routed, "oidc.nomad.example.com", "/i1").kind,
                  RouteKind::NotFound);
        std::string deep = "/i1";
        for (int i = 0; i < 4000; ++i) deep += "/a";
        EXPECT_EQ(route_request(*routed, "oidc.nomad.example.com", deep).kind, RouteKind::NotFound);
    }
}

TEST(JwksPathConflict, NamesBothIssuersAndWithdrawsTheClaimingPair) {
    Publication publication = root_issuer_claiming_the_eu_path(true);
    const IssuerUrl root = fixture_issuer();
    const std::string conflict = jwks_path_conflict(publication, root, "/eu/.well-known/jwks.json");
    EXPECT_NE(conflict.find("https://oidc.nomad.example.com/eu"), std::string::npos) << conflict;
    EXPECT_NE(conflict.find("\"" + root.text + "\""), std::string::npos) << conflict;
    // Deeper under the other issuer's prefix, and its discovery path, conflict too.
    EXPECT_FALSE(jwks_path_conflict(publication, root, "/eu/keys/jwks.json").empty());
    EXPECT_FALSE(
        jwks_path_conflict(publication, root, "/eu/.well-known/openid-configuration").empty());
    // Its own paths, a look-alike prefix and another host or port do not.
    EXPECT_EQ(jwks_path_conflict(publication, root, "/.well-known/jwks.json"), "");
    EXPECT_EQ(jwks_path_conflict(publication, root, "/europe/.well-known/jwks.json"), "");
    EXPECT_EQ(jwks_path_conflict(publication, issuer("https://other.example.com"),
                                 "/eu/.well-known/jwks.json"),
              "");
    EXPECT_EQ(jwks_path_conflict(publication, issuer("https://oidc.nomad.example.com:8443"),
                                 "/eu/.well-known/jwks.json"),
              "");
    // The eu issuer may publish under its own prefix.
    EXPECT_EQ(jwks_path_conflict(publication, issuer("https://oidc.nomad.example.com/eu"),
                                 "/eu/.well-known/jwks.json"),
              "");

    const std::vector<std::string> withdrawn = withdraw_conflicting_pairs(publication);
    ASSERT_EQ(withdrawn.size(), 1u);
    EXPECT_EQ(withdrawn[0].rfind(root.text + ": ", 0), 0u) << withdrawn[0];
    EXPECT_FALSE(publication.issuers[0].published);
    EXPECT_TRUE(withdraw_conflicting_pairs(publication).empty());
}

}  // namespace
}  // namespace oidcgw
