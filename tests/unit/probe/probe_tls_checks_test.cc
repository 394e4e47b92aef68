// `probe`'s TLS rows (probe_tls_checks.cc) over chains from the test PKI.
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
#include "probe/jwt_verification.h"
#include "probe/probe_checks.h"
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

using testing::contains;
using testing::kAll;
using testing::mark_of;
using testing::row;

// ---- TLS rows over chains from the test PKI ----

class ProbeTls : public ::testing::Test {
  protected:
    void SetUp() override { pki_ = std::make_unique<testing::TestPki>(dir_.path(), "probe"); }

    std::vector<X509Ptr> chain(const testing::CertificateRequest& request) {
        const testing::IssuedFiles files = pki_->issue(request);
        std::string error;
        std::vector<X509Ptr> loaded = load_certificate_chain(files.certificate, &error);
        if (loaded.empty()) throw std::runtime_error(error);
        return loaded;
    }

    testing::CertificateRequest request(const std::string& name) {
        return {.common_name = name, .dns_names = {kHost}, .include_intermediate = true};
    }

    TlsObservation observe(std::vector<X509Ptr> presented, bool with_ca = true) {
        TlsObservation observation;
        observation.tls12.ok = true;
        observation.tls12.version = "TLSv1.2";
        observation.tls12.chain = std::move(presented);
        observation.tls13.ok = true;
        observation.tls13.version = "TLSv1.3";
        observation.host = kHost;
        observation.ca_file = with_ca ? pki_->ca_file() : "";
        observation.now = std::time(nullptr);
        return observation;
    }

    static constexpr const char* kHost = "oidc.example.test";
    testing::TempDir dir_;
    std::unique_ptr<testing::TestPki> pki_;
};

TEST_F(ProbeTls, AGoodChainPassesWithItsCa) {
    const std::vector<Check> checks = check_tls(observe(chain(request("good"))));
    for (const Check& check : checks) EXPECT_EQ(check.mark(kAll), Mark::Pass) << check.id;
    EXPECT_TRUE(contains(row(checks, "tls.validity").detail, "days left"));
    EXPECT_TRUE(contains(row(checks, "tls.chain").detail, "probe Intermediate CA"));
}

TEST_F(ProbeTls, OnlyTheSystemStoreDoesNotTrustATestCa) {
    const Check trust = row(check_tls(observe(chain(request("store")), false)), "tls.trust");
    EXPECT_EQ(trust.mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(trust.verdict(Idp::Aws).reason, "system trust store"));
}

TEST_F(ProbeTls, WrongNameAndNearExpiry) {
    testing::CertificateRequest other = request("other");
    other.dns_names = {"elsewhere.example.test"};
    other.valid_for_seconds = 3L * 24 * 3600;
    const std::vector<Check> checks = check_tls(observe(chain(other)));
    EXPECT_EQ(row(checks, "tls.names").mark(kAll), Mark::Fail);
    EXPECT_TRUE(contains(row(checks, "tls.names").detail, "elsewhere.example.test"));
    EXPECT_EQ(row(checks, "tls.validity").mark(kAll), Mark::Warn);
}

TEST_F(ProbeTls, AnExpiredCertificateFails) {
    testing::CertificateRequest expired = request("expired");
    expired.valid_from_offset_seconds = -10L * 24 * 3600;
    expired.valid_for_seconds = -3600;
    EXPECT_EQ(row(check_tls(observe(chain(expired))), "tls.validity").mark(kAll), Mark::Fail);
}

TEST_F(ProbeTls, MisorderedAndDuplicatedChainsFailAwsAndWarnOthers) {
    std::vector<X509Ptr> reversed = chain(request("reversed"));
    std::swap(reversed[0], reversed[1]);
    const Check order = row(check_tls(observe(std::move(reversed))), "tls.chain");
    EXPECT_EQ(mark_of(order, Idp::Aws), Mark::Fail);
    EXPECT_EQ(mark_of(order, Idp::Gcp), Mark::Warn);
    EXPECT_EQ(mark_of(order, Idp::Entra), Mark::Warn);

    std::vector<X509Ptr> duplicated = chain(request("duplicated"));
    X509_up_ref(duplicated[1].get());
    duplicated.emplace_back(duplicated[1].get());
    const ChainFindings findings = inspect_chain(duplicated);
    ASSERT_EQ(findings.errors.size(), 1u);
    EXPECT_TRUE(contains(findings.errors[0], "duplicates certificate 2"));
}

TEST_F(ProbeTls, TwoIntermediatesInOrderPass) {
    testing::CertificateRequest two = request("two");
    two.include_two_intermediates = true;
    const std::vector<X509Ptr> presented = chain(two);
    ASSERT_EQ(presented.size(), 3u);
    EXPECT_TRUE(inspect_chain(presented).errors.empty());
    EXPECT_TRUE(verify_chain_trust(presented, pki_->ca_file()).trusted);
}

TEST_F(ProbeTls, MissingTls12FailsAwsOnly) {
    TlsObservation observation = observe(chain(request("tls13only")));
    observation.tls13.chain = std::move(observation.tls12.chain);
    observation.tls12 = HandshakeResult{};
    observation.tls12.error = "TLS handshake failed: tlsv1 alert protocol version";
    const std::vector<Check> checks = check_tls(observation);
    const Check& version = row(checks, "tls.version_1_2");
    EXPECT_EQ(mark_of(version, Idp::Aws), Mark::Fail);
    EXPECT_EQ(mark_of(version, Idp::Gcp), Mark::Pass);
    EXPECT_EQ(row(checks, "tls.trust").mark(kAll), Mark::Pass);  // judged on the 1.3 chain
}

TEST_F(ProbeTls, NoHandshakeSkipsTheChainRows) {
    TlsObservation observation;
    observation.tls12.error = "cannot connect";
    observation.tls13.error = "cannot connect";
    observation.host = kHost;
    const std::vector<Check> checks = check_tls(observation);
    EXPECT_EQ(row(checks, "tls.version_1_3").mark(kAll), Mark::Fail);
    EXPECT_EQ(row(checks, "tls.trust").mark(kAll), Mark::Skipped);
}

TEST_F(ProbeTls, EndpointsParse) {
    std::string error;
    EXPECT_EQ(parse_endpoint("127.0.0.1:8443", std::nullopt, &error)->port, 8443);
    EXPECT_EQ(parse_endpoint("[::1]:9", std::nullopt, &error)->host, "::1");
    EXPECT_EQ(parse_endpoint("example.com", 443, &error)->port, 443);
    EXPECT_FALSE(parse_endpoint("example.com", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("::1:9", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("a:0", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("a b:1", std::nullopt, &error));
    EXPECT_EQ((Endpoint{"::1", 9}).to_string(), "[::1]:9");
}

// The probe's endpoints follow the gateway's host grammar: LDH labels, dotted quads without
// leading zeros, canonical ports.
TEST_F(ProbeTls, EndpointsFollowTheOneHostGrammar) {
    std::string error;
    EXPECT_FALSE(parse_endpoint("example.com:0443", std::nullopt, &error));
    EXPECT_EQ(error, "\"example.com:0443\": PORT must be a number from 1 to 65535");
    EXPECT_FALSE(parse_endpoint("a..b:1", std::nullopt, &error));
    EXPECT_EQ(error, "\"a..b:1\": HOST must be a DNS name or an IP address");
    EXPECT_FALSE(parse_endpoint("999.1.1.1:1", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint(std::string(64, 'a') + ".example:1", std::nullopt, &error));
    EXPECT_FALSE(parse_endpoint("[1.2.3.4]:1", std::nullopt, &error));
    EXPECT_EQ(error, "\"1.2.3.4\" is not an IPv6 address");
    EXPECT_FALSE(parse_endpoint("[::1", std::nullopt, &error));
    EXPECT_EQ(error, "\"[::1\": the IPv6 address lacks its closing ']'");
    EXPECT_FALSE(parse_endpoint("[::1]9", std::nullopt, &error));
    EXPECT_EQ(error, "\"[::1]9\": expected ':PORT' after ']'");
    EXPECT_EQ(parse_endpoint("GW.Example.com:65535", std::nullopt, &error)->port, 65535);
    EXPECT_EQ(parse_endpoint("[::1]", 443, &error)->port, 443);
}

}  // namespace
}  // namespace oidcgw
