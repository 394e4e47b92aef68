#include "ops/privileges.h"

#include "common/text_escape.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace oidcgw {
namespace {

constexpr std::size_t kMaxLookupBuffer = 1024 * 1024;

std::string errno_text(int error_number) {
    return std::strerror(error_number);
}

// Runs one getpwnam_r / getgrnam_r style lookup, growing the string buffer on ERANGE.
// Returns 0 with *found set (or null when there is no such entry), else the error number.
template <typename Entry, typename Lookup>
int lookup_entry(Lookup lookup, Entry* entry, Entry** found) {
    const long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::size_t size = suggested > 0 ? static_cast<std::size_t>(suggested) : 16384;
    while (true) {
        std::vector<char> buffer(size);
        *found = nullptr;
        const int result = lookup(entry, buffer.data(), buffer.size(), found);
        if (result != ERANGE) return result;
        if (size >= kMaxLookupBuffer) return ERANGE;
        size *= 2;
    }
}

bool describe_failure(const std::string& what, std::string* error) {
    *error = what + ": " + errno_text(errno);
    return false;
}

}  // namespace

std::optional<UserAccount> lookup_user(const std::string& name, std::string* error) {
    passwd entry{};
    passwd* found = nullptr;
    const int result = lookup_entry(
        [&name](passwd* out, char* buffer, std::size_t size, passwd** match) {
            return ::getpwnam_r(name.c_str(), out, buffer, size, match);
        },
        &entry, &found);
    if (result != 0) {
        *error = "cannot look up user " + quote_untrusted(name) + ": " + errno_text(result);
        return std::nullopt;
    }
    if (found == nullptr) {
        *error = "no such user " + quote_untrusted(name);
        return std::nullopt;
    }
    return UserAccount{found->pw_uid, found->pw_gid};
}

std::optional<gid_t> lookup_group(const std::string& name, std::string* error) {
    group entry{};
    group* found = nullptr;
    const int result = lookup_entry(
        [&name](group* out, char* buffer, std::size_t size, group** match) {
            return ::getgrnam_r(name.c_str(), out, buffer, size, match);
        },
        &entry, &found);
    if (result != 0) {
        *error = "cannot look up group " + quote_untrusted(name) + ": " + errno_text(result);
        return std::nullopt;
    }
    if (found == nullptr) {
        *error = "no such group " + quote_untrusted(name);
        return std::nullopt;
    }
    return found->gr_gid;
}

bool set_no_new_privileges(std::string* error) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return describe_failure("prctl(PR_SET_NO_NEW_PRIVS)", error);
    }
    return true;
}

bool drop_privileges(const std::string& user, const std::string& group, std::string* error) {
    const std::optional<UserAccount> account = lookup_user(user, error);
    if (!account) return false;
    gid_t gid = account->primary_gid;
    if (!group.empty()) {
        const std::optional<gid_t> group_id = lookup_group(group, error);
        if (!group_id) return false;
        gid = *group_id;
    }
    const uid_t uid = account->uid;
    if (uid == 0) {
        *error = "user " + quote_untrusted(user) + " has uid 0: choose an unprivileged account";
        return false;
    }

    if (::geteuid() != 0) {
        // Without root nothing can be switched; running as the target already is fine (for
        // example a systemd unit with User= and AmbientCapabilities=CAP_NET_BIND_SERVICE).
        const bool same_user = ::getuid() == uid && ::geteuid() == uid;
        const bool same_group = group.empty() || (::getgid() == gid && ::getegid() == gid);
        if (!same_user || !same_group) {
            *error = "cannot switch to user " + quote_untrusted(user) +
                     (group.empty() ? std::string() : " and group " + quote_untrusted(group)) +
                     ": running as uid " + std::to_string(::geteuid()) + " gid " +
                     std::to_string(::getegid()) + ", and only root can switch";
            return false;
        }
        return set_no_new_privileges(error);
    }

    // Groups first: once the uid is no longer 0, they can no longer be changed.
    if (::setgroups(1, &gid) != 0) return describe_failure("setgroups", error);
    if (::setgid(gid) != 0) return describe_failure("setgid(" + std::to_string(gid) + ")", error);
    if (::setuid(uid) != 0) return describe_failure("setuid(" + std::to_string(uid) + ")", error);

    if (::getuid() != uid || ::geteuid() != uid) {
        *error = "after setuid the uid is " + std::to_string(::getuid()) + "/" +
                 std::to_string(::geteuid()) + ", expected " + std::to_string(uid);
        return false;
    }
    if (::getgid() != gid || ::getegid() != gid) {
        *error = "after setgid the gid is " + std::to_string(::getgid()) + "/" +
                 std::to_string(::getegid()) + ", expected " + std::to_string(gid);
        return false;
    }
    gid_t groups[2] = {};
    const int group_count = ::getgroups(2, groups);
    if (group_count < 0 || group_count > 1 || (group_count == 1 && groups[0] != gid)) {
        *error = "supplementary groups were not reduced to " + std::to_string(gid);
        return false;
    }
    // Both must fail now; success would mean root could be regained (e.g. a saved set-user-ID).
    if (::setuid(0) == 0 || ::seteuid(0) == 0) {
        *error = "root could be regained after switching to user " + quote_untrusted(user);
        return false;
    }
    return set_no_new_privileges(error);
}

}  // namespace oidcgw
