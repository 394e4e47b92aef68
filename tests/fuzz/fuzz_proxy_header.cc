// libFuzzer target for the PROXY protocol header reader: the first bytes of every connection on a
// proxy_protocol listener, before TLS. Whatever they are, a complete header consumes no more than
// the input and the protocol's limits allow, names a client only by an address that parses, gives
// the same answer with more bytes after it, and every shorter prefix of it waits.
#include "edge/proxy_header.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace oidcgw;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const ProxyHeaderResult result = parse_proxy_header(input);
    if (result.status == ProxyHeaderStatus::Invalid) {
        check(!result.error_reason.empty() && result.problem != ProxyHeaderProblem::None);
        return 0;
    }
    if (result.status == ProxyHeaderStatus::Incomplete) {
        check(size < kMaxProxyV2Bytes);
        return 0;
    }
    const ProxyHeader& header = result.header;
    check(result.consumed > 0 && result.consumed <= size);
    check(result.consumed <= (header.version == 1 ? kMaxProxyV1Bytes : kMaxProxyV2Bytes));
    if (!header.local) {
        // The client's text reads back as the same address (the access log shows it).
        const std::optional<IpAddress> reread = IpAddress::parse(header.client.text());
        check(reread.has_value() && *reread == header.client);
    }
    // Bytes after the header (the TLS ClientHello) never change what it says.
    const std::string longer = std::string(input.substr(0, result.consumed)) + "\x16\x03\x01";
    const ProxyHeaderResult again = parse_proxy_header(longer);
    check(again.status == ProxyHeaderStatus::Complete && again.consumed == result.consumed &&
          again.header.client == header.client && again.header.local == header.local);
    // A header cut short waits for the rest.
    for (std::size_t cut = 0; cut < result.consumed; ++cut) {
        check(parse_proxy_header(input.substr(0, cut)).status == ProxyHeaderStatus::Incomplete);
    }
    return 0;
}
