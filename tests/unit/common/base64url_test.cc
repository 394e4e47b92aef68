// encode_base64url and decode_base64url (base64url.cc): RFC 4648's vectors in the url alphabet,
// agreement with OpenSSL's base64 encoder, and the strictness JOSE parsing relies on.
#include "common/base64url.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <string>

namespace oidcgw {
namespace {

// OpenSSL's standard base64, padding stripped and the two alphabet letters swapped (RFC 4648 §5):
// an encoder written apart from the one under test.
std::string openssl_base64url(const std::string& bytes) {
    std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                       reinterpret_cast<const unsigned char*>(bytes.data()),
                                       static_cast<int>(bytes.size()));
    text.resize(static_cast<std::size_t>(length));
    while (!text.empty() && text.back() == '=') text.pop_back();
    std::replace(text.begin(), text.end(), '+', '-');
    std::replace(text.begin(), text.end(), '/', '_');
    return text;
}

struct KnownEncoding {
    std::string bytes;
    std::string text;
};

TEST(Base64url, KnownVectorsEncodeAndDecode) {
    const KnownEncoding vectors[] = {
        // RFC 4648 §10 (no padding in JOSE).
        {"", ""},
        {"f", "Zg"},
        {"fo", "Zm8"},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg"},
        {"fooba", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy"},
        {"hi", "aGk"},
        // The two letters where the url alphabet differs: 62 is '-', 63 is '_'.
        {std::string("\xfb\xff\xbf", 3), "-_-_"},
        {std::string("\xfb\xef", 2), "--8"},
        {std::string("\xff", 1), "_w"},
        {std::string("\x00\x00\x00", 3), "AAAA"},
        {std::string("\x01\x00\x01", 3), "AQAB"},  // the usual RSA exponent
    };
    for (const KnownEncoding& vector : vectors) {
        EXPECT_EQ(encode_base64url(vector.bytes), vector.text);
        EXPECT_EQ(decode_base64url(vector.text), vector.bytes) << vector.text;
    }
}

TEST(Base64url, EveryByteValueRoundTripsAndMatchesOpenssl) {
    std::string all_bytes;
    for (int value = 0; value < 256; ++value) all_bytes.push_back(static_cast<char>(value));
    // Runs of consecutive byte values from three offsets, with every tail length (0, 1, 2 bytes).
    for (std::size_t start = 0; start < 3; ++start) {
        for (std::size_t length = 0; length + start <= all_bytes.size(); length += 37) {
            const std::string bytes = all_bytes.substr(start, length);
            const std::string text = encode_base64url(bytes);
            EXPECT_EQ(text, openssl_base64url(bytes)) << start << "+" << length;
            EXPECT_EQ(decode_base64url(text), bytes) << start << "+" << length;
        }
    }
    // Each byte value in each of the three positions of a group.
    for (int value = 0; value < 256; ++value) {
        const std::string bytes(3, static_cast<char>(value));
        for (std::size_t length = 1; length <= 3; ++length) {
            const std::string text = encode_base64url(bytes.substr(0, length));
            EXPECT_EQ(text, openssl_base64url(bytes.substr(0, length))) << value;
            EXPECT_EQ(decode_base64url(text), bytes.substr(0, length)) << value;
        }
    }
    EXPECT_EQ(decode_base64url(encode_base64url(all_bytes)), all_bytes);
}

TEST(Base64url, DecodeRefusesAnythingButCanonicalUnpaddedText) {
    EXPECT_EQ(decode_base64url("aGk="), std::nullopt);      // padding
    EXPECT_EQ(decode_base64url("Zm9vYg=="), std::nullopt);  // padding
    EXPECT_EQ(decode_base64url("Zm9v+g"), std::nullopt);    // standard alphabet
    EXPECT_EQ(decode_base64url("a+k"), std::nullopt);       // standard alphabet
    EXPECT_EQ(decode_base64url("a/k"), std::nullopt);
    EXPECT_EQ(decode_base64url("Zm9v\n"), std::nullopt);  // whitespace
    EXPECT_EQ(decode_base64url("Zm 9v"), std::nullopt);
    EXPECT_EQ(decode_base64url(std::string("Zm\0v", 4)), std::nullopt);
    EXPECT_EQ(decode_base64url("a"), std::nullopt);      // no byte string has 1 mod 4 characters
    EXPECT_EQ(decode_base64url("Zm9vY"), std::nullopt);  // impossible length
    EXPECT_EQ(decode_base64url("aGl"), std::nullopt);    // non-zero trailing bits
    EXPECT_EQ(decode_base64url("Zh"), std::nullopt);     // non-zero trailing bits
    EXPECT_EQ(decode_base64url("_x"), std::nullopt);     // "_w" is the one encoding of 0xff
}

}  // namespace
}  // namespace oidcgw
