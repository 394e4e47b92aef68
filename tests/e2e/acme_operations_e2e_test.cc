// ACME as operators run it: a reload that changes tls.acme, gateways sharing one cache_dir, and
// the ACME client after the privilege drop.
#include "acme/renewal_info.h"
#include "acme_fixture.h"
#include "common/certificate_chain.h"
#include "common/utc_time.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

namespace oidcgw::testing {
namespace {

RawExchange handshake_for(std::uint16_t port, const std::string& sni, const std::string& ca_file) {
    RawTlsOptions options;
    options.port = port;
    options.sni = sni;
    options.ca_file = ca_file;
    options.deadline = 3s;
    return raw_tls_exchange(options, "");
}

TEST_F(AcmeE2E, AReloadThatAddsANameOrdersItAndABadAcmeBlockIsRefusedByKey) {
    start_pebble();
    start_gateway_with(acme_config());
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    EXPECT_FALSE(handshake_for(public_port_, "second.test", root_file_).connected);

    nlohmann::json acme;
    acme["names"] = {kPublicHost, "second.test"};
    write_config_json(acme_config(acme));
    ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until([&] { return log_count("acme_certificate_served") >= 2; }, 60s))
        << gateway_->log() << pebble_->log();
    const RawExchange second = handshake_for(public_port_, "second.test", root_file_);
    EXPECT_TRUE(second.connected) << second.handshake_error;
    EXPECT_TRUE(handshake_for(public_port_, kPublicHost, root_file_).connected);
    EXPECT_EQ(acme_status().value("names", nlohmann::json::array()),
              nlohmann::json({kPublicHost, "second.test"}));

    // Refused whole, by key path; the certificate keeps being served.
    acme["key_type"] = "dsa";
    write_config_json(acme_config(acme));
    ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until([&] { return log_count("reload_failed") >= 1; }, 10s))
        << gateway_->log();
    EXPECT_NE(gateway_->log().find("tls.acme.key_type"), std::string::npos);
    EXPECT_TRUE(handshake_for(public_port_, "second.test", root_file_).connected);
    EXPECT_EQ(health("/readyz").status, 200);
}

TEST_F(AcmeE2E, GatewaysSharingACacheDirOrderOnceAndServeTheSameCertificate) {
    PebbleOptions options;
    options.validation_sleeps = true;  // the first gateway's order takes seconds
    start_pebble(options);
    start_gateway_with(acme_config());
    ASSERT_TRUE(wait_until([&] { return log_count("acme_challenge") >= 1; }, 30s))
        << gateway_->log();

    // A second gateway on other ports, same cache_dir and names, started mid-order.
    const std::uint16_t second_port = free_loopback_port();
    const std::uint16_t second_health = free_loopback_port();
    nlohmann::json config = acme_config();
    config["listen"] = {"127.0.0.1:" + std::to_string(second_port)};
    config["health_listen"] = "127.0.0.1:" + std::to_string(second_health);
    const std::string second_config = dir_.file("second.json");
    write_file(second_config, config.dump(2));
    GatewayProcess second({"serve", "--config", second_config}, dir_.file("second.log"));
    second.start();
    const auto second_acme = [&] {
        const HttpResponse status =
            http_request("http://127.0.0.1:" + std::to_string(second_health) + "/status");
        const auto document = nlohmann::json::parse(status.body, nullptr, false);
        if (!document.is_object() || !document.contains("acme")) return nlohmann::json::object();
        return document["acme"]["certificates"][0];
    };
    EXPECT_TRUE(
        wait_until([&] { return second_acme().value("state", "") == "waiting_for_lock"; }, 10s))
        << second.log();

    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    ASSERT_TRUE(wait_until(
        [&] {
            return http_request("http://127.0.0.1:" + std::to_string(second_health) + "/readyz")
                       .status == 200;
        },
        30s))
        << second.log();
    const RawExchange first_served = handshake_for(public_port_, kPublicHost, root_file_);
    const RawExchange second_served = handshake_for(second_port, kPublicHost, root_file_);
    ASSERT_TRUE(first_served.connected) << first_served.handshake_error;
    ASSERT_TRUE(second_served.connected) << second_served.handshake_error;
    EXPECT_EQ(second_served.peer_certificate_sha256, first_served.peer_certificate_sha256);
    const std::string second_log = second.log();
    EXPECT_EQ(second_log.find("\"acme_order\""), std::string::npos) << second_log;
    EXPECT_NE(second_log.find("acme_certificate_shared"), std::string::npos) << second_log;
    EXPECT_EQ(log_count("\"acme_order\""), 1u) << gateway_->log();
    second.stop();
}

TEST_F(AcmeE2E, ACaThatRequiresExternalAccountBindingGetsItFromTheKeyFile) {
    PebbleOptions options;
    options.external_account_binding_required = true;
    start_pebble(options);
    // Without the binding: refused before any account is made, with the reason.
    start_gateway_with(acme_config());
    ASSERT_TRUE(
        wait_until([&] { return acme_status().value("consecutive_failures", 0) >= 1; }, 20s))
        << gateway_->log();
    EXPECT_NE(acme_status().value("last_error", "").find("external account binding"),
              std::string::npos)
        << acme_status().dump();
    gateway_->stop();

    // With it (the MAC key as the CA hands it out, in a file): the account is bound.
    const std::string key_file = dir_.file("eab.key");
    write_file(key_file, pebble_->eab_mac_key() + "\n");
    nlohmann::json acme;
    acme["external_account_binding"] = {{"key_id", pebble_->eab_key_id()},
                                        {"hmac_key_file", key_file}};
    start_gateway_with(acme_config(acme));
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    EXPECT_EQ(acme_get("/.well-known/openid-configuration").status, 200);
    EXPECT_NE(pebble_->log().find("Successful newAccount Binding"), std::string::npos)
        << pebble_->log();
}

// Debian's pebble (2.4.0) has no ARI, so a fake CA serves the directory and the renewalInfo
// answers here (over HTTPS, verified like any CA).
TEST_F(AcmeE2E, AnAriWindowFromTheCaSetsTheRenewalTime) {
    FakeNomadOptions options;
    options.certificate_file = nomad_server_.certificate;
    options.private_key_file = nomad_server_.private_key;
    FakeNomad ca(options);
    ca.start();
    const std::string base = ca.base_url();
    ca.set_document("/directory", nlohmann::json({{"newNonce", base + "/nonce"},
                                                  {"newAccount", base + "/account"},
                                                  {"newOrder", base + "/order"},
                                                  {"renewalInfo", base + "/ari"}})
                                      .dump());
    // A certificate kept from before: 30 days left, so without ARI it is renewed in 20 days.
    const IssuedFiles kept = public_pki_->issue({.common_name = "kept",
                                                 .dns_names = {kPublicHost},
                                                 .ip_addresses = {},
                                                 .include_intermediate = true});
    const std::string acme_dir = cache_dir() + "/acme";
    ::mkdir(acme_dir.c_str(), 0700);
    write_file(acme_dir + "/certificate.pem", read_file(kept.certificate));
    write_file(acme_dir + "/certificate.key", read_file(kept.private_key));
    std::string error;
    const auto chain = load_certificate_chain(kept.certificate, &error);
    ASSERT_FALSE(chain.empty()) << error;
    const std::optional<std::string> certificate_id = ari_certificate_id(chain.front().get());
    ASSERT_TRUE(certificate_id);
    const auto window_answer = [&](std::time_t start, std::time_t end) {
        ca.set_response(
            "/ari/" + *certificate_id,
            FakeResponse{
                200,
                nlohmann::json({{"suggestedWindow",
                                 {{"start", utc_iso8601(start)}, {"end", utc_iso8601(end)}}}})
                    .dump(),
                "application/json",
                {{"Retry-After", "21600"}}});
    };
    nlohmann::json acme;
    acme["directory_url"] = base + "/directory";
    acme["ca"] = nomad_pki_->ca_file();

    // A window five days out: the renewal is set inside it, nothing is ordered now.
    const std::time_t now = std::time(nullptr);
    window_answer(now + 5 * 86400, now + 6 * 86400);
    start_gateway_with(acme_config(acme));
    ASSERT_TRUE(wait_ready(10s)) << gateway_->log();
    ASSERT_TRUE(wait_until([&] { return log_count("acme_renewal_window") >= 1; }, 10s))
        << gateway_->log();
    const nlohmann::json scheduled = acme_status();
    ASSERT_TRUE(scheduled.contains("next_renewal") && scheduled["next_renewal"].is_string())
        << scheduled.dump();
    const std::string next = scheduled["next_renewal"];
    EXPECT_GE(next, utc_iso8601(now + 5 * 86400)) << acme_status().dump();
    EXPECT_LE(next, utc_iso8601(now + 6 * 86400)) << acme_status().dump();
    EXPECT_EQ(log_count("acme_order_failed"), 0u) << gateway_->log();
    gateway_->stop();

    // A window already open: renewed at once (the fake CA then refuses the order, and the kept
    // certificate keeps being served).
    window_answer(now - 7200, now - 3600);
    start_gateway_with(acme_config(acme));
    ASSERT_TRUE(wait_until([&] { return log_count("acme_order_failed") >= 1; }, 20s))
        << gateway_->log();
    EXPECT_EQ(log_count("acme_renewal_window"), 2u) << gateway_->log();
    EXPECT_EQ(health("/readyz").status, 200);
    ca.stop();
}

TEST_F(AcmeE2E, TheAcmeClientWorksAfterThePrivilegeDropUnderTheSandbox) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the gateway as nobody";
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    const uid_t nobody_uid = nobody->pw_uid;
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
    const std::string cache = cache_dir();
    ASSERT_EQ(::chown(cache.c_str(), nobody_uid, nobody->pw_gid), 0);
    start_pebble();
    nlohmann::json config = acme_config();
    config["user"] = "nobody";
    config["sandbox"] = "enforce";
    start_gateway_with(config);
    ASSERT_TRUE(wait_acme_ready()) << gateway_->log() << pebble_->log();
    EXPECT_EQ(acme_get("/.well-known/jwks.json").status, 200);
    for (const char* name :
         {"/acme", "/acme/account.key", "/acme/certificate.key", "/acme/certificate.pem"}) {
        struct stat status {};
        ASSERT_EQ(::stat((cache + name).c_str(), &status), 0) << name;
        EXPECT_EQ(status.st_uid, nobody_uid) << name;
        EXPECT_EQ(status.st_mode & 0077, 0u) << name;  // nothing for group or others
    }
}

}  // namespace
}  // namespace oidcgw::testing
