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

TEST(Digest, Sha256BytesAreTheRawDigest) {
    // FIPS 180-2 "abc", byte for byte.
    const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                   0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                   0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    EXPECT_EQ(sha256_bytes("abc"), std::string(reinterpret_cast<const char*>(abc), sizeof abc));
    EXPECT_EQ(sha256_bytes("").size(), 32u);
}

TEST(Digest, PrefixIsTheFirstBytes) {
    EXPECT_EQ(sha256_hex("abc", 4), "ba7816bf");
    EXPECT_EQ(sha256_hex("abc", 100).size(), 64u);
}

}  // namespace
}  // namespace oidcgw
