#include "common/digest.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

TEST(Digest, Sha256HexMatchesTheStandardVectors) {
    // FIPS 180-2 test vectors.
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, PrefixIsTheFirstBytes) {
    EXPECT_EQ(sha256_hex("abc", 4), "ba7816bf");
    EXPECT_EQ(sha256_hex("abc", 100).size(), 64u);
}

}  // namespace
}  // namespace oidcgw
