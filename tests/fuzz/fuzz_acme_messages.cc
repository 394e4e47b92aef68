// libFuzzer target for what the ACME CA sends back (src/acme/acme_messages.h, renewal_info.h):
// directories, orders, authorizations, problem documents and ARI windows are bytes from a server
// the gateway does not control. Whatever they are, the parsers return a struct whose every URL is
// https, whose tokens are base64url, whose lists are bounded, and whose problem text is escaped;
// or a reason. The first byte picks the parser, the rest is the body.
#include "acme/acme_messages.h"
#include "acme/renewal_info.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace oidcgw {
namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

void check_url(const std::string& url, bool may_be_empty) {
    if (url.empty()) {
        check(may_be_empty);
        return;
    }
    check(is_acme_url(url));
    check(url.rfind("https://", 0) == 0);
}

void check_summary(const AcmeProblem& problem) {
    for (const char c : problem.summary()) {
        const auto byte = static_cast<unsigned char>(c);
        check(byte >= 0x20 && byte != 0x7f);  // escaped: no control byte reaches a log line
    }
}

}  // namespace
}  // namespace oidcgw

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace oidcgw;
    if (size == 0) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string error;
    switch (data[0] % 5) {
        case 0:
            if (const auto directory = parse_acme_directory(body, &error)) {
                check_url(directory->new_nonce, false);
                check_url(directory->new_account, false);
                check_url(directory->new_order, false);
                check_url(directory->renewal_info, true);
            } else {
                check(!error.empty());
            }
            break;
        case 1:
            if (const auto order = parse_acme_order(body, &error)) {
                check(order->authorizations.size() <= 100);
                for (const std::string& url : order->authorizations) check_url(url, false);
                check_url(order->finalize, false);
                check_url(order->certificate, true);
                if (order->error) check_summary(*order->error);
            } else {
                check(!error.empty());
            }
            break;
        case 2:
            if (const auto authorization = parse_acme_authorization(body, &error)) {
                check(!authorization->identifier.empty());
                if (const AcmeChallenge* challenge = tls_alpn_challenge(*authorization)) {
                    check_url(challenge->url, false);
                    check(challenge->token.size() >= 22 && challenge->token.size() <= 256);
                    for (const char c : challenge->token) {
                        check((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '_');
                    }
                }
            } else {
                check(!error.empty());
            }
            break;
        case 3:
            check_summary(parse_acme_problem(body, 400));
            break;
        case 4:
            if (const auto window = parse_renewal_info(body, &error)) {
                check(window->end > window->start);
                const std::time_t at = pick_renewal_time(*window, 0.5);
                check(at >= window->start && at <= window->end);
            } else {
                check(!error.empty());
            }
            break;
    }
    return 0;
}
