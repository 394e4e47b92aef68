// libFuzzer target for parse_config: an operator's file may hold anything, and whatever it holds
// the loader must answer with a configuration or with an error that says where the problem is,
// never crash or let an exception escape (an escaping one aborts the fuzzer, which reports it).
#include "config/config.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

// Errors about the document as a whole carry no key; everything else names the key path.
bool whole_document_error(const std::string& message) {
    return message.starts_with("JSON syntax error at byte offset ") ||
           message.starts_with("JSON nesting deeper than ") || message == "invalid JSON" ||
           message.starts_with("JSON parse failed") ||
           message == "out of memory while parsing JSON" ||
           message.starts_with("duplicate member ") ||
           message.starts_with("the configuration must be a JSON object");
}

// C0 controls, DEL, and C1 controls in their UTF-8 form (0xC2 0x80-0x9F).
bool has_control_character(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) return true;
        if (byte == 0xc2 && i + 1 < text.size()) {
            const auto next = static_cast<unsigned char>(text[i + 1]);
            if (next >= 0x80 && next <= 0x9f) return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const oidcgw::ConfigResult result = oidcgw::parse_config(text);
    if (result.config) {
        const oidcgw::Config& config = *result.config;
        check(!config.listen.empty());
        check(!config.certificates.empty());
        check(!config.issuers.empty());
        for (const oidcgw::IssuerConfig& issuer : config.issuers) {
            check(!issuer.upstreams.empty());
            check(issuer.issuer.discovery_path().starts_with("/"));
        }
        for (const oidcgw::ListenAddress& address : config.listen) check(address.port != 0);
        check(config.resolved_workers() >= 1);
    } else {
        const oidcgw::ConfigError& error = result.error;
        check(!error.message.empty());
        if (error.key.empty()) check(whole_document_error(error.message));
        // Key and message are one line each: text from the file is quoted with control
        // characters escaped, so a hostile file cannot forge lines in a log or a terminal.
        check(!has_control_character(error.key));
        check(!has_control_character(error.message));
    }
    // Pure: the same text gives the same answer.
    const oidcgw::ConfigResult again = oidcgw::parse_config(text);
    check(again.config.has_value() == result.config.has_value());
    if (!result.config) check(again.error.to_string() == result.error.to_string());
    return 0;
}
