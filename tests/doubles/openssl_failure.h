// Test doubles fail loudly: an OpenSSL failure becomes an exception naming what was attempted and
// OpenSSL's reason.
#pragma once

#include <openssl/err.h>

#include <stdexcept>
#include <string>

namespace oidcgw::testing {

[[noreturn]] inline void throw_openssl_error(const std::string& what) {
    std::string message = what;
    if (const unsigned long code = ERR_get_error(); code != 0) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        message += ": ";
        message += buffer;
    }
    ERR_clear_error();
    throw std::runtime_error(message);
}

}  // namespace oidcgw::testing
