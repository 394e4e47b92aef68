#include "publish/publication_assembly.h"

namespace oidcgw {

bool publish_pair(IssuerSlot& slot, AcceptedDocuments& documents, std::chrono::seconds max_age) {
    if (slot.confirmed_at->load(std::memory_order_relaxed) < documents.confirmed_at) {
        slot.confirmed_at->store(documents.confirmed_at, std::memory_order_relaxed);
    }
    if (const IssuerPublication* previous = slot.published.get()) {
        const bool same_discovery = previous->documents.discovery_body == documents.discovery_body;
        const bool same_jwks = previous->documents.jwks_body == documents.jwks_body;
        if (same_discovery) documents.discovery_modified = previous->documents.discovery_modified;
        if (same_jwks) documents.jwks_modified = previous->documents.jwks_modified;
        if (same_discovery && same_jwks) return false;  // nothing to publish
    }
    slot.published = build_issuer_publication(documents, max_age);
    return true;
}

std::shared_ptr<Publication> assemble_publication(const std::vector<IssuerUrl>& issuers,
                                                  const PublicationSettings& settings,
                                                  const Publication* previous, const PairSeed& seed,
                                                  std::vector<std::string>* withdrawn) {
    auto publication = std::make_shared<Publication>();
    publication->max_stale = settings.max_stale;
    publication->serve_stale = settings.serve_stale;
    for (const IssuerUrl& issuer : issuers) {
        IssuerSlot slot(issuer);
        const IssuerSlot* kept = nullptr;
        if (previous != nullptr) {
            for (const IssuerSlot& existing : previous->issuers) {
                if (existing.issuer.text == issuer.text && existing.published) kept = &existing;
            }
        }
        if (kept != nullptr) {
            slot.confirmed_at = kept->confirmed_at;  // freshness survives the reload
            if (kept->published->max_age == settings.max_age) {
                slot.published = kept->published;
            } else {
                AcceptedDocuments documents = kept->published->documents;
                publish_pair(slot, documents, settings.max_age);
            }
        } else if (seed) {
            if (std::optional<AcceptedDocuments> seeded = seed(issuer)) {
                publish_pair(slot, *seeded, settings.max_age);
            }
        }
        publication->add_issuer(std::move(slot));
    }
    std::vector<std::string> lines = withdraw_conflicting_pairs(*publication);
    if (withdrawn != nullptr) *withdrawn = std::move(lines);
    return publication;
}

}  // namespace oidcgw
