// Shared bits for unit tests: the fixture documents in Nomad's exact byte form.
#pragma once

#include "config/issuer_url.h"
#include "test_pki.h"

#include <string>

#ifndef OIDCGW_FIXTURES_DIR
#define OIDCGW_FIXTURES_DIR "/work/shared/fixtures"
#endif

namespace oidcgw::testing {

inline std::string fixture(const std::string& name) {
    return read_file(std::string(OIDCGW_FIXTURES_DIR) + "/" + name);
}

// The issuer the fixtures were rendered for.
inline IssuerUrl fixture_issuer() {
    std::string error;
    auto issuer = parse_issuer_url("https://oidc.nomad.example.com", &error);
    return *issuer;
}

}  // namespace oidcgw::testing
