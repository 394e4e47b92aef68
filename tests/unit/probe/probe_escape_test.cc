// `probe` against hostile text: every place where a check builds a message from a server's
// document, a JWK, a token, a certificate, a header or an error escapes it, and both renderings
// escape once more whatever a check left in.
#include "common/certificate_chain.h"
#include "jwt_signing.h"
#include "jwt_tools.h"
#include "probe/jwks_checks.h"
#include "probe/jwt_verification.h"
#include "probe/probe_checks.h"
#include "probe/probe_report.h"
#include "probe/token_checks.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <stdexcept>

namespace oidcgw {
namespace {

using nlohmann::json;
using testing::contains;

// Everything a terminal acts on, and a byte that is not UTF-8 (which a JSON document cannot carry:
// kJsonAttack is the same without it).
const std::string kAttack =
    "\x1b[2J\x1b]0;PWNED\x07\xc2\x9b"
    "32mResult: every check passes\xff";

const std::string kJsonAttack = kAttack.substr(0, kAttack.size() - 1);

// No C0 control (but newline), DEL, C1 control or invalid UTF-8, as escape_untrusted promises.
bool terminal_safe(const std::string& text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if ((byte < 0x20 && byte != '\n') || byte == 0x7f) return false;
        if (byte < 0x80) {
            ++i;
            continue;
        }
        const std::size_t length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 0;
        if (length == 0 || byte > 0xf4 || i + length > text.size()) return false;
        for (std::size_t k = 1; k < length; ++k) {
            if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
        }
        if (byte == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f) return false;
        i += length;
    }
    return true;
}

bool all_text_safe(const std::vector<Check>& checks) {
    for (const Check& check : checks) {
        if (!terminal_safe(check.detail) || !terminal_safe(check.general_reason)) return false;
        for (const IdpVerdict& verdict : check.idps) {
            if (!terminal_safe(verdict.reason)) return false;
        }
    }
    return true;
}

TEST(ProbeEscape, SignatureMessagesQuoteEveryKeyMember) {
    const EvpPkeyPtr rsa = testing::generate_rsa_key();
    const std::string claims = testing::identity_claims("https://a.example", "aud", 0, 60);
    std::string error;
    const auto token = decode_jwt(testing::sign_rs256_jwt(rsa.get(), "k", claims), &error);
    ASSERT_TRUE(token);
    const json good = json::parse(testing::nomad_rsa_jwk(rsa.get(), "k"));

    for (const char* member : {"alg", "use", "kty"}) {
        json key = good;
        key[member] = kAttack;
        EXPECT_FALSE(verify_jwt_signature(*token, key, &error)) << member;
        EXPECT_TRUE(terminal_safe(error)) << member << ": " << error;
        EXPECT_TRUE(contains(error, "\"\\x1b[2J")) << error;
    }
    // An unknown algorithm in the token's own header.
    DecodedJwt odd = *token;
    odd.alg = kAttack;
    EXPECT_FALSE(verify_jwt_signature(odd, good, &error));
    EXPECT_TRUE(terminal_safe(error)) << error;

    // Curves, through the key import that names them.
    for (const char* kty : {"EC", "OKP"}) {
        const json key = {{"kty", kty}, {"crv", kAttack}, {"x", "AQAB"}, {"y", "AQAB"}};
        EXPECT_FALSE(public_key_from_jwk(key, &error));
        EXPECT_TRUE(terminal_safe(error)) << kty << ": " << error;
        EXPECT_TRUE(contains(error, "\\u009b32m")) << error;
    }
    EXPECT_FALSE(public_key_from_jwk(json{{"kty", kAttack}}, &error));
    EXPECT_TRUE(terminal_safe(error)) << error;
}

TEST(ProbeEscape, JwksRowsEscapeEveryMember) {
    const json keys = {{{"kty", kJsonAttack}, {"kid", kJsonAttack}},
                       {{"kty", "RSA"}, {"kid", "k"}, {"alg", kJsonAttack}, {"use", kJsonAttack}},
                       {{"kty", "OKP"}, {"kid", kJsonAttack}, {"crv", kJsonAttack}, {"use", "sig"}},
                       {{"kty", "EC"}, {"crv", kJsonAttack}, {"kid", "k"}}};
    const std::vector<Check> checks = check_jwks_document(json{{"keys", keys}}.dump(), nullptr);
    EXPECT_TRUE(all_text_safe(checks));
}

TEST(ProbeEscape, DiscoveryAndFetchRowsEscapeServerText) {
    const std::string document =
        json{{"issuer", kJsonAttack}, {"jwks_uri", "https://x.example/" + kJsonAttack}}.dump();
    EXPECT_TRUE(all_text_safe(check_discovery_document(document, "https://x.example", nullptr)));
    // Invalid UTF-8 in the document itself is a parse error, whose message must be safe too.
    EXPECT_TRUE(all_text_safe(check_discovery_document("{\"issuer\":\"" + kAttack + "\"}",
                                                       "https://x.example", nullptr)));

    ProbeFetch fetch;
    fetch.reached = true;
    fetch.verified = false;
    fetch.tls_error = kAttack;
    fetch.status = 302;
    fetch.location = kAttack;
    fetch.content_type = kAttack;
    EXPECT_TRUE(all_text_safe({check_fetch("f", "S", "T", fetch)}));
    EXPECT_TRUE(all_text_safe({check_content_type("c", "S", fetch)}));
    fetch.reached = false;
    fetch.error = kAttack;
    EXPECT_TRUE(all_text_safe({check_fetch("f", "S", "T", fetch)}));
}

TEST(ProbeEscape, TokenRowsEscapeHeaderAndClaims) {
    const EvpPkeyPtr rsa = testing::generate_rsa_key();
    json claims = json::parse(testing::identity_claims("https://a.example", kJsonAttack, 0, 60));
    claims["sub"] = kJsonAttack;
    claims["iss"] = kJsonAttack;
    const std::string token = testing::sign_rs256_jwt(rsa.get(), kJsonAttack, claims.dump());
    const json keys = json::array({json::parse(testing::nomad_rsa_jwk(rsa.get(), kJsonAttack))});
    TokenContext context;
    context.issuer = "https://a.example";
    context.keys = &keys;
    context.now = std::time(nullptr);
    const std::vector<Check> checks = check_token(token, context);
    EXPECT_TRUE(all_text_safe(checks));
    EXPECT_TRUE(all_text_safe(check_token(kAttack, context)));
}

TEST(ProbeEscape, CertificateSubjectsAndNamesAreEscaped) {
    testing::TempDir dir;
    testing::TestPki pki(dir.path(), "escape");
    const testing::IssuedFiles files = pki.issue({.common_name = "evil \xc2\x9b"
                                                                 "2J\xe2\x80\xae",
                                                  .dns_names = {"elsewhere.example.test"},
                                                  .include_intermediate = true});
    std::string error;
    std::vector<X509Ptr> chain = load_certificate_chain(files.certificate, &error);
    ASSERT_EQ(chain.size(), 2u) << error;
    std::swap(chain[0], chain[1]);  // out of order: the chain row names both subjects
    TlsObservation observation;
    observation.tls12.ok = true;
    observation.tls12.version = "TLSv1.2";
    observation.tls12.chain = std::move(chain);
    observation.tls13.error = kAttack;
    observation.host = "oidc.example.test";
    observation.ca_file = pki.ca_file();
    observation.now = std::time(nullptr);
    const std::vector<Check> checks = check_tls(observation);
    EXPECT_TRUE(all_text_safe(checks));
    bool named = false;
    for (const Check& check : checks) named = named || contains(check.detail, "\\u009b2J\\u202e");
    EXPECT_TRUE(named);
}

TEST(ProbeEscape, RenderingsEscapeWhatAnyCheckLeftIn) {
    ProbeReport report;
    report.issuer = "https://x.example/" + kAttack;
    Check check = make_check("x.raw", "X", "A careless check", kAttack);
    check.all(Mark::Fail, kAttack);
    check.note(Mark::Warn, kAttack);
    report.checks.push_back(check);

    const std::string table = render_probe_table(report);
    EXPECT_TRUE(terminal_safe(table)) << table;
    EXPECT_TRUE(contains(table, "\\x1b[2J\\x1b]0;PWNED\\x07\\u009b32mResult")) << table;

    const std::string text = render_probe_json(report);
    const json document = json::parse(text);
    EXPECT_TRUE(terminal_safe(document["issuer"].get<std::string>()));
    const json& row = document["checks"][0];
    EXPECT_TRUE(terminal_safe(row["detail"].get<std::string>()));
    EXPECT_TRUE(terminal_safe(row["note"]["reason"].get<std::string>()));
    EXPECT_TRUE(terminal_safe(row["idps"]["aws"]["reason"].get<std::string>()));
    EXPECT_TRUE(terminal_safe(document["verdicts"]["gcp"]["reasons"][0].get<std::string>()));
}

TEST(ProbeEscape, RenderingsCutLongTextWithAMarker) {
    ProbeReport report;
    Check check = make_check("x.long", "X", "Long", std::string(5000, 'd') + "\xc3\xa9");
    check.all(Mark::Fail, std::string(kMaxShownTextBytes - 1, 'r') + "\xc3\xa9" + "rest");
    report.checks.push_back(check);
    const std::string table = render_probe_table(report);
    EXPECT_LT(table.size(), 6 * kMaxShownTextBytes);
    EXPECT_TRUE(contains(table, "[... 4002 more bytes not shown]")) << table;
    // A character is never split: the cut falls before it.
    EXPECT_TRUE(contains(table, std::string(kMaxShownTextBytes - 1, 'r') + " [... 6 more"));
    EXPECT_TRUE(terminal_safe(table));
    const json document = json::parse(render_probe_json(report));
    EXPECT_LT(document["checks"][0]["detail"].get<std::string>().size(), kMaxShownTextBytes + 64);
}

}  // namespace
}  // namespace oidcgw
