#include "acme/tls_alpn_challenges.h"

#include "common/ascii.h"

namespace oidcgw {

void TlsAlpnChallenges::add(std::string_view dns_name,
                            std::shared_ptr<const TlsAlpnAnswer> answer) {
    std::lock_guard lock(mutex_);
    answers_[to_lower_ascii(dns_name)] = std::move(answer);
}

void TlsAlpnChallenges::remove(std::string_view dns_name) {
    std::lock_guard lock(mutex_);
    const auto found = answers_.find(to_lower_ascii(dns_name));
    if (found != answers_.end()) answers_.erase(found);
}

void TlsAlpnChallenges::clear() {
    std::lock_guard lock(mutex_);
    answers_.clear();
}

std::shared_ptr<const TlsAlpnAnswer> TlsAlpnChallenges::find(std::string_view server_name) const {
    // A trailing dot names the same host (RFC 6066 says none is sent; some clients do).
    if (!server_name.empty() && server_name.back() == '.') server_name.remove_suffix(1);
    const std::string key = to_lower_ascii(server_name);
    std::lock_guard lock(mutex_);
    const auto found = answers_.find(key);
    return found == answers_.end() ? nullptr : found->second;
}

std::size_t TlsAlpnChallenges::size() const {
    std::lock_guard lock(mutex_);
    return answers_.size();
}

}  // namespace oidcgw
