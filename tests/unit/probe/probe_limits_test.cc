// What `probe` examines and prints stays bounded whatever the issuer serves: keys judged one by
// one, reasons and types listed, certificates of a presented chain.
#include "common/certificate_chain.h"
#include "hostile_chain.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
#include "probe/probe_checks.h"
#include "probe/probe_report.h"
#include "probe_rows.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <stdexcept>

namespace oidcgw {
namespace {

using nlohmann::json;
using testing::contains;
using testing::row;

std::size_t text_size(const Check& check) {
    std::size_t size = check.detail.size() + check.general_reason.size();
    for (const IdpVerdict& verdict : check.idps) size += verdict.reason.size();
    return size;
}

// `count` keys, each with a kty of its own, or all of them RSA with a kid of their own.
std::string many_keys(std::size_t count, bool distinct_types) {
    json keys = json::array();
    json base;
    if (!distinct_types) {
        const EvpPkeyPtr rsa = testing::generate_rsa_key();
        base = json::parse(testing::nomad_rsa_jwk(rsa.get(), "k"));
    }
    for (std::size_t index = 0; index < count; ++index) {
        if (distinct_types) {
            keys.push_back({{"kty", "t" + std::to_string(index)}});
        } else {
            json key = base;
            key["kid"] = "k" + std::to_string(index);
            keys.push_back(key);
        }
    }
    return json{{"keys", keys}}.dump();
}

TEST(ProbeLimits, KeysAfterTheCapAreCountedButNotExamined) {
    const std::vector<Check> checks = check_jwks_document(many_keys(5000, true), nullptr);
    const Check& counts = row(checks, "jwks.counts");
    EXPECT_TRUE(contains(counts.detail, "5000 keys: 1 t0, 1 t1, ")) << counts.detail;
    EXPECT_TRUE(contains(counts.detail, "and 4994 other types")) << counts.detail;
    EXPECT_EQ(counts.general, Mark::Warn);
    EXPECT_TRUE(contains(counts.general_reason, "4700 more keys not examined"))
        << counts.general_reason;

    const Check& algorithms = row(checks, "jwks.algorithms");
    EXPECT_TRUE(contains(algorithms.detail, "4700 more keys not examined")) << algorithms.detail;
    EXPECT_TRUE(contains(algorithms.detail, "and 294 other kinds")) << algorithms.detail;
    const std::string& reason = algorithms.verdict(Idp::Aws).reason;
    EXPECT_EQ(algorithms.verdict(Idp::Aws).mark, Mark::Fail);
    EXPECT_TRUE(contains(reason, "no key AWS can use among the first 300: ")) << reason;
    EXPECT_TRUE(contains(reason, "and 296 other reasons (296 keys)")) << reason;

    for (const Check& check : checks) EXPECT_LT(text_size(check), 4000u) << check.id;
}

TEST(ProbeLimits, SignificantTypesAreListedFirst) {
    json keys = json::parse(many_keys(20, true))["keys"];
    const EvpPkeyPtr rsa = testing::generate_rsa_key();
    keys.push_back(json::parse(testing::nomad_rsa_jwk(rsa.get(), "r")));
    const Check counts =
        row(check_jwks_document(json{{"keys", keys}}.dump(), nullptr), "jwks.counts");
    EXPECT_TRUE(counts.detail.starts_with("21 keys: 1 RSA, 1 t0, ")) << counts.detail;
    EXPECT_EQ(counts.general, Mark::Pass);  // every key examined
}

TEST(ProbeLimits, AwsCountsStillCoverEveryKey) {
    const std::vector<Check> checks = check_jwks_document(many_keys(400, false), nullptr);
    const Check& counts = row(checks, "jwks.counts");
    EXPECT_EQ(counts.detail, "400 keys: 400 RSA");
    EXPECT_EQ(counts.verdict(Idp::Aws).mark, Mark::Fail);
    EXPECT_TRUE(contains(counts.verdict(Idp::Aws).reason, "400 RSA keys"));
    // The examined ones are usable for AWS; Entra ignores those after the 100th.
    const Check& algorithms = row(checks, "jwks.algorithms");
    EXPECT_EQ(algorithms.verdict(Idp::Aws).mark, Mark::Pass);
    EXPECT_TRUE(
        contains(algorithms.verdict(Idp::Entra).reason, "200 of the first 300 keys unusable"))
        << algorithms.verdict(Idp::Entra).reason;
    EXPECT_TRUE(contains(algorithms.verdict(Idp::Entra).reason, "and 197 more: after the 100th"))
        << algorithms.verdict(Idp::Entra).reason;
}

TEST(ProbeLimits, DuplicateAndMissingKidsAreListedBriefly) {
    json keys = json::array();
    for (int index = 0; index < 50; ++index) keys.push_back({{"kty", "RSA"}, {"kid", "same"}});
    Check kids = row(check_jwks_document(json{{"keys", keys}}.dump(), nullptr), "jwks.kids");
    EXPECT_EQ(kids.mark({Idp::Aws}), Mark::Fail);
    EXPECT_TRUE(contains(kids.verdict(Idp::Aws).reason, "and 46 other duplicates"))
        << kids.verdict(Idp::Aws).reason;

    keys = json::array();
    for (int index = 0; index < 50; ++index) keys.push_back({{"kty", "RSA"}});
    kids = row(check_jwks_document(json{{"keys", keys}}.dump(), nullptr), "jwks.kids");
    EXPECT_EQ(
        kids.verdict(Idp::Aws).reason,
        "keys[0], keys[1], keys[2] and 47 more without \"kid\": tokens name their key by kid");
}

class ProbeChainLimits : public ::testing::Test {
  protected:
    Check chain_row(std::size_t certificates, std::vector<Check>* all = nullptr) {
        const testing::IssuedFiles files = testing::write_hostile_chain(
            dir_.path(), {.host = kHost, .leaf_common_name = kHost, .fillers = certificates - 1});
        std::string error;
        std::vector<X509Ptr> chain = load_certificate_chain(files.certificate, &error);
        if (chain.size() != certificates) throw std::runtime_error(error);
        TlsObservation observation;
        observation.tls12.ok = true;
        observation.tls12.version = "TLSv1.2";
        observation.tls12.chain = std::move(chain);
        observation.host = kHost;
        observation.now = std::time(nullptr);
        std::vector<Check> checks = check_tls(observation);
        Check order = row(checks, "tls.chain");
        if (all != nullptr) *all = std::move(checks);
        return order;
    }

    static constexpr const char* kHost = "oidc.example.test";
    testing::TempDir dir_;
};

TEST_F(ProbeChainLimits, AChainLongerThanTheCapFailsAndOnlyItsStartIsExamined) {
    std::vector<Check> checks;
    const Check order = chain_row(kMaxChainCertificates + 40, &checks);
    EXPECT_EQ(order.mark({Idp::Aws, Idp::Gcp, Idp::Entra}), Mark::Fail);
    for (Idp idp : kAllIdps) {
        EXPECT_TRUE(contains(order.verdict(idp).reason,
                             "the server presents 50 certificates; "
                             "probe examines at most 10"))
            << order.verdict(idp).reason;
    }
    EXPECT_TRUE(contains(order.detail, "50 certificates: CN=oidc.example.test > CN=x > "))
        << order.detail;
    EXPECT_TRUE(contains(order.detail, " > 40 more not examined; last (AWS thumbprint) "))
        << order.detail;
    // Nine pairs judged, not fifty.
    const std::string& aws = order.verdict(Idp::Aws).reason;
    EXPECT_TRUE(contains(aws, "certificate 10 (CN=x) did not issue certificate 9")) << aws;
    EXPECT_FALSE(contains(aws, "certificate 11")) << aws;
    EXPECT_TRUE(contains(row(checks, "tls.trust").verdict(Idp::Aws).reason,
                         "(verifying the first 10 certificates)"));
}

TEST_F(ProbeChainLimits, AChainAtTheCapIsJudgedAsUsual) {
    const Check order = chain_row(kMaxChainCertificates);
    EXPECT_TRUE(order.detail.starts_with("10 certificates: ")) << order.detail;
    EXPECT_FALSE(contains(order.detail, "not examined")) << order.detail;
    EXPECT_FALSE(contains(order.verdict(Idp::Gcp).reason, "presents"))
        << order.verdict(Idp::Gcp).reason;
    EXPECT_EQ(order.verdict(Idp::Gcp).mark, Mark::Warn);  // out of order, but not too long
}

}  // namespace
}  // namespace oidcgw
