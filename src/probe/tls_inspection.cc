#include "probe/tls_inspection.h"

#include "common/certificate_chain.h"
#include "common/host_port.h"
#include "common/text_escape.h"
#include "edge/listen_socket.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace oidcgw {
namespace {

// Only the inspection code owns these OpenSSL and resolver objects, so the aliases stay local.
using X509StorePtr = std::unique_ptr<X509_STORE, CDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, CDeleter<X509_STORE_CTX_free>>;
using AddrinfoPtr = std::unique_ptr<addrinfo, CDeleter<freeaddrinfo>>;

// Frees the stack only: the certificates in it belong to the chain vector.
struct X509StackDeleter {
    void operator()(STACK_OF(X509) * stack) const noexcept { sk_X509_free(stack); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

using Clock = std::chrono::steady_clock;

bool is_ip_address(std::string_view host) {
    return is_ipv4_dotted_quad(host) || is_ipv6_address(host);
}

// Milliseconds left until `deadline`, at least 0, as poll() wants them.
int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// Waits until `fd` is ready for `events`; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd entry{fd, events, 0};
        const int ready = ::poll(&entry, 1, remaining_ms(deadline));
        if (ready > 0) return true;
        if (ready == 0) return false;
        if (errno != EINTR) return false;
    }
}

// A connected non-blocking socket to one of `dial`'s addresses, or an invalid UniqueFd with
// *error set.
UniqueFd connect_to(const Endpoint& dial, Clock::time_point deadline, std::string* error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* raw = nullptr;
    const std::string port = std::to_string(dial.port);
    const int resolved = ::getaddrinfo(dial.host.c_str(), port.c_str(), &hints, &raw);
    AddrinfoPtr addresses(raw);
    if (resolved != 0) {
        *error = "cannot resolve " + dial.host + ": " + gai_strerror(resolved);
        return UniqueFd();
    }
    *error = "cannot connect to " + dial.to_string();
    for (const addrinfo* address = addresses.get(); address != nullptr;
         address = address->ai_next) {
        UniqueFd fd(::socket(address->ai_family,
                             address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                             address->ai_protocol));
        if (fd.get() < 0) continue;
        if (::connect(fd.get(), address->ai_addr, address->ai_addrlen) == 0) return fd;
        if (errno != EINPROGRESS) {
            *error = "cannot connect to " + dial.to_string() + ": " + std::strerror(errno);
            continue;
        }
        if (!wait_for(fd.get(), POLLOUT, deadline)) {
            *error = "timed out connecting to " + dial.to_string();
            return UniqueFd();
        }
        int socket_error = 0;
        socklen_t length = sizeof socket_error;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &socket_error, &length);
        if (socket_error == 0) return fd;
        *error = "cannot connect to " + dial.to_string() + ": " + std::strerror(socket_error);
    }
    return UniqueFd();
}

// The reason of the last OpenSSL error (e.g. "tlsv1 alert protocol version"), then a clean queue.
std::string openssl_reason(const char* fallback) {
    const unsigned long code = ERR_peek_last_error();
    std::string reason = fallback;
    if (code != 0) {
        const char* text = ERR_reason_error_string(code);
        if (text != nullptr) reason = text;
    }
    ERR_clear_error();
    return reason;
}

bool issued_by(X509* subject, X509* issuer) {
    if (X509_check_issued(issuer, subject) != X509_V_OK) return false;
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    const bool verified = key != nullptr && X509_verify(subject, key) == 1;
    ERR_clear_error();
    return verified;
}

std::string describe(const std::vector<X509Ptr>& chain, std::size_t index) {
    return "certificate " + std::to_string(index + 1) + " (" +
           escape_untrusted(certificate_subject(chain[index].get())) + ")";
}

}  // namespace

std::string Endpoint::to_string() const {
    const std::string port_text = std::to_string(port);
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
    return host + ":" + port_text;
}

std::optional<Endpoint> parse_endpoint(std::string_view text,
                                       std::optional<std::uint16_t> default_port,
                                       std::string* error) {
    const std::string quoted = quote_untrusted(text);
    HostPortError shape{};
    const std::optional<HostPort> parts = split_host_port(text, &shape);
    if (!parts) {
        *error = quoted + (shape == HostPortError::UnclosedBracket
                               ? ": the IPv6 address lacks its closing ']'"
                               : ": expected ':PORT' after ']'");
        return std::nullopt;
    }
    if (parts->bracketed) {
        if (!is_ipv6_address(parts->host)) {
            *error = "\"" + std::string(parts->host) + "\" is not an IPv6 address";
            return std::nullopt;
        }
    } else {
        if (parts->has_extra_colon()) {
            *error = quoted + ": write an IPv6 address in brackets, [::1]:443";
            return std::nullopt;
        }
        if (!is_dns_name_or_ipv4(parts->host)) {
            *error = quoted + ": HOST must be a DNS name or an IP address";
            return std::nullopt;
        }
    }
    Endpoint endpoint;
    endpoint.host = std::string(parts->host);
    if (parts->port) {
        const std::optional<std::uint16_t> port = parse_port(*parts->port);
        if (!port) {
            *error = quoted + ": PORT must be a number from 1 to 65535";
            return std::nullopt;
        }
        endpoint.port = *port;
    } else if (default_port) {
        endpoint.port = *default_port;
    } else {
        *error = quoted + ": expected HOST:PORT";
        return std::nullopt;
    }
    return endpoint;
}

HandshakeResult tls_handshake(const std::string& server_name, const Endpoint& dial,
                              TlsVersion version, std::chrono::milliseconds timeout) {
    HandshakeResult result;
    const Clock::time_point deadline = Clock::now() + timeout;
    UniqueFd fd = connect_to(dial, deadline, &result.error);
    if (fd.get() < 0) return result;

    ERR_clear_error();
    SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
    if (!context) {
        result.error = "cannot create a TLS context: " + openssl_reason("out of memory");
        return result;
    }
    // Nothing is verified during the handshake: the caller inspects the chain, so that one run
    // reports every problem instead of stopping at the first.
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
    const int pinned = version == TlsVersion::Tls12   ? TLS1_2_VERSION
                       : version == TlsVersion::Tls13 ? TLS1_3_VERSION
                                                      : 0;
    SSL_CTX_set_min_proto_version(context.get(), pinned != 0 ? pinned : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(context.get(), pinned);

    SslPtr ssl(SSL_new(context.get()));
    if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) {
        result.error = "cannot create a TLS session: " + openssl_reason("out of memory");
        return result;
    }
    if (!is_ip_address(server_name)) SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());

    for (;;) {
        const int outcome = SSL_connect(ssl.get());
        if (outcome == 1) break;
        const int reason = SSL_get_error(ssl.get(), outcome);
        if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
            if (!wait_for(fd.get(), reason == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
                result.error = "timed out in the TLS handshake";
                ERR_clear_error();
                return result;
            }
            continue;
        }
        if (reason == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
            result.error = "the server closed the connection during the TLS handshake";
        } else {
            result.error = "TLS handshake failed: " + openssl_reason("unknown TLS error");
        }
        ERR_clear_error();
        return result;
    }

    result.ok = true;
    result.version = SSL_get_version(ssl.get());
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl.get());
    result.cipher = cipher != nullptr ? SSL_CIPHER_get_name(cipher) : "";
    // On the client side the stack holds the server's own certificate first.
    STACK_OF(X509)* presented = SSL_get_peer_cert_chain(ssl.get());
    for (int index = 0; presented != nullptr && index < sk_X509_num(presented); ++index) {
        X509* certificate = sk_X509_value(presented, index);
        X509_up_ref(certificate);
        result.chain.emplace_back(certificate);
    }
    SSL_shutdown(ssl.get());  // one close_notify, no waiting for the peer's
    ERR_clear_error();
    return result;
}

ChainFindings inspect_chain(const std::vector<X509Ptr>& chain) {
    ChainFindings findings;
    std::vector<bool> duplicate(chain.size(), false);
    for (std::size_t later = 1; later < chain.size(); ++later) {
        for (std::size_t earlier = 0; earlier < later; ++earlier) {
            if (X509_cmp(chain[earlier].get(), chain[later].get()) == 0) {
                findings.errors.push_back(describe(chain, later) + " duplicates certificate " +
                                          std::to_string(earlier + 1));
                duplicate[later] = true;
                break;
            }
        }
    }
    // Each certificate must be followed by its issuer; a duplicate is reported once, above.
    for (std::size_t index = 0; index + 1 < chain.size(); ++index) {
        if (duplicate[index + 1] || issued_by(chain[index].get(), chain[index + 1].get())) continue;
        if (is_self_signed(chain[index].get())) {
            findings.errors.push_back(describe(chain, index + 1) + " follows the self-signed " +
                                      describe(chain, index) + ": nothing belongs after a root");
            continue;
        }
        bool issues_another = false;
        for (std::size_t other = 0; other < chain.size(); ++other) {
            if (other != index + 1 && issued_by(chain[other].get(), chain[index + 1].get())) {
                issues_another = true;
            }
        }
        findings.errors.push_back(
            describe(chain, index + 1) + " did not issue " + describe(chain, index) +
            (issues_another ? ": out of order, each certificate must be followed by its issuer"
                            : ": it does not belong in this chain"));
    }
    if (chain.size() > 1 && is_self_signed(chain.back().get())) {
        findings.warnings.push_back("the chain ends with the self-signed root " +
                                    escape_untrusted(certificate_subject(chain.back().get())) +
                                    ", which clients never need from the server");
    }
    return findings;
}

TrustResult verify_chain_trust(const std::vector<X509Ptr>& chain, const std::string& ca_file) {
    TrustResult result;
    if (chain.empty()) {
        result.error = "the server presented no certificate";
        return result;
    }
    ERR_clear_error();
    X509StorePtr store(X509_STORE_new());
    X509StoreCtxPtr context(X509_STORE_CTX_new());
    X509StackPtr untrusted(sk_X509_new_null());
    if (!store || !context || !untrusted) {
        result.error = "out of memory";
        return result;
    }
    const bool loaded = ca_file.empty() ? X509_STORE_set_default_paths(store.get()) == 1
                                        : X509_STORE_load_file(store.get(), ca_file.c_str()) == 1;
    if (!loaded) {
        result.error = (ca_file.empty() ? std::string("cannot load the system trust store")
                                        : "cannot load CA file \"" + ca_file + "\"") +
                       ": " + openssl_reason("unknown error");
        return result;
    }
    for (std::size_t index = 1; index < chain.size(); ++index) {
        sk_X509_push(untrusted.get(), chain[index].get());
    }
    if (X509_STORE_CTX_init(context.get(), store.get(), chain.front().get(), untrusted.get()) !=
        1) {
        result.error = "cannot set up verification: " + openssl_reason("unknown error");
        return result;
    }
    X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(context.get()) == 1) {
        result.trusted = true;
    } else {
        const int code = X509_STORE_CTX_get_error(context.get());
        const int depth = X509_STORE_CTX_get_error_depth(context.get());
        result.error = std::string(X509_verify_cert_error_string(code)) + " (at certificate " +
                       std::to_string(depth + 1) + ")";
    }
    ERR_clear_error();
    return result;
}

bool certificate_names_host(X509* leaf, const std::string& host) {
    const bool matches = is_ip_address(host)
                             ? X509_check_ip_asc(leaf, host.c_str(), 0) == 1
                             : X509_check_host(leaf, host.data(), host.size(),
                                               X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) == 1;
    ERR_clear_error();
    return matches;
}

bool is_self_signed(X509* certificate) {
    const bool self_signed = X509_self_signed(certificate, /*verify_signature=*/1) == 1;
    ERR_clear_error();
    return self_signed;
}

}  // namespace oidcgw
