#include "ops/test_hooks.h"

#ifdef OIDCGW_TEST_HOOKS

#include "common/file_reading.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

namespace oidcgw::test_hooks {
namespace {

// "<loop name> <milliseconds>": a line, never more.
constexpr std::size_t kMaxStallFileBytes = 4096;

}  // namespace

void stall_if_asked(std::string_view loop) {
    static const char* const path = std::getenv("OIDCGW_TEST_STALL_FILE");
    if (path == nullptr || ::access(path, F_OK) != 0) return;
    std::string text;
    std::string error;
    if (!read_regular_file(path, kMaxStallFileBytes, &text, &error)) return;
    std::istringstream file(text);
    std::string name;
    long milliseconds = 0;
    if (!(file >> name >> milliseconds) || name != loop) return;
    ::unlink(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
}

std::optional<std::chrono::milliseconds> acme_first_retry() {
    const char* value = std::getenv("OIDCGW_TEST_ACME_FIRST_RETRY_MS");
    if (value == nullptr) return std::nullopt;
    char* end = nullptr;
    const long milliseconds = std::strtol(value, &end, 10);
    if (end == value || *end != '\0' || milliseconds < 1) return std::nullopt;
    return std::chrono::milliseconds(milliseconds);
}

}  // namespace oidcgw::test_hooks

#endif
