// Faults the end-to-end tests cause inside a running gateway. Compiled only with
// -DOIDCGW_TEST_HOOKS=ON (scripts/test sets it); a release build contains none of it.
#pragma once

#ifdef OIDCGW_TEST_HOOKS

#include <chrono>
#include <optional>
#include <string_view>

namespace oidcgw::test_hooks {

// When $OIDCGW_TEST_STALL_FILE names a file holding "LOOP MILLISECONDS" and LOOP is `loop`,
// removes the file and blocks the calling loop's thread for that long: a stuck worker, as the
// liveness checks must see it.
void stall_if_asked(std::string_view loop);

// $OIDCGW_TEST_ACME_FIRST_RETRY_MS: the ACME client's first pause after a failed order (a minute
// otherwise), so that a test sees the backoff's retries within seconds.
std::optional<std::chrono::milliseconds> acme_first_retry();

}  // namespace oidcgw::test_hooks

#endif
