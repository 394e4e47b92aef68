// The PROXY protocol header a layer-4 load balancer (AWS NLB, GCP's proxy load balancers,
// HAProxy) puts before the TLS bytes to name the client it relays (haproxy.org's
// proxy-protocol.txt, versions 1 and 2). Pure: the connection's first bytes in, the client's
// address or a refusal out; nothing is read past the header.
#pragma once

#include "common/ip_address.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace oidcgw {

// The longest header accepted: a v1 line is at most 107 bytes; a v2 header is 16 bytes and an
// address block whose TLVs (skipped) make it longer, which load balancers keep under a few
// hundred bytes.
inline constexpr std::size_t kMaxProxyV1Bytes = 107;
inline constexpr std::size_t kMaxProxyV2Bytes = 16 + 1024;

enum class ProxyHeaderStatus { Complete, Incomplete, Invalid };

// Why a header was refused, as the rejection counter names it.
enum class ProxyHeaderProblem {
    None,
    Missing,    // the first bytes are no PROXY signature (e.g. a TLS ClientHello)
    Malformed,  // a signature, then bytes no valid header has
    TooLong,    // past kMaxProxyV1Bytes / kMaxProxyV2Bytes
};

struct ProxyHeader {
    int version = 0;  // 1 or 2
    // v2 LOCAL (the balancer's own health check) or v1 UNKNOWN: no client named; the
    // connection's own address stands.
    bool local = false;
    IpAddress client;  // when !local; an IPv4-mapped IPv6 address is its IPv4 address
    std::uint16_t client_port = 0;
};

struct ProxyHeaderResult {
    ProxyHeaderStatus status = ProxyHeaderStatus::Incomplete;
    ProxyHeader header;             // when Complete
    std::size_t consumed = 0;       // the header's bytes, when Complete
    std::string_view error_reason;  // when Invalid: static text for logs, never the input
    ProxyHeaderProblem problem = ProxyHeaderProblem::None;  // when Invalid
};

// Reads the header at the start of `input` (what has arrived so far): Incomplete while more
// bytes could still make a valid header, Invalid as soon as they cannot (a missing signature,
// bad syntax, an unsupported family, too long).
ProxyHeaderResult parse_proxy_header(std::string_view input);

}  // namespace oidcgw
