// issuers: the public issuer URLs, their upstreams and the TLS towards those upstreams.
#include "common/ascii.h"
#include "common/host_port.h"
#include "common/text_escape.h"
#include "config/config_sections.h"

namespace oidcgw::config_reading {
namespace {

UpstreamTls read_upstream_tls(const json& value, const std::string& key) {
    const ObjectReader reader(value, key, {"ca", "certificate", "private_key", "server_name"});
    UpstreamTls tls;
    const auto optional_path = [&reader](std::string_view name) {
        const json* member = reader.find(name);
        return member == nullptr ? std::string() : read_path(*member, reader.key_path(name));
    };
    tls.ca = optional_path("ca");
    tls.certificate = optional_path("certificate");
    tls.private_key = optional_path("private_key");
    if (tls.certificate.empty() != tls.private_key.empty()) {
        const bool has_certificate = !tls.certificate.empty();
        fail(reader.key_path(has_certificate ? "certificate" : "private_key"),
             std::string("needs ") + (has_certificate ? "private_key" : "certificate") +
                 " as well: a client certificate and its key go together");
    }
    if (const json* server_name = reader.find("server_name")) {
        const std::string name =
            read_non_empty_string(*server_name, reader.key_path("server_name"));
        if (looks_numeric(name) || !is_dns_name(name)) {
            fail(reader.key_path("server_name"),
                 "must be a DNS name such as \"server.global.nomad\", found " +
                     quote_untrusted(name));
        }
        tls.server_name = to_lower_ascii(name);
    }
    return tls;
}

std::vector<UpstreamUrl> read_upstreams(const json& value, const std::string& key) {
    const json& list = read_non_empty_array(value, key, "upstream URLs", "upstream URL");
    std::vector<UpstreamUrl> upstreams;
    for (std::size_t index = 0; index < list.size(); ++index) {
        const std::string element_key = element_path(key, index);
        const std::string text = read_non_empty_string(list[index], element_key);
        std::string error;
        std::optional<UpstreamUrl> upstream = parse_upstream_url(text, &error);
        if (!upstream) fail(element_key, error);
        for (std::size_t earlier = 0; earlier < upstreams.size(); ++earlier) {
            if (upstream->url_for("") == upstreams[earlier].url_for("")) {
                fail(element_key, "duplicate upstream " + quote_untrusted(text) + " (same as " +
                                      element_path(key, earlier) + ")");
            }
        }
        upstreams.push_back(std::move(*upstream));
    }
    return upstreams;
}

void add_upstream_warnings(const IssuerConfig& issuer, const std::string& key,
                           std::vector<std::string>* warnings) {
    bool any_https = false;
    for (std::size_t index = 0; index < issuer.upstreams.size(); ++index) {
        if (issuer.upstreams[index].https) {
            any_https = true;
        } else {
            warnings->push_back(element_path(key + ".upstreams", index) +
                                ": plain http upstream: documents are fetched unauthenticated");
        }
    }
    const bool has_ca = issuer.upstream_tls.has_value() && !issuer.upstream_tls->ca.empty();
    if (any_https && !has_ca) {
        warnings->push_back(
            key +
            ".upstream_tls.ca: not set: https upstreams are verified against the system CA "
            "store, which normally does not hold Nomad's own CA; point this at Nomad's CA "
            "file (e.g. nomad-agent-ca.pem)");
    }
    if (!any_https && issuer.upstream_tls.has_value()) {
        warnings->push_back(key + ".upstream_tls: has no effect, every upstream is plain http");
    }
}

std::vector<IssuerAlias> read_aliases(const json& value, const std::string& key) {
    const json& list = read_non_empty_array(value, key, "\"host[:port]\" names", "alias");
    std::vector<IssuerAlias> aliases;
    for (std::size_t index = 0; index < list.size(); ++index) {
        const std::string element_key = element_path(key, index);
        std::string error;
        std::optional<IssuerAlias> alias =
            parse_issuer_alias(read_non_empty_string(list[index], element_key), &error);
        if (!alias) fail(element_key, error);
        aliases.push_back(std::move(*alias));
    }
    return aliases;
}

bool same_authority(const std::string& host_a, std::uint16_t port_a, const std::string& host_b,
                    std::uint16_t port_b) {
    return port_a == port_b && host_a == host_b;
}

// An alias answers for exactly one issuer, and never for an authority an issuer URL already
// names: otherwise one issuer's clients could be handed another's keys.
void check_alias_is_unique(const IssuerAlias& alias, const std::string& alias_key,
                           const std::vector<IssuerConfig>& issuers, const IssuerUrl& own,
                           const std::string& issuers_key) {
    const auto clash = [&](const std::string& other_key, const std::string& what) {
        fail(alias_key, quote_untrusted(alias.text) + " is " + what + " (" + other_key + ")");
    };
    for (std::size_t index = 0; index <= issuers.size(); ++index) {
        const IssuerUrl& url = index < issuers.size() ? issuers[index].issuer : own;
        const std::string url_key = element_path(issuers_key, index);
        if (same_authority(alias.host, alias.port, url.host, url.port)) {
            clash(url_key + ".issuer", "the host and port of an issuer");
        }
        for (std::size_t other = 0; other < url.aliases.size(); ++other) {
            if (&url.aliases[other] == &alias) break;  // only those before it
            if (same_authority(alias.host, alias.port, url.aliases[other].host,
                               url.aliases[other].port)) {
                clash(element_path(url_key + ".aliases", other), "already an alias");
            }
        }
    }
}

IssuerConfig read_issuer(const json& value, const std::string& key) {
    const ObjectReader reader(value, key, {"issuer", "upstream_tls", "upstreams", "aliases"});
    IssuerConfig issuer;
    const std::string issuer_key = reader.key_path("issuer");
    const std::string text = read_non_empty_string(reader.require("issuer"), issuer_key);
    std::string error;
    std::optional<IssuerUrl> url = parse_issuer_url(text, &error);
    if (!url) fail(issuer_key, error);
    issuer.issuer = std::move(*url);
    issuer.upstreams = read_upstreams(reader.require("upstreams"), reader.key_path("upstreams"));
    if (const json* tls = reader.find("upstream_tls")) {
        issuer.upstream_tls = read_upstream_tls(*tls, reader.key_path("upstream_tls"));
    }
    if (const json* aliases = reader.find("aliases")) {
        issuer.issuer.aliases = read_aliases(*aliases, reader.key_path("aliases"));
    }
    return issuer;
}

}  // namespace

std::vector<IssuerConfig> read_issuers(const json& value, const std::string& key,
                                       std::vector<std::string>* warnings) {
    const json& list = read_non_empty_array(value, key, "issuer objects", "issuer");
    std::vector<IssuerConfig> issuers;
    for (std::size_t index = 0; index < list.size(); ++index) {
        const std::string element_key = element_path(key, index);
        IssuerConfig issuer = read_issuer(list[index], element_key);
        for (std::size_t earlier = 0; earlier < issuers.size(); ++earlier) {
            const IssuerUrl& other = issuers[earlier].issuer;
            const std::string other_key = element_path(key, earlier);
            if (issuer.issuer.text == other.text) {
                fail(element_key + ".issuer", "duplicate issuer (same as " + other_key + ")");
            }
            if (issuer.issuer.host == other.host && issuer.issuer.port == other.port &&
                issuer.issuer.path_prefix == other.path_prefix) {
                fail(element_key + ".issuer", "same host, port and path as " + other_key + " (" +
                                                  quote_untrusted(other.text) +
                                                  "): both would serve the same discovery URL");
            }
            for (std::size_t alias = 0; alias < other.aliases.size(); ++alias) {
                if (same_authority(issuer.issuer.host, issuer.issuer.port,
                                   other.aliases[alias].host, other.aliases[alias].port)) {
                    fail(element_key + ".issuer",
                         "has the host and port of an alias of another issuer (" +
                             element_path(other_key + ".aliases", alias) + ")");
                }
            }
        }
        for (std::size_t alias = 0; alias < issuer.issuer.aliases.size(); ++alias) {
            check_alias_is_unique(issuer.issuer.aliases[alias],
                                  element_path(element_key + ".aliases", alias), issuers,
                                  issuer.issuer, key);
        }
        add_upstream_warnings(issuer, element_key, warnings);
        issuers.push_back(std::move(issuer));
    }
    return issuers;
}

}  // namespace oidcgw::config_reading
