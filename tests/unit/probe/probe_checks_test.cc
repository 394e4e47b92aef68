// `probe`'s rules without a network (probe_checks.cc): URL rules, the discovery document judged
// per identity provider, the fetch rows and timing.
#include "probe/probe_checks.h"
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
#include "probe/jwt_verification.h"
#include "probe/probe_report.h"
#include "probe/token_checks.h"
#include "probe_rows.h"
#include "unit_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <stdexcept>

namespace oidcgw {
namespace {

using nlohmann::json;
using testing::contains;
using testing::fixture;
using testing::kAll;
using testing::mark_of;
using testing::row;

// ---- URL rules ----

TEST(ProbeUrl, APlainHttpsIssuerPassesEveryRule) {
    const std::vector<Check> checks = check_issuer_url("https://oidc.example.com/nomad");
    ASSERT_EQ(checks.size(), 5u);
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
    EXPECT_EQ(row(checks, "url.port").detail, "none written (443)");
}

TEST(ProbeUrl, HttpFailsForEveryProvider) {
    const Check scheme = row(check_issuer_url("http://oidc.example.com"), "url.scheme");
    for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(scheme, idp), Mark::Fail);
    EXPECT_TRUE(contains(scheme.verdict(Idp::Aws).reason, "only over https"));
    EXPECT_TRUE(contains(
        row(check_issuer_url("HTTPS://oidc.example.com"), "url.scheme").verdict(Idp::Gcp).reason,
        "lowercase"));
}

TEST(ProbeUrl, AnyWrittenPortFailsAwsOnly) {
    const Check other = row(check_issuer_url("https://oidc.example.com:8443"), "url.port");
    EXPECT_EQ(mark_of(other, Idp::Aws), Mark::Fail);
    EXPECT_TRUE(contains(other.verdict(Idp::Aws).reason, "8443"));
    EXPECT_EQ(mark_of(other, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(mark_of(other, Idp::Entra), Mark::Pass);
    EXPECT_EQ(other.mark({Idp::Gcp, Idp::Entra}), Mark::Pass);

    const Check explicit_443 = row(check_issuer_url("https://oidc.example.com:443"), "url.port");
    EXPECT_EQ(mark_of(explicit_443, Idp::Aws), Mark::Fail);
    EXPECT_TRUE(contains(explicit_443.verdict(Idp::Aws).reason, ":443"));

    const Check bad = row(check_issuer_url("https://oidc.example.com:99999"), "url.port");
    EXPECT_EQ(bad.mark(kAll), Mark::Fail);
    EXPECT_EQ(mark_of(bad, Idp::Gcp), Mark::Fail);
}

TEST(ProbeUrl, QueryFragmentAndUserinfoFailEveryProvider) {
    for (const char* url : {"https://oidc.example.com/?a=b", "https://oidc.example.com/#top",
                            "https://user@oidc.example.com"}) {
        const Check query = row(check_issuer_url(url), "url.query");
        for (Idp idp : kAllIdps) EXPECT_EQ(mark_of(query, idp), Mark::Fail) << url;
    }
}

TEST(ProbeUrl, LengthOver600FailsEntraOnly) {
    const std::string at_limit = "https://oidc.example.com/" + std::string(600 - 25, 'a');
    ASSERT_EQ(at_limit.size(), 600u);
    EXPECT_EQ(row(check_issuer_url(at_limit), "url.length").mark(kAll), Mark::Pass);
    const Check over = row(check_issuer_url(at_limit + "b"), "url.length");
    EXPECT_EQ(mark_of(over, Idp::Entra), Mark::Fail);
    EXPECT_EQ(mark_of(over, Idp::Aws), Mark::Pass);
    EXPECT_EQ(mark_of(over, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(over.detail, "601 characters");
}

TEST(ProbeUrl, UppercaseHostWarnsAndGarbageSkipsTheRest) {
    EXPECT_EQ(row(check_issuer_url("https://OIDC.example.com"), "url.host").mark(kAll), Mark::Warn);
    const std::vector<Check> checks = check_issuer_url("oidc.example.com");
    EXPECT_EQ(row(checks, "url.scheme").mark(kAll), Mark::Fail);
    EXPECT_EQ(row(checks, "url.port").mark(kAll), Mark::Skipped);
}

TEST(ProbeUrl, SplitsIpv6AndPorts) {
    const auto parts = split_probe_url("https://[::1]:8443/a?b#c");
    ASSERT_TRUE(parts);
    EXPECT_EQ(parts->host, "::1");
    EXPECT_EQ(parts->port, 8443);
    EXPECT_EQ(parts->path, "/a");
    EXPECT_TRUE(parts->has_query);
    EXPECT_TRUE(parts->has_fragment);
    EXPECT_EQ(split_probe_url("https://h")->port, 443);
    EXPECT_FALSE(split_probe_url("https://h:x")->port);
    EXPECT_FALSE(split_probe_url("no-scheme"));
}

// One port grammar everywhere (common/host_port.h): a leading zero is refused like a sign or a
// blank, as the gateway's own configuration refuses it.
TEST(ProbeUrl, PortWithLeadingZeroIsRefused) {
    const auto parts = split_probe_url("https://oidc.example.com:0443");
    ASSERT_TRUE(parts);
    EXPECT_TRUE(parts->has_port);
    EXPECT_EQ(parts->port_text, "0443");
    EXPECT_FALSE(parts->port);
    for (const char* url : {"https://h:0443", "https://h:+443", "https://h:0", "https://h:65536",
                            "https://h:", "https://h: 443"}) {
        EXPECT_FALSE(split_probe_url(url)->port) << url;
    }
    EXPECT_EQ(split_probe_url("https://h:65535")->port, 65535);
    const Check port = row(check_issuer_url("https://oidc.example.com:0443"), "url.port");
    EXPECT_EQ(port.mark(kAll), Mark::Fail);
    EXPECT_EQ(port.detail, "\"0443\"");
}

TEST(ProbeUrl, DiscoveryUrlDropsOneTrailingSlash) {
    EXPECT_EQ(discovery_url_for("https://a.example"),
              "https://a.example/.well-known/openid-configuration");
    EXPECT_EQ(discovery_url_for("https://a.example/"),
              "https://a.example/.well-known/openid-configuration");
    EXPECT_EQ(discovery_url_for("https://a.example/p/"),
              "https://a.example/p/.well-known/openid-configuration");
}

TEST(ProbeUrl, IssuerMismatchNamesTheTrailingSlash) {
    const std::string has =
        describe_issuer_mismatch("https://a.example/", "https://a.example", "x");
    EXPECT_TRUE(contains(has, "only by a trailing slash"));
    EXPECT_TRUE(contains(has, "it has one, the URL does not"));
    const std::string lacks =
        describe_issuer_mismatch("https://a.example", "https://a.example/", "x");
    EXPECT_TRUE(contains(lacks, "the URL has one, it does not"));
    EXPECT_TRUE(contains(describe_issuer_mismatch("https://A.example", "https://a.example", "x"),
                         "letter case"));
    EXPECT_FALSE(
        contains(describe_issuer_mismatch("https://b.example", "https://a.example", "x"), "slash"));
}

// ---- Discovery ----

TEST(ProbeDiscovery, NomadsDocumentPassesAndYieldsTheJwksUri) {
    DiscoveryFindings findings;
    const std::vector<Check> checks = check_discovery_document(
        fixture("openid-configuration.json"), "https://oidc.nomad.example.com", &findings);
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
    EXPECT_EQ(findings.jwks_uri, "https://oidc.nomad.example.com/.well-known/jwks.json");
}

TEST(ProbeDiscovery, TrailingSlashMismatchFailsEveryProviderByName) {
    const std::vector<Check> checks = check_discovery_document(
        fixture("openid-configuration.json"), "https://oidc.nomad.example.com/", nullptr);
    const Check& issuer = row(checks, "discovery.issuer");
    for (Idp idp : kAllIdps) {
        EXPECT_EQ(mark_of(issuer, idp), Mark::Fail);
        EXPECT_TRUE(contains(issuer.verdict(idp).reason, "trailing slash"));
    }
}

TEST(ProbeDiscovery, MissingMembersAndHttpJwksUriFail) {
    DiscoveryFindings findings;
    const std::vector<Check> checks = check_discovery_document(
        R"({"issuer":"https://a.example","jwks_uri":"http://a.example/keys",)"
        R"("response_types_supported":[]})",
        "https://a.example", &findings);
    const Check& members = row(checks, "discovery.members");
    EXPECT_EQ(members.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(members.verdict(Idp::Aws).reason, "subject_types_supported"));
    EXPECT_TRUE(contains(members.verdict(Idp::Aws).reason, "response_types_supported"));
    EXPECT_EQ(row(checks, "discovery.jwks_uri").mark(kAll), Mark::Fail);
    EXPECT_TRUE(findings.jwks_uri.empty());
}

TEST(ProbeDiscovery, AlgorithmListWithoutRs256Warns) {
    const std::vector<Check> checks = check_discovery_document(
        R"({"issuer":"https://a.example","jwks_uri":"https://a.example/k",)"
        R"("response_types_supported":["code"],"subject_types_supported":["public"],)"
        R"("id_token_signing_alg_values_supported":["EdDSA"]})",
        "https://a.example", nullptr);
    EXPECT_EQ(row(checks, "discovery.members").mark(kAll), Mark::Warn);
}

TEST(ProbeDiscovery, UnparsableDocumentSkipsTheRest) {
    const std::vector<Check> checks =
        check_discovery_document(R"({"issuer":"a","issuer":"b"})", "a", nullptr);
    EXPECT_EQ(row(checks, "discovery.json").mark(kAll), Mark::Fail);
    EXPECT_EQ(row(checks, "discovery.issuer").mark(kAll), Mark::Skipped);
    EXPECT_EQ(row(checks, "discovery.jwks_uri").mark(kAll), Mark::Skipped);
}

TEST(ProbeFetchRows, ReportReachVerificationStatusAndContentType) {
    ProbeFetch fetch;
    fetch.error = "Could not connect";
    EXPECT_EQ(check_fetch("d.fetch", "D", "t", fetch).mark(kAll), Mark::Fail);

    fetch = ProbeFetch{};
    fetch.reached = true;
    fetch.verified = true;
    fetch.status = 200;
    fetch.content_type = "application/json; charset=utf-8";
    EXPECT_EQ(check_fetch("d.fetch", "D", "t", fetch).mark(kAll), Mark::Pass);
    EXPECT_EQ(check_content_type("d.ct", "D", fetch).mark(kAll), Mark::Pass);

    fetch.content_type = "text/plain";
    EXPECT_EQ(check_content_type("d.ct", "D", fetch).mark(kAll), Mark::Fail);

    fetch.verified = false;
    fetch.tls_error = "unable to get local issuer certificate";
    const Check unverified = check_fetch("d.fetch", "D", "t", fetch);
    EXPECT_EQ(unverified.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(unverified.verdict(Idp::Gcp).reason, "local issuer"));

    fetch.verified = true;
    fetch.status = 301;
    fetch.location = "https://elsewhere.example/";
    EXPECT_TRUE(
        contains(check_fetch("d.fetch", "D", "t", fetch).verdict(Idp::Aws).reason, "redirect"));
}

TEST(ProbeTiming, AwsFailsAtFiveSecondsOthersWarn) {
    using std::chrono::milliseconds;
    EXPECT_EQ(check_response_time(milliseconds(30), milliseconds(40)).mark(kAll), Mark::Pass);
    EXPECT_EQ(check_response_time(milliseconds(30), milliseconds(2500)).mark(kAll), Mark::Warn);
    const Check slow = check_response_time(milliseconds(5200), std::nullopt);
    EXPECT_EQ(mark_of(slow, Idp::Aws), Mark::Fail);
    EXPECT_EQ(mark_of(slow, Idp::Gcp), Mark::Warn);
    EXPECT_EQ(slow.mark({Idp::Entra}), Mark::Warn);
}

}  // namespace
}  // namespace oidcgw
