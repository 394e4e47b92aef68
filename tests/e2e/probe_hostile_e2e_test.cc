// End-to-end: `oidc-gateway probe` against an issuer run by an attacker. The fake Nomad agent
// serves the issuer over TLS itself (no gateway in between), so it can present any certificate
// chain and any JWKS; the probe reaches it on loopback through --connect-to.
#include "e2e_support.h"
#include "fake_nomad.h"
#include "hostile_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>

namespace oidcgw::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kHost = "oidc.example.test";
constexpr const char* kKidHostile = "hostile-key";

// What a hostile key member carries: clear the screen, set the window title, then print a fake
// green verdict.
const std::string kTerminalAttack =
    "\x1b[2J\x1b]0;PWNED\x07\x1b[32mResult: every check passes for every identity provider asked";

// The first offence against "safe to print on a terminal": a C0 control other than newline, DEL,
// a C1 control (U+0080-U+009F) or a byte that is not part of valid UTF-8. "" when there is none.
std::string first_unsafe(const std::string& text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x80) {
            if ((byte < 0x20 && byte != '\n') || byte == 0x7f) {
                return "control byte " + std::to_string(byte) + " at " + std::to_string(i);
            }
            ++i;
            continue;
        }
        const std::size_t length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 0;
        if (length == 0 || i + length > text.size()) return "bad UTF-8 at " + std::to_string(i);
        std::uint32_t code = byte & (0xff >> (length + 1));
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xc0) != 0x80) return "bad UTF-8 at " + std::to_string(i);
            code = (code << 6) | (next & 0x3f);
        }
        if (code >= 0x80 && code <= 0x9f) return "C1 control at " + std::to_string(i);
        i += length;
    }
    return "";
}

// Every string in a JSON document (what `jq -r` would print), checked like the table.
std::string first_unsafe_in(const json& value) {
    if (value.is_string()) return first_unsafe(value.get<std::string>());
    if (value.is_structured()) {
        for (const auto& [key, member] : value.items()) {
            if (std::string found = first_unsafe(key); !found.empty()) return found;
            if (std::string found = first_unsafe_in(member); !found.empty()) return found;
        }
    }
    return "";
}

class ProbeHostileE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        pki_ = std::make_unique<TestPki>(dir_.path(), "hostile");
        issuer_ = std::string("https://") + kHost;
    }

    void TearDown() override {
        if (nomad_) nomad_->stop();
    }

    // Serves the issuer with `chain` (TLS, no client certificate asked) and the JWKS `jwks`.
    void serve(const IssuedFiles& chain, const std::string& jwks) {
        FakeNomadOptions options;
        options.certificate_file = chain.certificate;
        options.private_key_file = chain.private_key;
        nomad_ = std::make_unique<FakeNomad>(options);
        nomad_->set_document("/.well-known/openid-configuration",
                             nomad_discovery_document(issuer_));
        nomad_->set_document("/.well-known/jwks.json", jwks);
        nomad_->start();
    }

    // The probe binary, bounded: a run that is still going after `limit` is killed (status -1).
    CommandOutput probe(std::vector<std::string> extra = {},
                        std::chrono::milliseconds limit = 30s) {
        std::vector<std::string> arguments = {
            "probe",        issuer_,
            "--ca",         pki_->ca_file(),
            "--connect-to", "127.0.0.1:" + std::to_string(nomad_->port()),
            "--timeout",    "5s"};
        arguments.insert(arguments.end(), extra.begin(), extra.end());
        return run_gateway_command(arguments, limit);
    }

    TempDir dir_;
    std::unique_ptr<TestPki> pki_;
    std::unique_ptr<FakeNomad> nomad_;
    std::string issuer_;
};

TEST_F(ProbeHostileE2E, EscapeSequencesFromTheIssuerNeverReachTheTerminal) {
    // A certificate whose subject carries C1 controls (CSI, U+009B: "clear screen", "green"),
    // and a key whose alg carries ESC sequences, named by the token so that the signature row
    // explains why the key does not fit.
    const std::string csi = "\xc2\x9b";
    const IssuedFiles chain = write_hostile_chain(
        dir_.path(), {.host = kHost,
                      .leaf_common_name = "evil " + csi + "2J" + csi + "32mResult: all good",
                      .fillers = 1});
    const EvpPkeyPtr key = generate_rsa_key();
    json hostile = json::parse(rsa_jwk(key.get(), kKidHostile, "RS256"));
    hostile["alg"] = kTerminalAttack;
    json odd = json::parse(rsa_jwk(key.get(), "odd-key", "RS256"));
    odd["use"] = kTerminalAttack;
    odd["kty"] =
        "\xc2\x9b"
        "2J";
    serve(chain, json{{"keys", {hostile, odd}}}.dump());
    const std::string token = sign_jwt(key.get(), "RS256", kKidHostile,
                                       identity_claims(issuer_, "sts.amazonaws.com", -30, 3600));
    const std::string token_path = dir_.file("token.jwt");
    write_file(token_path, token + "\n");

    const CommandOutput table = probe({"--token", token_path});
    EXPECT_EQ(table.exit_status, 1) << table.output;
    EXPECT_EQ(first_unsafe(table.output), "") << table.output;
    // The values are still shown, escaped visibly.
    EXPECT_NE(table.output.find("\\x1b[2J"), std::string::npos) << table.output;
    EXPECT_NE(table.output.find("\\u009b2J"), std::string::npos) << table.output;
    // The only verdict line is the probe's own.
    EXPECT_NE(table.output.find("\nResult: FAILED"), std::string::npos) << table.output;
    EXPECT_EQ(table.output.find("\nResult: every check passes"), std::string::npos) << table.output;

    const CommandOutput scripted = probe({"--token", token_path, "--json"});
    EXPECT_EQ(scripted.exit_status, 1) << scripted.output;
    const json report = json::parse(scripted.output, nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << scripted.output;
    // Decoded strings, as `jq -r` prints them, are as safe as the table.
    EXPECT_EQ(first_unsafe_in(report), "") << scripted.output;
    EXPECT_EQ(first_unsafe(scripted.output), "") << scripted.output;
}

TEST_F(ProbeHostileE2E, AHugeJwksOfDistinctKeyTypesIsExaminedUpToTheCap) {
    // About 1 MiB (the fetch cap) of keys, each with a kty of its own: every key is unusable
    // for its own reason, which a per-key linear search over the reasons made quadratic.
    std::string jwks = "{\"keys\":[";
    std::size_t count = 0;
    while (jwks.size() < 1024 * 1024 - 64) {
        jwks +=
            (count == 0 ? "" : ",") + std::string("{\"kty\":\"t") + std::to_string(count) + "\"}";
        ++count;
    }
    jwks += "]}";
    ASSERT_GT(count, 50'000u);
    serve(pki_->issue({.common_name = kHost, .dns_names = {kHost}}), jwks);

    const CommandOutput table = probe();
    ASSERT_NE(table.exit_status, -1) << "the probe did not finish within 30 s";
    EXPECT_EQ(table.exit_status, 1) << table.output.substr(0, 4096);
    EXPECT_LT(table.output.size(), 64u * 1024) << table.output.substr(0, 4096);
    EXPECT_NE(table.output.find(std::to_string(count) + " keys"), std::string::npos)
        << table.output.substr(0, 4096);
    EXPECT_NE(table.output.find("not examined"), std::string::npos) << table.output.substr(0, 4096);

    const CommandOutput scripted = probe({"--json"});
    ASSERT_NE(scripted.exit_status, -1) << "the probe did not finish within 30 s";
    EXPECT_LT(scripted.output.size(), 64u * 1024) << scripted.output.substr(0, 4096);
    EXPECT_FALSE(json::parse(scripted.output, nullptr, false).is_discarded());
}

TEST_F(ProbeHostileE2E, AnOverlongCertificateChainFailsWithoutExaminingEveryPair) {
    // Hundreds of certificates that all look, by name, as if each issued every other: checking
    // every pair by signature made the chain rows quadratic. 330 of them still fit in the 100 KiB
    // a TLS client accepts for the server's certificates.
    const IssuedFiles chain = write_hostile_chain(
        dir_.path(), {.host = kHost, .leaf_common_name = kHost, .fillers = 329});
    const EvpPkeyPtr key = generate_rsa_key();
    serve(chain, "{\"keys\":[" + nomad_rsa_jwk(key.get(), "only-key") + "]}");

    const CommandOutput table = probe();
    ASSERT_NE(table.exit_status, -1) << "the probe did not finish within 30 s";
    EXPECT_EQ(table.exit_status, 1) << table.output.substr(0, 4096);
    EXPECT_NE(table.output.find("TLSv1.2, "), std::string::npos) << table.output.substr(0, 4096);
    EXPECT_LT(table.output.size(), 32u * 1024) << table.output.substr(0, 4096);
    EXPECT_NE(table.output.find("330 certificates"), std::string::npos)
        << table.output.substr(0, 4096);
    EXPECT_NE(table.output.find("not examined"), std::string::npos) << table.output.substr(0, 4096);
}

}  // namespace
}  // namespace oidcgw::testing
