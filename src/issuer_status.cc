#include "issuer_status.h"

namespace oidcgw {

IssuerStatusBoard::IssuerStatusBoard(const std::vector<std::string>& issuers) {
    for (const std::string& issuer : issuers) {
        IssuerStatus status;
        status.issuer = issuer;
        statuses_.push_back(std::move(status));
    }
}

IssuerStatus IssuerStatusBoard::get(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return statuses_.at(index);
}

std::vector<IssuerStatus> IssuerStatusBoard::all() const {
    std::lock_guard lock(mutex_);
    return statuses_;
}

}  // namespace oidcgw
