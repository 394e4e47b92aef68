// The one place an accepted discovery/JWKS pair is made servable: the gateway's start and reload
// (seeding from the disk cache or keeping what was published) and a refresher accepting a pair
// all go through publish_pair; start and reload assemble the whole Publication with
// assemble_publication.
#pragma once

#include "config/issuer_url.h"
#include "publish/publication.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace oidcgw {

// Places `documents` in `slot`, its responses built for `max_age`. A document whose bytes equal
// those the slot already publishes keeps their Last-Modified (written back into `documents`), so
// caches see no change; when both do, the published responses are kept and false is returned.
// The slot's confirmation time (shared by every copy of the slot) moves to
// documents.confirmed_at when that is later, never back.
bool publish_pair(IssuerSlot& slot, AcceptedDocuments& documents, std::chrono::seconds max_age);

// How the configuration says a publication is served.
struct PublicationSettings {
    std::chrono::seconds max_age{300};
    std::chrono::seconds max_stale{24 * 3600};
    bool serve_stale = true;
};

// A pair to start an issuer with (the disk cache), or nullopt.
using PairSeed = std::function<std::optional<AcceptedDocuments>(const IssuerUrl& issuer)>;

// The publication for `issuers`, in that order (start: `previous` null; reload: the current one).
// An issuer `previous` publishes a pair for keeps it and its confirmation time, the responses
// rebuilt only when max_age changed; any other issuer starts with what `seed` gives. Then every
// pair whose JWKS path conflicts is withdrawn, one "issuer: reason" line each in *withdrawn.
std::shared_ptr<Publication> assemble_publication(const std::vector<IssuerUrl>& issuers,
                                                  const PublicationSettings& settings,
                                                  const Publication* previous, const PairSeed& seed,
                                                  std::vector<std::string>* withdrawn);

}  // namespace oidcgw
