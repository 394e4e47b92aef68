// tls.acme: the ACME CA, the account's terms and contacts, the names and the certificate key.
#include "common/ascii.h"
#include "common/host_port.h"
#include "common/text_escape.h"
#include "config/config_sections.h"

#include <algorithm>

namespace oidcgw::config_reading {
namespace {

constexpr std::chrono::seconds kMinimumRenewBefore{3600};
constexpr std::chrono::seconds kMaximumRenewBefore{365LL * 24 * 3600};

// An https URL the libcurl client may fetch: the same grammar as an upstream's.
std::string read_directory_url(const json& value, const std::string& key) {
    const std::string text = read_non_empty_string(value, key);
    std::string problem;
    const std::optional<UpstreamUrl> url = parse_upstream_url(text, &problem);
    if (!url) fail(key, problem);
    if (!url->https) fail(key, "must be an https URL, found " + quote_untrusted(text));
    return text;
}

// "mailto:" and an address without spaces, commas or control bytes: what CAs accept, and
// nothing that could split a header or a log line.
std::string read_contact(const json& value, const std::string& key) {
    const std::string text = read_non_empty_string(value, key);
    const bool well_formed = text.size() > 7 && text.size() <= 320 &&
                             text.rfind("mailto:", 0) == 0 && text.find('@') != std::string::npos &&
                             std::none_of(text.begin(), text.end(), [](char c) {
                                 const auto byte = static_cast<unsigned char>(c);
                                 return byte <= 0x20 || byte >= 0x7f || c == ',';
                             });
    if (!well_formed) {
        fail(key, "must be a \"mailto:\" address, found " + quote_untrusted(text));
    }
    return text;
}

// A name TLS-ALPN-01 can prove: a DNS name (no IP address, no wildcard), lowercased.
std::string read_acme_name(const json& value, const std::string& key) {
    const std::string text = read_non_empty_string(value, key);
    if (!is_dns_name(text) || looks_numeric(text)) {
        fail(key,
             "must be a DNS name (TLS-ALPN-01 proves neither IP addresses nor wildcards), "
             "found " +
                 quote_untrusted(text));
    }
    return to_lower_ascii(text);
}

void add_name(std::vector<std::string>* names, std::string name) {
    if (std::find(names->begin(), names->end(), name) == names->end()) {
        names->push_back(std::move(name));
    }
}

}  // namespace

AcmeConfig read_acme(const json& value, const std::string& key) {
    const ObjectReader reader(value, key,
                              {"directory_url", "terms_of_service_agreed", "contact", "names",
                               "key_type", "ca", "renew_before", "external_account_binding"});
    AcmeConfig acme;
    acme.directory_url =
        read_directory_url(reader.require("directory_url"), reader.key_path("directory_url"));
    const std::string terms_key = reader.key_path("terms_of_service_agreed");
    if (!read_boolean(reader.require("terms_of_service_agreed"), terms_key)) {
        fail(terms_key, "must be true: the CA issues nothing until its terms are agreed to");
    }
    if (const json* contact = reader.find("contact")) {
        const std::string list_key = reader.key_path("contact");
        const json& list = read_non_empty_array(*contact, list_key, "\"mailto:\" addresses",
                                                "\"mailto:\" address");
        for (std::size_t index = 0; index < list.size(); ++index) {
            acme.contact.push_back(read_contact(list[index], element_path(list_key, index)));
        }
    }
    if (const json* names = reader.find("names")) {
        const std::string list_key = reader.key_path("names");
        const json& list = read_non_empty_array(*names, list_key, "DNS names", "DNS name");
        if (list.size() > 100) fail(list_key, "at most 100 names fit one certificate");
        for (std::size_t index = 0; index < list.size(); ++index) {
            add_name(&acme.names, read_acme_name(list[index], element_path(list_key, index)));
        }
    }
    if (const json* type = reader.find("key_type")) {
        acme.key_type = read_choice<AcmeKeyType, 2>(*type, reader.key_path("key_type"),
                                                    {"ecdsa-p256", "rsa-2048"},
                                                    {AcmeKeyType::EcdsaP256, AcmeKeyType::Rsa2048});
    }
    if (const json* ca = reader.find("ca")) acme.ca = read_path(*ca, reader.key_path("ca"));
    if (const json* renew = reader.find("renew_before")) {
        acme.renew_before = std::chrono::duration_cast<std::chrono::seconds>(read_duration(
            *renew, reader.key_path("renew_before"), kMinimumRenewBefore, kMaximumRenewBefore));
    }
    if (const json* binding = reader.find("external_account_binding")) {
        const ObjectReader eab(*binding, reader.key_path("external_account_binding"),
                               {"key_id", "hmac_key_file"});
        ExternalAccountBinding external;
        external.key_id = read_non_empty_string(eab.require("key_id"), eab.key_path("key_id"));
        if (external.key_id.size() > 256 ||
            std::any_of(external.key_id.begin(), external.key_id.end(), [](char c) {
                const auto byte = static_cast<unsigned char>(c);
                return byte < 0x21 || byte > 0x7e;
            })) {
            fail(eab.key_path("key_id"), "must be printable ASCII without spaces, found " +
                                             quote_untrusted(external.key_id));
        }
        external.hmac_key_file =
            read_path(eab.require("hmac_key_file"), eab.key_path("hmac_key_file"));
        acme.external_account_binding = std::move(external);
    }
    return acme;
}

void resolve_acme_names(AcmeConfig* acme, const std::vector<IssuerConfig>& issuers,
                        const std::string& cache_dir) {
    if (cache_dir.empty()) {
        fail("tls.acme", "needs cache_dir: the ACME account, certificate and keys are kept there");
    }
    if (!acme->names.empty()) return;
    for (std::size_t index = 0; index < issuers.size(); ++index) {
        const std::string& host = issuers[index].issuer.host;
        if (looks_numeric(host) || !is_dns_name(host)) {
            fail("tls.acme.names",
                 "is needed: issuers[" + std::to_string(index) + "] has the IP address host " +
                     quote_untrusted(host) +
                     ", which TLS-ALPN-01 cannot prove; list the DNS names to certify");
        }
        add_name(&acme->names, to_lower_ascii(host));
    }
    if (acme->names.size() > 100) {
        fail("tls.acme.names",
             "is needed: the issuers have more than 100 hosts, and at most 100 "
             "names fit one certificate");
    }
}

}  // namespace oidcgw::config_reading
