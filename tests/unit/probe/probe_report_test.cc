// `probe`'s report (probe_report.cc): exit status, the table and the JSON rendering.
#include "probe/probe_report.h"
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
#include "probe/jwt_verification.h"
#include "probe/probe_checks.h"
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

// ---- Report ----

ProbeReport sample_report() {
    ProbeReport report;
    report.issuer = "https://oidc.example.test";
    report.checks.push_back(make_check("a.pass", "One", "Passing row", "fine"));
    Check aws_only = make_check("a.aws", "One", "AWS-only row", "port 8443");
    aws_only.raise(Idp::Aws, Mark::Fail, "AWS wants 443");
    report.checks.push_back(aws_only);
    Check warning = make_check("b.warn", "Two", "Warning row");
    warning.all(Mark::Warn, "renew soon");
    report.checks.push_back(warning);
    return report;
}

TEST(ProbeReportTest, ExitStatusDependsOnTheProvidersAsked) {
    ProbeReport report = sample_report();
    EXPECT_FALSE(report.passed());
    EXPECT_EQ(probe_exit_status(report), 1);
    report.asked = {Idp::Gcp, Idp::Entra};
    EXPECT_TRUE(report.passed());  // warnings alone do not fail
    EXPECT_EQ(probe_exit_status(report), 0);
    EXPECT_EQ(report.summary(Idp::Gcp).mark, Mark::Warn);
    EXPECT_EQ(report.summary(Idp::Aws).reasons,
              std::vector<std::string>({"AWS-only row: AWS wants 443", "Warning row: renew soon"}));
}

TEST(ProbeReportTest, TableShowsMarksAndReasons) {
    const std::string table = render_probe_table(sample_report());
    EXPECT_TRUE(contains(table, "Probe of https://oidc.example.test for AWS, GCP, Entra"));
    EXPECT_TRUE(contains(table, "One\n"));
    EXPECT_TRUE(contains(table, "\u2713 Passing row"));
    EXPECT_TRUE(contains(table, "\u2717 AWS-only row"));
    EXPECT_TRUE(contains(table, "AWS \u2717 AWS wants 443"));
    EXPECT_TRUE(contains(table, "! Warning row"));
    EXPECT_TRUE(contains(table, "      ! renew soon"));
    EXPECT_TRUE(contains(table, "AWS   \u2717 would fail"));
    EXPECT_TRUE(contains(table, "GCP   ! would work, with warnings"));
    EXPECT_TRUE(contains(table, "Result: FAILED"));
}

TEST(ProbeReportTest, JsonCarriesEveryVerdict) {
    ProbeReport report = sample_report();
    report.asked = {Idp::Aws, Idp::Entra};
    const json document = json::parse(render_probe_json(report));
    EXPECT_EQ(document["passed"], false);
    EXPECT_EQ(document["idps"], json({"aws", "entra"}));
    EXPECT_EQ(document["checks"].size(), 3u);
    EXPECT_EQ(document["checks"][1]["result"], "fail");
    EXPECT_EQ(document["checks"][1]["idps"]["aws"]["reason"], "AWS wants 443");
    EXPECT_FALSE(document["checks"][1]["idps"].contains("gcp"));
    EXPECT_EQ(document["verdicts"]["entra"]["result"], "warn");
}

TEST(ProbeReportTest, IdpListsParse) {
    std::string error;
    EXPECT_EQ(parse_idp_list("entra,AWS,aws", &error), std::vector<Idp>({Idp::Aws, Idp::Entra}));
    EXPECT_FALSE(parse_idp_list("aws,,gcp", &error));
    EXPECT_FALSE(parse_idp_list("azure", &error));
    EXPECT_TRUE(contains(error, "azure"));
}

}  // namespace
}  // namespace oidcgw
