// Keys that encrypt the public side's TLS session tickets (TLS 1.2 and 1.3), owned by the gateway
// rather than by one SSL_CTX, so that tickets issued before a reload still resume after it.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace oidcgw {

class SessionTicketKeys {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    static constexpr std::chrono::seconds kDefaultRotationPeriod{12 * 3600};
    static constexpr std::size_t kNameBytes = 16;  // OpenSSL's ticket key name length

    // `clock` is for tests; the gateway uses the steady clock. No key exists until the first
    // ticket is issued, so constructing this never fails.
    explicit SessionTicketKeys(std::chrono::seconds rotation_period = kDefaultRotationPeriod,
                               Clock clock = std::chrono::steady_clock::now);
    ~SessionTicketKeys();
    SessionTicketKeys(const SessionTicketKeys&) = delete;
    SessionTicketKeys& operator=(const SessionTicketKeys&) = delete;

    // The two halves of OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb), with
    // its return values. Safe to call from every worker thread at once.
    //
    // encrypt: writes the current key's name and a fresh IV, sets up AES-256-CBC and
    // HMAC-SHA256 with the current key, rotating it first when it is rotation_period old.
    // 1 on success, 0 when no key could be made (no ticket is issued), -1 on an OpenSSL error.
    int encrypt(unsigned char key_name[kNameBytes], unsigned char iv[EVP_MAX_IV_LENGTH],
                EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
    // decrypt: finds the key by name. 1 for the current key, 2 for the previous one (the ticket
    // still resumes and is replaced by one under the current key), 0 for an unknown or retired
    // key (a full handshake follows), -1 on an OpenSSL error.
    int decrypt(const unsigned char key_name[kNameBytes], const unsigned char iv[EVP_MAX_IV_LENGTH],
                EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);

    // How many keys have been made so far (the first one included); for logs and tests.
    std::uint64_t keys_made() const;

  private:
    struct Key {
        std::array<unsigned char, kNameBytes> name{};
        std::array<unsigned char, 32> cipher_key{};  // AES-256
        std::array<unsigned char, 32> mac_key{};     // HMAC-SHA256
        std::chrono::steady_clock::time_point made{};
        ~Key();
    };

    // With mutex_ held: makes the first key, or retires the previous one and makes a new
    // current one once the current one is rotation_period old. A failure to get random bytes
    // keeps the keys as they are and is retried on the next call.
    void rotate_if_due();
    static bool make_key(Key* key, std::chrono::steady_clock::time_point now);
    static bool set_mac_key(EVP_MAC_CTX* mac, const Key& key);

    const std::chrono::seconds rotation_period_;
    const Clock clock_;
    mutable std::mutex mutex_;
    std::optional<Key> current_;
    std::optional<Key> previous_;
    std::uint64_t keys_made_ = 0;
};

}  // namespace oidcgw
