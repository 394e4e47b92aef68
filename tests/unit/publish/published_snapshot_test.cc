#include "publish/published_snapshot.h"

#include <gtest/gtest.h>

#include <thread>

namespace oidcgw {
namespace {

std::shared_ptr<const Publication> publication_with(std::size_t issuers) {
    auto publication = std::make_shared<Publication>();
    std::string error;
    for (std::size_t i = 0; i < issuers; ++i) {
        publication->add_issuer(IssuerSlot(
            *parse_issuer_url("https://issuer" + std::to_string(i) + ".example.com", &error)));
    }
    return publication;
}

TEST(PublishedSnapshot, ReaderSeesEachPublication) {
    PublishedSnapshot snapshot(publication_with(1));
    PublishedSnapshot::Reader reader(snapshot);
    const Publication* first = &reader.current();
    EXPECT_EQ(first->issuers.size(), 1u);
    EXPECT_EQ(&reader.current(), first);  // unchanged generation: the same object
    snapshot.publish(publication_with(2));
    EXPECT_EQ(reader.current().issuers.size(), 2u);
}

TEST(PublishedSnapshot, ReaderKeepsItsPublicationAliveAcrossSwaps) {
    PublishedSnapshot snapshot(publication_with(3));
    PublishedSnapshot::Reader reader(snapshot);
    const Publication& held = reader.current();
    snapshot.publish(publication_with(1));
    EXPECT_EQ(held.issuers.size(), 3u);  // still valid until the reader looks again
    EXPECT_EQ(reader.current().issuers.size(), 1u);
}

TEST(PublishedSnapshot, ConcurrentUpdatesAreNotLost) {
    PublishedSnapshot snapshot(publication_with(0));
    constexpr int kThreads = 4;
    constexpr int kUpdatesEach = 200;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&snapshot, t] {
            std::string error;
            for (int i = 0; i < kUpdatesEach; ++i) {
                snapshot.update([&](const Publication& current) {
                    auto next = std::make_shared<Publication>(current);
                    next->add_issuer(IssuerSlot(*parse_issuer_url(
                        "https://t" + std::to_string(t) + "-" + std::to_string(i) + ".example.com",
                        &error)));
                    return next;
                });
            }
        });
    }
    PublishedSnapshot::Reader reader(snapshot);
    for (int i = 0; i < 1000; ++i) (void)reader.current().issuers.size();
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(reader.current().issuers.size(), static_cast<std::size_t>(kThreads * kUpdatesEach));
}

TEST(PublishedSnapshot, UpdateReturningNullPublishesNothing) {
    PublishedSnapshot snapshot(publication_with(1));
    const auto before = snapshot.generation();
    snapshot.update([](const Publication&) { return std::shared_ptr<const Publication>(); });
    EXPECT_EQ(snapshot.generation(), before);
}

}  // namespace
}  // namespace oidcgw
