#include "edge/session_tickets.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace oidcgw {

SessionTicketKeys::Key::~Key() {
    OPENSSL_cleanse(cipher_key.data(), cipher_key.size());
    OPENSSL_cleanse(mac_key.data(), mac_key.size());
}

SessionTicketKeys::SessionTicketKeys(std::chrono::seconds rotation_period, Clock clock)
    : rotation_period_(rotation_period), clock_(std::move(clock)) {}

SessionTicketKeys::~SessionTicketKeys() = default;

bool SessionTicketKeys::make_key(Key* key, std::chrono::steady_clock::time_point now) {
    key->made = now;
    return RAND_bytes(key->name.data(), static_cast<int>(key->name.size())) == 1 &&
           RAND_priv_bytes(key->cipher_key.data(), static_cast<int>(key->cipher_key.size())) == 1 &&
           RAND_priv_bytes(key->mac_key.data(), static_cast<int>(key->mac_key.size())) == 1;
}

// Rotation happens when a ticket is issued or presented, so after a quiet spell it can come late:
// each key is judged by its own age, and a key two periods old never decrypts again whatever the
// last rotation was.
void SessionTicketKeys::rotate_if_due() {
    const auto now = clock_();
    if (previous_ && now - previous_->made >= 2 * rotation_period_) previous_.reset();
    if (current_ && now - current_->made < rotation_period_) return;
    Key next;
    if (!make_key(&next, now)) {
        // No new key: the old ones still retire on time.
        if (current_ && now - current_->made >= 2 * rotation_period_) current_.reset();
        return;
    }
    ++keys_made_;
    // The key it replaces still decrypts the tickets it issued, until it is two periods old.
    if (current_ && now - current_->made < 2 * rotation_period_) {
        previous_ = *current_;
    } else {
        previous_.reset();
    }
    current_ = next;
}

bool SessionTicketKeys::set_mac_key(EVP_MAC_CTX* mac, const Key& key) {
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(
            OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.mac_key.data()), key.mac_key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

int SessionTicketKeys::encrypt(unsigned char key_name[kNameBytes],
                               unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
                               EVP_MAC_CTX* mac) {
    const std::lock_guard<std::mutex> lock(mutex_);
    rotate_if_due();
    if (!current_) return 0;
    const EVP_CIPHER* aes = EVP_aes_256_cbc();
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1) return -1;
    std::memcpy(key_name, current_->name.data(), kNameBytes);
    if (EVP_EncryptInit_ex(cipher, aes, nullptr, current_->cipher_key.data(), iv) != 1) return -1;
    return set_mac_key(mac, *current_) ? 1 : -1;
}

int SessionTicketKeys::decrypt(const unsigned char key_name[kNameBytes],
                               const unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
                               EVP_MAC_CTX* mac) {
    const std::lock_guard<std::mutex> lock(mutex_);
    rotate_if_due();
    const auto named = [&](const std::optional<Key>& key) {
        return key && std::equal(key->name.begin(), key->name.end(), key_name);
    };
    const bool is_current = named(current_);
    if (!is_current && !named(previous_)) return 0;
    const Key& key = is_current ? *current_ : *previous_;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.cipher_key.data(), iv) != 1) {
        return -1;
    }
    if (!set_mac_key(mac, key)) return -1;
    return is_current ? 1 : 2;
}

std::uint64_t SessionTicketKeys::keys_made() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return keys_made_;
}

}  // namespace oidcgw
