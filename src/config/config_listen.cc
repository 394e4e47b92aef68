// listen and health_listen: the addresses the gateway binds.
#include "common/ascii.h"
#include "common/host_port.h"
#include "common/text_escape.h"
#include "config/config_sections.h"

#include <arpa/inet.h>

#include <algorithm>

namespace oidcgw::config_reading {
namespace {

// The canonical text of an IP literal (so "[0::0]" and "[::]" compare equal), or "" if `host`
// is not one of the given family.
std::string canonical_ip(const std::string& host, int family) {
    unsigned char address[16];
    char text[INET6_ADDRSTRLEN] = {};
    if (host.find('\0') != std::string::npos) return {};
    if (inet_pton(family, host.c_str(), address) != 1) return {};
    if (inet_ntop(family, address, text, sizeof text) == nullptr) return {};
    return text;
}

// The address a listener binds, in one spelling per address.
std::string host_identity(const ListenAddress& address) {
    for (const int family : {AF_INET, AF_INET6}) {
        std::string ip = canonical_ip(address.host, family);
        if (!ip.empty()) return ip;
    }
    return to_lower_ascii(address.host);
}

bool same_address(const ListenAddress& a, const ListenAddress& b) {
    return a.port == b.port && host_identity(a) == host_identity(b);
}

// Whether the health listener would share a socket address with a public one: the same address
// and port, or any address on a port that a public wildcard listener already covers ("::" takes
// IPv4 too; a host name may resolve to anything).
bool overlaps(const ListenAddress& health, const ListenAddress& public_address) {
    if (health.port != public_address.port) return false;
    const std::string public_host = host_identity(public_address);
    if (public_host == "::") return true;
    const std::string health_host = host_identity(health);
    if (public_host == "0.0.0.0") return !is_ipv6_address(health.host);
    return health_host == public_host;
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(const std::string& text, std::string* error) {
    HostPortError shape{};
    const std::optional<HostPort> parts = split_host_port(text, &shape);
    if (!parts) {
        *error = shape == HostPortError::UnclosedBracket ? "IPv6 address is missing its closing ']'"
                                                         : "a port is required, e.g. \"[::]:443\"";
        return std::nullopt;
    }
    ListenAddress address;
    address.text = text;
    address.host = std::string(parts->host);
    if (parts->bracketed) {
        if (!is_ipv6_address(parts->host)) {
            *error = quote_untrusted(parts->host) + " is not an IPv6 address";
            return std::nullopt;
        }
        if (!parts->port) {
            *error = "a port is required, e.g. \"[::]:443\"";
            return std::nullopt;
        }
    } else {
        if (!parts->port) {
            *error = "a port is required, e.g. \"0.0.0.0:443\"";
            return std::nullopt;
        }
        if (parts->has_extra_colon()) {
            *error = "IPv6 addresses need brackets, e.g. \"[::]:443\"";
            return std::nullopt;
        }
        if (parts->host.empty()) {
            *error = "a host is required (0.0.0.0 listens on every IPv4 address)";
            return std::nullopt;
        }
        if (!is_dns_name_or_ipv4(parts->host)) {
            *error = quote_untrusted(parts->host) + " is not an IPv4 address or host name";
            return std::nullopt;
        }
    }
    const std::optional<std::uint16_t> port = parse_port(*parts->port);
    if (!port) {
        *error = "port must be a number from 1 to 65535, found " + quote_untrusted(*parts->port);
        return std::nullopt;
    }
    address.port = *port;
    return address;
}

ListenAddress read_listen_address(const json& value, const std::string& key) {
    if (!value.is_string()) {
        fail(key, "must be an address string like \"0.0.0.0:443\", " + found(value));
    }
    const std::string& text = value.get_ref<const std::string&>();
    std::string error;
    std::optional<ListenAddress> address = parse_listen_address(text, &error);
    if (!address) fail(key, "invalid address " + quote_untrusted(text) + ": " + error);
    return *address;
}

// A public listener: "HOST:PORT", or {"address": "HOST:PORT", "proxy_protocol": true}.
ListenAddress read_public_listener(const json& value, const std::string& key) {
    if (value.is_string()) return read_listen_address(value, key);
    if (!value.is_object()) {
        fail(key,
             "must be an address string like \"0.0.0.0:443\" or an object like "
             "{\"address\": \"0.0.0.0:443\", \"proxy_protocol\": true}, " +
                 found(value));
    }
    const ObjectReader reader(value, key, {"address", "proxy_protocol"});
    ListenAddress address =
        read_listen_address(reader.require("address"), reader.key_path("address"));
    if (const json* proxy = reader.find("proxy_protocol")) {
        address.proxy_protocol = read_boolean(*proxy, reader.key_path("proxy_protocol"));
    }
    return address;
}

std::vector<ListenAddress> read_listen_list(const json& value, const std::string& key) {
    const json& list = read_non_empty_array(value, key, "\"host:port\" addresses", "address");
    std::vector<ListenAddress> addresses;
    for (std::size_t index = 0; index < list.size(); ++index) {
        ListenAddress address = read_public_listener(list[index], element_path(key, index));
        for (std::size_t earlier = 0; earlier < addresses.size(); ++earlier) {
            if (same_address(address, addresses[earlier])) {
                fail(element_path(key, index), "duplicate address " +
                                                   quote_untrusted(address.text) + " (same as " +
                                                   element_path(key, earlier) + ")");
            }
        }
        addresses.push_back(std::move(address));
    }
    return addresses;
}

std::vector<IpPrefix> read_proxy_sources(const json* value, const std::string& key,
                                         const std::vector<ListenAddress>& listen) {
    const auto proxied = std::find_if(listen.begin(), listen.end(),
                                      [](const ListenAddress& a) { return a.proxy_protocol; });
    if (value == nullptr) {
        if (proxied == listen.end()) return {};
        fail(key, "is required when a listener has proxy_protocol (" +
                      element_path("listen", static_cast<std::size_t>(proxied - listen.begin())) +
                      "): list the load balancers' addresses, e.g. [\"10.0.0.0/8\"]");
    }
    const json& list =
        read_non_empty_array(*value, key, "addresses or prefixes like \"10.0.0.0/8\"", "prefix");
    if (proxied == listen.end()) {
        fail(key, "is set but no listener has \"proxy_protocol\": true");
    }
    std::vector<IpPrefix> prefixes;
    for (std::size_t index = 0; index < list.size(); ++index) {
        const std::string path = element_path(key, index);
        const std::string& text = read_string(list[index], path);
        std::string error;
        std::optional<IpPrefix> prefix = parse_ip_prefix(text, &error);
        if (!prefix) fail(path, quote_untrusted(text) + " " + error);
        prefixes.push_back(*prefix);
    }
    return prefixes;
}

void check_health_listen(const ListenAddress& health, const std::vector<ListenAddress>& listen) {
    for (std::size_t index = 0; index < listen.size(); ++index) {
        if (overlaps(health, listen[index])) {
            fail("health_listen", quote_untrusted(health.text) + " overlaps the public " +
                                      element_path("listen", index) + " " +
                                      quote_untrusted(listen[index].text) +
                                      ": the health endpoints need an address of their own");
        }
    }
}

}  // namespace oidcgw::config_reading
