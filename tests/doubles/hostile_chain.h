// A certificate chain no sane server presents, for tests of clients that inspect what a server
// sends: a leaf for a host, followed by many certificates that all carry the leaf's issuer name
// (and each other's), so that every pair looks related by name and only a signature check tells
// them apart. None of them was signed by a key in the chain; nothing in it is trusted.
#pragma once

#include "test_pki.h"

#include <cstddef>
#include <string>

namespace oidcgw::testing {

struct HostileChainRequest {
    std::string host{};              // the leaf's subjectAltName DNS entry
    std::string leaf_common_name{};  // the leaf's subject CN (UTF-8, may hold any character)
    std::size_t fillers = 0;         // certificates after the leaf
};

// Writes the chain (leaf first) and the leaf's private key under `directory`.
IssuedFiles write_hostile_chain(const std::string& directory, const HostileChainRequest& request);

}  // namespace oidcgw::testing
