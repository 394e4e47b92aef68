// Giving up root once the listeners are bound and the files are read: switch to an unprivileged
// account for good and forbid regaining privileges through set-uid binaries or file capabilities.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace oidcgw {

struct UserAccount {
    uid_t uid = 0;
    gid_t primary_gid = 0;
};

// Looks an account up in the system's user and group databases (thread-safe: the _r calls).
// On failure `error` says what was not found, naming it, e.g. `no such user "gateway"`.
std::optional<UserAccount> lookup_user(const std::string& name, std::string* error);
std::optional<gid_t> lookup_group(const std::string& name, std::string* error);

// Started as root: switches the whole process (every thread) to `user` and `group` ("" = the
// user's primary group) with no supplementary group but that one, in the order setgroups,
// setgid, setuid; then verifies the real and effective ids are the targets and that neither
// setuid(0) nor seteuid(0) succeeds, and sets PR_SET_NO_NEW_PRIVS.
// Started as another user: succeeds (setting PR_SET_NO_NEW_PRIVS) only when already running as
// `user` (and `group`, when given), since nothing can be switched without root.
// On failure `error` names the step or account that failed; after a failure past the lookups
// the process should exit rather than continue half-switched.
bool drop_privileges(const std::string& user, const std::string& group, std::string* error);

// prctl(PR_SET_NO_NEW_PRIVS, 1): execve can no longer grant privileges. Irreversible.
bool set_no_new_privileges(std::string* error);

}  // namespace oidcgw
