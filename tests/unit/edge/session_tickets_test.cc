// The session ticket keys on their own: which key encrypts, which names decrypt, rotation and
// retirement by age, and many workers at once.
#include "edge/session_tickets.h"

#include "common/raii.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace oidcgw::testing {
namespace {

using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CDeleter<EVP_CIPHER_CTX_free>>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, CDeleter<EVP_MAC_free>>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, CDeleter<EVP_MAC_CTX_free>>;

// Keys on a clock the test moves (elapsed_seconds_), and the ticket callback's calls, each with
// a fresh cipher context and HMAC context as OpenSSL hands them over.
class SessionTicketKeysTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(hmac_); }

    SessionTicketKeys keys_rotating_every(std::chrono::seconds period) {
        return SessionTicketKeys(
            period, [this] { return start_ + std::chrono::seconds(elapsed_seconds_); });
    }

    int encrypt(SessionTicketKeys& keys, unsigned char* name, unsigned char* iv) const {
        const EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
        const EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac_.get()));
        return keys.encrypt(name, iv, cipher.get(), mac.get());
    }

    int decrypt(SessionTicketKeys& keys, const unsigned char* name, const unsigned char* iv) const {
        const EvpCipherCtxPtr cipher(EVP_CIPHER_CTX_new());
        const EvpMacCtxPtr mac(EVP_MAC_CTX_new(hmac_.get()));
        return keys.decrypt(name, iv, cipher.get(), mac.get());
    }

    const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::atomic<long> elapsed_seconds_{0};
    EvpMacPtr hmac_{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
};

TEST_F(SessionTicketKeysTest, EncryptsUnderTheCurrentKeyAndFindsOnlyKnownNames) {
    SessionTicketKeys keys = keys_rotating_every(std::chrono::seconds(100));
    unsigned char first_name[16] = {};
    unsigned char iv[EVP_MAX_IV_LENGTH] = {};
    EXPECT_EQ(encrypt(keys, first_name, iv), 1);
    EXPECT_EQ(decrypt(keys, first_name, iv), 1);
    unsigned char unknown[16] = {};
    EXPECT_EQ(decrypt(keys, unknown, iv), 0);
    elapsed_seconds_ = 100;
    unsigned char second_name[16] = {};
    EXPECT_EQ(encrypt(keys, second_name, iv), 1);
    EXPECT_NE(std::string(reinterpret_cast<char*>(first_name), 16),
              std::string(reinterpret_cast<char*>(second_name), 16));
    EXPECT_EQ(decrypt(keys, first_name, iv), 2);
    EXPECT_EQ(decrypt(keys, second_name, iv), 1);
    elapsed_seconds_ = 250;  // checked lazily: one rotation; each key judged by its own age
    EXPECT_EQ(decrypt(keys, first_name, iv), 0);
    EXPECT_EQ(decrypt(keys, second_name, iv), 2);
    EXPECT_EQ(keys.keys_made(), 3u);
}

// Rotation runs only when a ticket is issued or presented; after a quiet spell the key that was
// current must not live on as the "previous" one beyond its two periods.
TEST_F(SessionTicketKeysTest, AfterAQuietSpellAKeyTwoPeriodsOldNoLongerDecrypts) {
    SessionTicketKeys keys = keys_rotating_every(std::chrono::seconds(100));
    unsigned char name[16] = {};
    unsigned char iv[EVP_MAX_IV_LENGTH] = {};
    ASSERT_EQ(encrypt(keys, name, iv), 1);
    elapsed_seconds_ = 150;  // one period and a half: still the previous key
    EXPECT_EQ(decrypt(keys, name, iv), 2);
    elapsed_seconds_ = 200;  // two periods since it was made, though retired only at 150 s
    EXPECT_EQ(decrypt(keys, name, iv), 0);

    SessionTicketKeys quiet = keys_rotating_every(std::chrono::seconds(100));
    elapsed_seconds_ = 0;
    ASSERT_EQ(encrypt(quiet, name, iv), 1);
    elapsed_seconds_ = 250;  // nothing in between: the first use after the spell finds it dead
    EXPECT_EQ(decrypt(quiet, name, iv), 0);
}

TEST_F(SessionTicketKeysTest, ServesEveryWorkerAtOnce) {
    SessionTicketKeys keys = keys_rotating_every(std::chrono::seconds(10));
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&, w] {
            for (int i = 0; i < 200; ++i) {
                unsigned char name[16];
                unsigned char iv[EVP_MAX_IV_LENGTH];
                if (encrypt(keys, name, iv) != 1) ++failures;
                if (decrypt(keys, name, iv) < 0) ++failures;
                // Worker 0 moves the clock after its own calls, up to 199 s: rotations happen
                // at 10, 20, ... 190 s while the others encrypt and decrypt.
                if (w == 0 && i < 199) ++elapsed_seconds_;
            }
        });
    }
    for (std::thread& worker : workers) worker.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(keys.keys_made(), 20u);  // the first key, then one per 10 s
}

}  // namespace
}  // namespace oidcgw::testing
