// libFuzzer target for the routing step and the public responder: Host and path bytes come from
// the internet, so whatever they are, a document is served only for an exact served path on a
// matching host, an unserved path never shapes the answer, and every answer is well formed.
//
// Input: one selector byte (method, version, conditional header), then Host, a newline, and the
// path. The same bytes are also parsed whole as a request head and answered.
#include "edge/http_request.h"
#include "edge/public_responder.h"
#include "publish/publication.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidcgw {
namespace {

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::size_t kMaxErrorResponseBytes = 512;

void check(bool condition) {
    if (!condition) std::abort();
}

std::string read_fixture(const char* name) {
    const std::filesystem::path path =
        std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures" / name;
    std::ifstream in(path, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    check(in.good() || in.eof());
    check(!text.empty());
    return text;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
    for (std::size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

// What the publication is expected to serve, written out independently of IssuerSlot.
struct ExpectedIssuer {
    std::string host;  // lowercase
    std::uint16_t port = 443;
    bool ready = false;
    std::string discovery_path;
    std::string jwks_path;
};

struct Fixture {
    Publication publication;
    std::vector<ExpectedIssuer> expected;
};

IssuerSlot published_slot(const std::string& issuer_text, const std::string& jwks_uri) {
    std::string error;
    std::optional<IssuerUrl> issuer = parse_issuer_url(issuer_text, &error);
    check(issuer.has_value());
    constexpr std::string_view kFixtureIssuer = "https://oidc.nomad.example.com";
    std::string discovery = read_fixture("openid-configuration.json");
    discovery =
        replace_all(discovery, std::string(kFixtureIssuer) + "/.well-known/jwks.json", jwks_uri);
    discovery = replace_all(discovery, "\"issuer\":\"" + std::string(kFixtureIssuer) + "\"",
                            "\"issuer\":\"" + issuer_text + "\"");
    Rejection rejection;
    std::optional<AcceptedDocuments> accepted = accept_document_pair(
        *issuer, discovery, read_fixture("jwks.json"), 1024 * 1024, &rejection);
    check(accepted.has_value());
    accepted->discovery_modified = 784111777;
    accepted->jwks_modified = 784111777;
    IssuerSlot slot(std::move(*issuer));
    slot.published = build_issuer_publication(std::move(*accepted), std::chrono::seconds(300));
    return slot;
}

const Fixture& fixture() {
    static const Fixture built = [] {
        Fixture f;
        f.publication.add_issuer(published_slot("https://oidc.example.com",
                                                "https://oidc.example.com/.well-known/jwks.json"));
        f.expected.push_back({"oidc.example.com", 443, true, "/.well-known/openid-configuration",
                              "/.well-known/jwks.json"});
        // A path prefix and a JWKS away from the default path.
        f.publication.add_issuer(published_slot("https://Auth.Example.org:8443/tenant/a",
                                                "https://auth.example.org:8443/tenant/a/keys/v1"));
        f.expected.push_back({"auth.example.org", 8443, true,
                              "/tenant/a/.well-known/openid-configuration", "/tenant/a/keys/v1"});
        // Not fetched yet: both default paths answer 503.
        std::string error;
        std::optional<IssuerUrl> pending = parse_issuer_url("https://pending.example.net", &error);
        check(pending.has_value());
        f.publication.add_issuer(IssuerSlot(std::move(*pending)));
        f.expected.push_back({"pending.example.net", 443, false,
                              "/.well-known/openid-configuration", "/.well-known/jwks.json"});
        return f;
    }();
    return built;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Host header value names this issuer: its host in any case, then nothing (port 443 only) or
// ":" and the port in canonical decimal (no sign, no leading zero), as issuer_url.h promises.
bool host_names(const ExpectedIssuer& expected, std::string_view host) {
    if (host.size() < expected.host.size()) return false;
    for (std::size_t i = 0; i < expected.host.size(); ++i) {
        if (lower(host[i]) != expected.host[i]) return false;
    }
    std::string_view rest = host.substr(expected.host.size());
    if (rest.empty()) return expected.port == 443;
    if (rest.front() != ':' || rest.size() == 1) return false;
    rest.remove_prefix(1);
    if (rest.front() == '0') return false;
    unsigned long port = 0;
    for (char c : rest) {
        if (c < '0' || c > '9') return false;
        port = port * 10 + static_cast<unsigned long>(c - '0');
        if (port > 65535) return false;
    }
    return port == expected.port;
}

// The issuer (index) whose served path this is on this host, if any.
std::optional<std::size_t> served_by(std::string_view host, std::string_view path) {
    const Fixture& f = fixture();
    for (std::size_t i = 0; i < f.expected.size(); ++i) {
        const ExpectedIssuer& expected = f.expected[i];
        if (!host_names(expected, host)) continue;
        if (path == expected.discovery_path || path == expected.jwks_path) return i;
    }
    return std::nullopt;
}

void check_route(std::string_view host, std::string_view path) {
    const Fixture& f = fixture();
    const RouteResult route = route_request(f.publication, host, path);
    const std::optional<std::size_t> owner = served_by(host, path);
    if (!owner) {
        check(route.kind == RouteKind::NotFound);
        check(route.slot == nullptr && route.document == nullptr);
        return;
    }
    const ExpectedIssuer& expected = f.expected[*owner];
    check(route.slot == &f.publication.issuers[*owner]);
    if (!expected.ready) {
        check(route.kind == RouteKind::NotReady && route.document == nullptr);
        return;
    }
    const IssuerPublication& published = *route.slot->published;
    if (path == expected.discovery_path) {
        check(route.kind == RouteKind::Discovery && route.document == &published.discovery);
    } else {
        check(route.kind == RouteKind::Jwks && route.document == &published.jwks);
    }
}

void check_response_shape(std::string_view response, const PublicResponseInfo& info,
                          bool keep_alive) {
    check(response.starts_with("HTTP/1.1 "));
    check(response.size() > 12);
    check(response.substr(9, 3) == std::to_string(info.status));
    const std::size_t blank = response.find("\r\n\r\n");
    check(blank != std::string_view::npos);
    const std::string_view head = response.substr(0, blank + 4);
    check(head.find('\0') == std::string_view::npos);
    check(response.size() - head.size() == info.body_bytes);
    if (info.status >= 400) {
        check(response.size() <= kMaxErrorResponseBytes);
        check(!keep_alive);
        check(head.find("Connection: close\r\n") != std::string_view::npos);
    }
}

// Answers one parsed request and checks it against the expectations of its host and path.
void check_answer(const Request& request) {
    const Fixture& f = fixture();
    std::string response;
    PublicResponseInfo info;
    const bool keep_alive =
        respond_to_public_request(f.publication, request, kDate, response, &info);
    check_response_shape(response, info, keep_alive);

    const std::optional<std::size_t> owner = served_by(request.host, request.path);
    const bool document = info.status == 200 || info.status == 304;
    if (!owner) {
        check(info.route == RouteKind::NotFound && info.status == 404);
        // An unserved path never shapes the answer: it equals the answer for "/".
        Request reference = request;
        reference.path = "/";
        reference.target = "/";
        reference.query = {};
        std::string expected_response;
        respond_to_public_request(f.publication, reference, kDate, expected_response);
        check(response == expected_response);
        if (request.path.size() >= 8) check(response.find(request.path) == std::string::npos);
        return;
    }
    if (document) {
        check(f.expected[*owner].ready);
        check(info.route == RouteKind::Discovery || info.route == RouteKind::Jwks);
        check(request.method == Method::Get || request.method == Method::Head);
    }
    if (info.status == 200 && request.method == Method::Get) {
        const IssuerPublication& published = *f.publication.issuers[*owner].published;
        const std::string& body =
            info.route == RouteKind::Discovery ? published.discovery.body : published.jwks.body;
        check(response.ends_with(body));
    }
}

std::string build_head(std::uint8_t selector, std::string_view host, std::string_view target) {
    static constexpr std::string_view kMethods[] = {"GET", "HEAD", "OPTIONS", "POST"};
    std::string head(kMethods[selector & 3]);
    head += ' ';
    head += target;
    head += (selector & 4) != 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
    head += "Host: ";
    head += host;
    head += "\r\n";
    switch ((selector >> 3) & 3) {
        case 1:
            head += "If-None-Match: *\r\n";
            break;
        case 2:
            head += "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
            break;
        case 3:
            head += "Connection: close\r\n";
            break;
        default:
            break;
    }
    head += "\r\n";
    return head;
}

}  // namespace
}  // namespace oidcgw

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace oidcgw;
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t newline = rest.find('\n');
    const std::string_view host = rest.substr(0, newline);
    const std::string_view path =
        newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);

    check_route(host, path);

    // Through the parser, as the event loop does it.
    const std::string head = build_head(selector, host, path);
    const ParseResult parsed = parse_request(head);
    if (parsed.status == ParseStatus::Complete) {
        check_route(parsed.request.host, parsed.request.path);
        check_answer(parsed.request);
    } else if (parsed.status == ParseStatus::Error) {
        std::string response;
        respond_to_public_parse_error(parsed.error_status, kDate, response);
        check(response.starts_with("HTTP/1.1 "));
        check(response.find("\r\n\r\n") != std::string::npos);
        check(response.size() <= kMaxErrorResponseBytes);
        check(response.find("Connection: close\r\n") != std::string::npos);
    }

    // The input bytes as a whole request head.
    const ParseResult raw = parse_request(rest);
    if (raw.status == ParseStatus::Complete) check_answer(raw.request);
    return 0;
}
