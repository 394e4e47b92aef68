// The CA's answers (src/acme/acme_messages.cc): what a real CA sends parses; what a hostile or
// broken one sends is refused with the reason, never followed.
#include "acme/acme_messages.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw {
namespace {

// Pebble 2.4.0's directory, as it answers.
constexpr const char* kPebbleDirectory = R"({
   "keyChange": "https://localhost:14000/rollover-account-key",
   "meta": {"externalAccountRequired": false, "termsOfService": "data:text/plain,Do%20what%20thou%20wilt"},
   "newAccount": "https://localhost:14000/sign-me-up",
   "newNonce": "https://localhost:14000/nonce-plz",
   "newOrder": "https://localhost:14000/order-plz",
   "revokeCert": "https://localhost:14000/revoke-cert"
})";

TEST(AcmeMessages, ReadsADirectory) {
    std::string error;
    const auto directory = parse_acme_directory(kPebbleDirectory, &error);
    ASSERT_TRUE(directory) << error;
    EXPECT_EQ(directory->new_nonce, "https://localhost:14000/nonce-plz");
    EXPECT_EQ(directory->new_account, "https://localhost:14000/sign-me-up");
    EXPECT_EQ(directory->new_order, "https://localhost:14000/order-plz");
    EXPECT_EQ(directory->renewal_info, "");
    EXPECT_FALSE(directory->external_account_required);

    const auto with_ari = parse_acme_directory(
        R"({"newNonce":"https://ca/n","newAccount":"https://ca/a","newOrder":"https://ca/o",
            "renewalInfo":"https://ca/ari","meta":{"externalAccountRequired":true}})",
        &error);
    ASSERT_TRUE(with_ari) << error;
    EXPECT_EQ(with_ari->renewal_info, "https://ca/ari");
    EXPECT_TRUE(with_ari->external_account_required);
}

TEST(AcmeMessages, RefusesDirectoriesThatPointElsewhere) {
    std::string error;
    EXPECT_FALSE(parse_acme_directory(
        R"({"newNonce":"http://ca/n","newAccount":"https://ca/a","newOrder":"https://ca/o"})",
        &error));
    EXPECT_NE(error.find("\"newNonce\" is not an https URL"), std::string::npos) << error;
    EXPECT_FALSE(parse_acme_directory(
        R"({"newNonce":"file:///etc/passwd","newAccount":"https://ca/a","newOrder":"https://ca/o"})",
        &error));
    EXPECT_FALSE(
        parse_acme_directory(R"({"newNonce":"https://ca/n","newAccount":"https://ca/a"})", &error));
    EXPECT_NE(error.find("\"newOrder\" is missing"), std::string::npos) << error;
    EXPECT_FALSE(parse_acme_directory("[]", &error));
    EXPECT_FALSE(parse_acme_directory("{\"newNonce\":1}", &error));
    EXPECT_FALSE(parse_acme_directory("<html>", &error));
    EXPECT_NE(error.find("not JSON"), std::string::npos) << error;
    // Duplicate members: two readers could pick different URLs.
    EXPECT_FALSE(parse_acme_directory(
        R"({"newNonce":"https://ca/n","newNonce":"https://evil/n","newAccount":"https://ca/a",
            "newOrder":"https://ca/o"})",
        &error));
    EXPECT_FALSE(parse_acme_directory(std::string(300 * 1024, ' ') + "{}", &error));
}

TEST(AcmeMessages, ReadsAnOrder) {
    std::string error;
    const auto order = parse_acme_order(
        R"({"status":"valid","expires":"2026-12-07T00:00:00Z",
            "identifiers":[{"type":"dns","value":"gw.example"}],
            "authorizations":["https://ca/authZ/1","https://ca/authZ/2"],
            "finalize":"https://ca/finalize-order/9","certificate":"https://ca/certZ/ab"})",
        &error);
    ASSERT_TRUE(order) << error;
    EXPECT_EQ(order->status, "valid");
    EXPECT_EQ(order->authorizations.size(), 2u);
    EXPECT_EQ(order->finalize, "https://ca/finalize-order/9");
    EXPECT_EQ(order->certificate, "https://ca/certZ/ab");
    EXPECT_FALSE(order->error);

    const auto invalid = parse_acme_order(
        R"({"status":"invalid","authorizations":[],"finalize":"https://ca/f",
            "error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no \u001b[2J"}})",
        &error);
    ASSERT_TRUE(invalid) << error;
    ASSERT_TRUE(invalid->error);
    EXPECT_EQ(invalid->error->short_type(), "unauthorized");
    // Text from the CA reaches logs and /status escaped.
    EXPECT_EQ(invalid->error->summary(), "unauthorized: no \\x1b[2J");
}

TEST(AcmeMessages, RefusesMalformedOrders) {
    std::string error;
    EXPECT_FALSE(parse_acme_order(R"({"status":"pending","finalize":"https://ca/f"})", &error));
    EXPECT_FALSE(parse_acme_order(
        R"({"status":"pending","authorizations":["http://ca/a"],"finalize":"https://ca/f"})",
        &error));
    EXPECT_FALSE(parse_acme_order(
        R"({"status":"Pending; rm","authorizations":[],"finalize":"https://ca/f"})", &error));
    std::string many = R"({"status":"pending","finalize":"https://ca/f","authorizations":[)";
    for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + "\"https://ca/a\"";
    EXPECT_FALSE(parse_acme_order(many + "]}", &error));
    EXPECT_NE(error.find("too many"), std::string::npos) << error;
}

TEST(AcmeMessages, ReadsAnAuthorizationAndItsTlsAlpnChallenge) {
    std::string error;
    const auto authorization = parse_acme_authorization(
        R"({"status":"pending","identifier":{"type":"dns","value":"GW.Example"},
            "challenges":[
              {"type":"http-01","url":"https://ca/chalZ/1","token":"x","status":"pending"},
              {"type":"tls-alpn-01","url":"https://ca/chalZ/2",
               "token":"DGyRejmCefe7v4NfDGDKfA-0123456789_abcdef","status":"pending"}]})",
        &error);
    ASSERT_TRUE(authorization) << error;
    EXPECT_EQ(authorization->identifier, "gw.example");
    const AcmeChallenge* challenge = tls_alpn_challenge(*authorization);
    ASSERT_NE(challenge, nullptr);
    EXPECT_EQ(challenge->url, "https://ca/chalZ/2");
    EXPECT_EQ(challenge->token, "DGyRejmCefe7v4NfDGDKfA-0123456789_abcdef");
}

TEST(AcmeMessages, RefusesHostileAuthorizations) {
    std::string error;
    const auto with_token = [](const std::string& token) {
        return R"({"status":"pending","identifier":{"type":"dns","value":"gw.example"},
                   "challenges":[{"type":"tls-alpn-01","url":"https://ca/c","status":"pending",
                   "token":")" +
               token + "\"}]}";
    };
    EXPECT_FALSE(parse_acme_authorization(with_token("short"), &error));
    EXPECT_FALSE(parse_acme_authorization(with_token("has/slash/and+plus/000000000000"), &error));
    EXPECT_NE(error.find("token"), std::string::npos) << error;
    EXPECT_FALSE(parse_acme_authorization(
        R"({"status":"pending","identifier":{"type":"ip","value":"10.0.0.1"},"challenges":[]})",
        &error));
    EXPECT_FALSE(parse_acme_authorization(
        R"({"status":"pending","identifier":{"type":"dns","value":"a b"},"challenges":[]})",
        &error));
    EXPECT_FALSE(parse_acme_authorization(
        R"({"status":"pending","identifier":{"type":"dns","value":"gw.example"},
            "challenges":[{"type":"tls-alpn-01","url":"http://ca/c","status":"pending",
                           "token":"DGyRejmCefe7v4NfDGDKfA-0123456789"}]})",
        &error));
}

TEST(AcmeMessages, ANewOrderNamesWhatItReplacesOnlyWhereTheCaOffersAri) {
    EXPECT_EQ(new_order_payload({"gw.example", "b.example"}, "", true),
              R"({"identifiers":[{"type":"dns","value":"gw.example"},)"
              R"({"type":"dns","value":"b.example"}]})");
    EXPECT_EQ(new_order_payload({"gw.example"}, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", true),
              R"({"identifiers":[{"type":"dns","value":"gw.example"}],)"
              R"("replaces":"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"})");
    // RFC 9773 section 5: not sent to a CA without renewalInfo.
    EXPECT_EQ(new_order_payload({"gw.example"}, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", false),
              R"({"identifiers":[{"type":"dns","value":"gw.example"}]})");
}

TEST(AcmeMessages, ReadsProblemsWhateverTheBody) {
    const AcmeProblem nonce = parse_acme_problem(
        R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce","status":400})",
        400);
    EXPECT_EQ(nonce.short_type(), "badNonce");
    EXPECT_EQ(nonce.status, 400);
    EXPECT_EQ(nonce.summary(), "badNonce: JWS has an invalid anti-replay nonce");
    const AcmeProblem empty = parse_acme_problem("", 404);  // pebble's empty 404s
    EXPECT_EQ(empty.type, "");
    EXPECT_EQ(empty.summary(), "HTTP 404");
    const AcmeProblem other = parse_acme_problem(R"({"type":"about:blank"})", 500);
    EXPECT_EQ(other.short_type(), "about:blank");
}

}  // namespace
}  // namespace oidcgw
