// A raw TLS client for end-to-end tests: sends exact bytes (malformed requests included) and
// collects what comes back, with every wait bounded.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace oidcgw::testing {

struct RawExchange {
    bool connected = false;                 // TCP + TLS handshake completed
    std::string handshake_error{};          // when !connected
    std::string received{};                 // every byte read before close or timeout
    bool closed_by_peer = false;            // the server closed the connection (clean or not)
    bool timed_out = false;                 // the overall deadline passed first
    std::string alpn{};                     // the protocol the server selected, if any
    std::string peer_subject{};             // the server certificate's subject (one line), if any
    std::string peer_certificate_sha256{};  // hex digest of the server certificate's DER
};

struct RawTlsOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string sni{};  // empty: no SNI
    // Empty: do not verify. Else check the chain against it and the name: sni, or host when sni
    // is empty (so an IP SAN).
    std::string ca_file{};
    std::chrono::milliseconds deadline{5000};
    int tls_max_version = 0;       // 0 any; else e.g. TLS1_2_VERSION
    std::string alpn{};            // ALPN offer in wire format (length-prefixed names); empty: none
    std::string source_address{};  // local address to connect from (e.g. 127.0.0.2); empty: any
    // Sent in the clear right after connecting, before the ClientHello (a PROXY header).
    std::string cleartext_prefix{};
};

// Connects, sends `bytes` (in one write), reads until the peer closes or the deadline passes.
RawExchange raw_tls_exchange(const RawTlsOptions& options, const std::string& bytes);

// Plain TCP variant, for the health listener and for "plain HTTP on the TLS port".
RawExchange raw_tcp_exchange(const std::string& host, std::uint16_t port, const std::string& bytes,
                             std::chrono::milliseconds deadline = std::chrono::milliseconds{5000});

}  // namespace oidcgw::testing
