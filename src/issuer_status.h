// What operators (and /readyz) need to know about each issuer's fetching, kept apart from the
// publication so that recording a failure never disturbs what is served.
#pragma once

#include <ctime>
#include <mutex>
#include <string>
#include <vector>

namespace oidcgw {

struct IssuerStatus {
    std::string issuer;
    std::string source;            // "", "cache" or "upstream": where the served pair came from
    std::time_t last_success = 0;  // last round that an upstream answered with a valid pair
    std::time_t last_change = 0;   // last time the served bytes changed
    std::string last_error;        // last failed round's reason; cleared by a success
    std::string last_rejection;    // last document refused, with its reason
    std::vector<std::string> warnings;  // from the served pair's validation
};

class IssuerStatusBoard {
  public:
    explicit IssuerStatusBoard(const std::vector<std::string>& issuers);

    IssuerStatus get(std::size_t index) const;
    std::vector<IssuerStatus> all() const;

    template <typename Change>
    void modify(std::size_t index, Change&& change) {
        std::lock_guard lock(mutex_);
        change(statuses_.at(index));
    }

  private:
    mutable std::mutex mutex_;
    std::vector<IssuerStatus> statuses_;
};

}  // namespace oidcgw
