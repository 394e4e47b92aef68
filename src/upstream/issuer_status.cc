#include "upstream/issuer_status.h"

namespace oidcgw {

void IssuerStatusBoard::set_issuers(const std::vector<std::string>& issuers) {
    std::lock_guard lock(mutex_);
    std::vector<IssuerStatus> next;
    for (const std::string& issuer : issuers) {
        IssuerStatus entry;
        entry.issuer = issuer;
        for (IssuerStatus& existing : statuses_) {
            if (existing.issuer == issuer) entry = std::move(existing);
        }
        next.push_back(std::move(entry));
    }
    statuses_ = std::move(next);
}

std::optional<IssuerStatus> IssuerStatusBoard::get(const std::string& issuer) const {
    std::lock_guard lock(mutex_);
    for (const IssuerStatus& status : statuses_) {
        if (status.issuer == issuer) return status;
    }
    return std::nullopt;
}

std::vector<IssuerStatus> IssuerStatusBoard::all() const {
    std::lock_guard lock(mutex_);
    return statuses_;
}

}  // namespace oidcgw
