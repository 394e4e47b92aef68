// A ServerLoop's PROXY protocol intake: on a proxy_protocol listener a connection's first bytes
// are the load balancer's header naming the client (edge/proxy_header.h). It is read before any
// TLS byte, within the handshake deadline; the client it names is then admitted by the limits
// as if it had connected itself, and the TLS handshake begins.
#include "edge/connection.h"
#include "edge/proxy_header.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace oidcgw {

bool ServerLoop::proxy_source_trusted(const IpAddress& source) const {
    if (!policy_.proxy_sources) return false;
    return std::any_of(policy_.proxy_sources->begin(), policy_.proxy_sources->end(),
                       [&](const IpPrefix& prefix) { return prefix.contains(source); });
}

void ServerLoop::refuse_proxied(Connection& connection, Counter* reason) {
    if (reason != nullptr) reason->increment();
    close_connection(connection);
}

// The header is peeked, then exactly its own bytes are taken from the socket, so the TLS bytes
// behind it stay for OpenSSL. A header still incomplete is taken whole into connection.input
// (every byte of it belongs to the header), so the socket does not stay readable and spin.
void ServerLoop::read_proxy_header(Connection& connection) {
    char peeked[kMaxProxyV2Bytes];
    const std::size_t room = kMaxProxyV2Bytes - std::min(connection.input.size(), kMaxProxyV2Bytes);
    ssize_t count = 0;
    do {
        count = ::recv(connection.fd, peeked, std::max<std::size_t>(room, 1), MSG_PEEK);
    } while (count < 0 && errno == EINTR);
    if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (count <= 0) {
        // A balancer's bare TCP health check connects and closes: not worth a count. Bytes of
        // a header that then stopped are.
        refuse_proxied(connection,
                       connection.input.empty() ? nullptr : counters_.rejected_proxy_malformed);
        return;
    }
    const std::size_t held = connection.input.size();
    connection.input.append(peeked, static_cast<std::size_t>(count));
    const ProxyHeaderResult result = parse_proxy_header(connection.input);
    if (result.status == ProxyHeaderStatus::Invalid) {
        Counter* reason = counters_.rejected_proxy_malformed;
        if (result.problem == ProxyHeaderProblem::Missing)
            reason = counters_.rejected_proxy_missing;
        if (result.problem == ProxyHeaderProblem::TooLong) {
            reason = counters_.rejected_proxy_too_long;
        }
        refuse_proxied(connection, reason);
        return;
    }
    const std::size_t take = result.status == ProxyHeaderStatus::Complete
                                 ? result.consumed - held
                                 : static_cast<std::size_t>(count);
    ssize_t taken = 0;
    do {
        taken = ::recv(connection.fd, peeked, take, 0);
    } while (taken < 0 && errno == EINTR);
    if (taken != static_cast<ssize_t>(take)) {
        close_connection(connection);  // what was peeked is there to take; anything else broke
        return;
    }
    if (result.status == ProxyHeaderStatus::Incomplete) return;
    // The client is whom the header names; for LOCAL, the balancer itself (its text is already
    // connection.client).
    IpAddress client = result.header.client;
    if (result.header.local) {
        client = IpAddress::parse(connection.client).value_or(IpAddress{});
    } else {
        const std::string text = client.text();
        std::memcpy(connection.client, text.c_str(), text.size() + 1);
    }
    connection.input.clear();
    connection.input.shrink_to_fit();
    begin_after_proxy_header(connection, client);
}

void ServerLoop::begin_after_proxy_header(Connection& connection, const IpAddress& client) {
    if (policy_.admission != nullptr) {
        if (connection.unnamed) {
            connection.unnamed = false;
            policy_.admission->release_unnamed();
        }
        if (!admit(client, &connection.admission_key)) {
            close_connection(connection);
            return;
        }
        connection.admitted = true;
    }
    if (!connection.ssl) {
        connection.phase = Connection::Phase::Open;
        read_requests(connection);
        return;
    }
    connection.phase = Connection::Phase::Handshake;
    if (continue_handshake(connection)) read_requests(connection);
}

}  // namespace oidcgw
