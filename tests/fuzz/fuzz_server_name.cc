// libFuzzer target for the ClientHello extension readers that run before any certificate is
// chosen: the server_name one and the ALPN one that spots a TLS-ALPN-01 validator. Their input is
// the body of a ClientHello extension, bytes from the internet. Whatever they are,
// the parser stays inside them and returns a host name only as RFC 6066 frames it: the list's
// length covers the rest exactly, the name is the first host_name entry, whole, non-empty, at most
// 255 bytes and free of NUL. Checked against a second, plainly written reading of the same bytes.
#include "edge/client_hello.h"

#include <openssl/tls1.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace oidcgw {
namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

// The same framing, read byte by byte with indices that never pass the end.
std::optional<std::string> reference_reading(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return std::nullopt;
    const std::size_t list_length = static_cast<std::size_t>(data[0]) << 8 | data[1];
    if (list_length != size - 2) return std::nullopt;
    std::size_t at = 2;
    while (at + 3 <= size) {
        const std::uint8_t type = data[at];
        const std::size_t length = static_cast<std::size_t>(data[at + 1]) << 8 | data[at + 2];
        at += 3;
        if (at + length > size) return std::nullopt;
        if (type == TLSEXT_NAMETYPE_host_name) {
            if (length == 0 || length > 255) return std::nullopt;
            std::string name(reinterpret_cast<const char*>(data + at), length);
            if (name.find('\0') != std::string::npos) return std::nullopt;
            return name;
        }
        at += length;
    }
    return std::nullopt;
}

// RFC 7301's ProtocolNameList, read plainly: how it offers "acme-tls/1".
AcmeAlpnOffer reference_alpn_offer(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return AcmeAlpnOffer::Malformed;
    const std::size_t list_length = static_cast<std::size_t>(data[0]) << 8 | data[1];
    if (list_length != size - 2 || list_length == 0) return AcmeAlpnOffer::Malformed;
    bool acme = false;
    bool others = false;
    for (std::size_t at = 2; at < size;) {
        const std::size_t length = data[at++];
        if (length == 0 || at + length > size) return AcmeAlpnOffer::Malformed;
        const std::string name(reinterpret_cast<const char*>(data + at), length);
        if (name == "acme-tls/1") {
            acme = true;
        } else {
            others = true;
        }
        at += length;
    }
    if (!acme) return AcmeAlpnOffer::NotOffered;
    return others ? AcmeAlpnOffer::AmongOthers : AcmeAlpnOffer::Only;
}

}  // namespace
}  // namespace oidcgw

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace oidcgw;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::optional<std::string> name = host_name_from_server_name_extension(input);
    check(name == reference_reading(data, size));
    if (name) {
        check(!name->empty() && name->size() <= 255);
        check(name->find('\0') == std::string::npos);
        check(input.find(*name) != std::string_view::npos);
    }
    check(acme_alpn_offer(input) == reference_alpn_offer(data, size));
    return 0;
}
