// Shared by the tests of tests/unit/publish: the fixture pair, accepted, with its times set.
#pragma once

#include "publish/publication.h"
#include "unit_support.h"

#include <gtest/gtest.h>

#include <ctime>

namespace oidcgw::testing {

// The fixture discovery document and JWKS accepted for the fixture issuer; both modified at
// `modified`, confirmed at `confirmed`.
inline AcceptedDocuments accepted_fixture_pair(std::time_t modified, std::time_t confirmed = 0) {
    Rejection rejection;
    auto accepted = accept_document_pair(fixture_issuer(), fixture("openid-configuration.json"),
                                         fixture("jwks.json"), 1 << 20, &rejection);
    EXPECT_TRUE(accepted) << rejection.code << ": " << rejection.detail;
    if (!accepted) return {};
    accepted->discovery_modified = modified;
    accepted->jwks_modified = modified;
    accepted->confirmed_at = confirmed;
    return std::move(*accepted);
}

}  // namespace oidcgw::testing
