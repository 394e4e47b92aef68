#include "ops/test_hooks.h"

#ifdef OIDCGW_TEST_HOOKS

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace oidcgw::test_hooks {

void stall_if_asked(std::string_view loop) {
    static const char* const path = std::getenv("OIDCGW_TEST_STALL_FILE");
    if (path == nullptr || ::access(path, F_OK) != 0) return;
    std::ifstream file(path);
    std::string name;
    long milliseconds = 0;
    if (!(file >> name >> milliseconds) || name != loop) return;
    ::unlink(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
}

}  // namespace oidcgw::test_hooks

#endif
