#include "publish/publication_assembly.h"

#include "publish_fixtures.h"
#include "unit_support.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

using testing::fixture;
using testing::fixture_issuer;

AcceptedDocuments fixture_pair(std::time_t when) {
    return testing::accepted_fixture_pair(when, when);
}

TEST(PublishPair, BuildsTheResponsesAndSetsTheConfirmationTime) {
    IssuerSlot slot(fixture_issuer());
    AcceptedDocuments documents = fixture_pair(1700000000);
    EXPECT_TRUE(publish_pair(slot, documents, std::chrono::seconds(120)));
    ASSERT_TRUE(slot.published);
    EXPECT_EQ(slot.published->max_age, std::chrono::seconds(120));
    EXPECT_EQ(slot.published->jwks_path, "/.well-known/jwks.json");
    EXPECT_NE(slot.published->jwks.fields_200.find("max-age=120\r\n"), std::string::npos);
    EXPECT_EQ(slot.confirmed_at->load(), 1700000000);
}

TEST(PublishPair, SameBytesKeepTheirPublicationAndLastModified) {
    IssuerSlot slot(fixture_issuer());
    AcceptedDocuments first = fixture_pair(1700000000);
    ASSERT_TRUE(publish_pair(slot, first, std::chrono::seconds(300)));
    const auto published = slot.published;

    AcceptedDocuments again = fixture_pair(1700000500);
    EXPECT_FALSE(publish_pair(slot, again, std::chrono::seconds(300)));
    EXPECT_EQ(slot.published, published);
    EXPECT_EQ(again.discovery_modified, 1700000000);
    EXPECT_EQ(again.jwks_modified, 1700000000);
    EXPECT_EQ(slot.confirmed_at->load(), 1700000500);
}

TEST(PublishPair, ChangedJwksIsRepublishedWhileTheSameDiscoveryKeepsItsLastModified) {
    IssuerSlot slot(fixture_issuer());
    AcceptedDocuments first = fixture_pair(1700000000);
    ASSERT_TRUE(publish_pair(slot, first, std::chrono::seconds(300)));

    AcceptedDocuments next = fixture_pair(1700000900);
    next.jwks_body += "\n";  // other bytes, the same keys
    EXPECT_TRUE(publish_pair(slot, next, std::chrono::seconds(300)));
    EXPECT_EQ(slot.published->documents.discovery_modified, 1700000000);
    EXPECT_EQ(slot.published->documents.jwks_modified, 1700000900);
    EXPECT_EQ(slot.published->jwks.body, next.jwks_body);
}

TEST(PublishPair, NeverMovesTheConfirmationTimeBack) {
    IssuerSlot slot(fixture_issuer());
    slot.confirmed_at->store(1700009999);
    AcceptedDocuments documents = fixture_pair(1700000000);
    EXPECT_TRUE(publish_pair(slot, documents, std::chrono::seconds(300)));
    EXPECT_EQ(slot.confirmed_at->load(), 1700009999);
}

TEST(AssemblePublication, SeedsEachIssuerInOrderAndCarriesTheSettings) {
    std::string error;
    const IssuerUrl other = *parse_issuer_url("https://other.example.com", &error);
    std::vector<std::string> asked;
    const PairSeed seed = [&](const IssuerUrl& issuer) -> std::optional<AcceptedDocuments> {
        asked.push_back(issuer.text);
        if (issuer.text != fixture_issuer().text) return std::nullopt;
        return fixture_pair(1700000000);
    };
    const PublicationSettings settings{std::chrono::seconds(60), std::chrono::seconds(3600), false};
    std::vector<std::string> withdrawn{"left over"};
    const auto publication =
        assemble_publication({fixture_issuer(), other}, settings, nullptr, seed, &withdrawn);
    EXPECT_EQ(asked, (std::vector<std::string>{fixture_issuer().text, other.text}));
    EXPECT_TRUE(withdrawn.empty());
    EXPECT_EQ(publication->max_stale, std::chrono::seconds(3600));
    EXPECT_FALSE(publication->serve_stale);
    ASSERT_EQ(publication->issuers.size(), 2u);
    ASSERT_TRUE(publication->issuers[0].published);
    EXPECT_EQ(publication->issuers[0].published->max_age, std::chrono::seconds(60));
    EXPECT_EQ(publication->issuers[0].confirmed_at->load(), 1700000000);
    EXPECT_FALSE(publication->issuers[1].published);
}

TEST(AssemblePublication, AReloadKeepsPublishedPairsAndTheirFreshness) {
    const PairSeed cache = [](const IssuerUrl&) { return std::optional(fixture_pair(1700000000)); };
    const PublicationSettings settings{std::chrono::seconds(300), std::chrono::seconds(3600), true};
    const auto first = assemble_publication({fixture_issuer()}, settings, nullptr, cache, nullptr);
    first->issuers[0].confirmed_at->store(1700005000);  // a refresher confirmed it since

    const PairSeed never = [](const IssuerUrl&) -> std::optional<AcceptedDocuments> {
        ADD_FAILURE() << "a published pair must not be seeded again";
        return std::nullopt;
    };
    const auto same =
        assemble_publication({fixture_issuer()}, settings, first.get(), never, nullptr);
    EXPECT_EQ(same->issuers[0].published, first->issuers[0].published);
    EXPECT_EQ(same->issuers[0].confirmed_at, first->issuers[0].confirmed_at);

    PublicationSettings longer = settings;
    longer.max_age = std::chrono::seconds(900);
    const auto rebuilt =
        assemble_publication({fixture_issuer()}, longer, first.get(), never, nullptr);
    ASSERT_TRUE(rebuilt->issuers[0].published);
    EXPECT_NE(rebuilt->issuers[0].published, first->issuers[0].published);
    EXPECT_EQ(rebuilt->issuers[0].published->max_age, std::chrono::seconds(900));
    EXPECT_EQ(rebuilt->issuers[0].published->documents.jwks_modified, 1700000000);
    EXPECT_EQ(rebuilt->issuers[0].confirmed_at->load(), 1700005000);
}

TEST(AssemblePublication, WithdrawsAPairWhoseJwksPathBelongsToAnotherIssuer) {
    std::string error;
    const IssuerUrl eu = *parse_issuer_url("https://oidc.nomad.example.com/eu", &error);
    const PairSeed cache = [](const IssuerUrl& issuer) -> std::optional<AcceptedDocuments> {
        if (issuer.text != fixture_issuer().text) return std::nullopt;
        AcceptedDocuments claiming = fixture_pair(1700000000);
        claiming.discovery.jwks_path = "/eu/.well-known/jwks.json";  // the other issuer's path
        return claiming;
    };
    std::vector<std::string> withdrawn;
    const auto publication =
        assemble_publication({fixture_issuer(), eu}, {}, nullptr, cache, &withdrawn);
    ASSERT_EQ(withdrawn.size(), 1u);
    EXPECT_EQ(withdrawn[0].rfind(fixture_issuer().text + ": ", 0), 0u) << withdrawn[0];
    EXPECT_FALSE(publication->issuers[0].published);
}

}  // namespace
}  // namespace oidcgw
