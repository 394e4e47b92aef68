// The smaller sections: tls, user and group, logs (src/config/config_sections.cc).
#include "config/config.h"
#include "config_test_support.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

// ---- tls ---------------------------------------------------------------------------------------

TEST(ParseConfigTls, Certificates) {
    const Config config = config_after([](json& c) {
        c["tls"]["certificates"].push_back(
            {{"certificate", "/rsa.pem"}, {"private_key", "/rsa.key"}});
    });
    ASSERT_EQ(config.certificates.size(), 2u);
    EXPECT_EQ(config.certificates[0].certificate, "/c.pem");
    EXPECT_EQ(config.certificates[0].private_key, "/k.pem");
    EXPECT_EQ(config.certificates[1].certificate, "/rsa.pem");
    EXPECT_EQ(config.certificates[1].private_key, "/rsa.key");
}

TEST(ParseConfigTls, Errors) {
    EXPECT_EQ(error_after([](json& c) { c.erase("tls"); }), "tls: is required");
    EXPECT_EQ(error_after([](json& c) { c["tls"] = "/c.pem"; }),
              "tls: must be an object, found string");
    EXPECT_EQ(error_after([](json& c) { c["tls"] = json::object(); }),
              "tls.certificates: is required");
    EXPECT_TRUE(contains(error_after([](json& c) { c["tls"]["certificates"] = json::object(); }),
                         "tls.certificates: must be an array of {certificate, private_key} "
                         "objects, found object"));
    EXPECT_TRUE(contains(error_after([](json& c) { c["tls"]["certificates"] = json::array(); }),
                         "tls.certificates: must list at least one certificate"));
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"] = {"/c.pem"}; }),
              "tls.certificates[0]: must be an object, found string");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0].erase("certificate"); }),
              "tls.certificates[0].certificate: is required");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0].erase("private_key"); }),
              "tls.certificates[0].private_key: is required");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0]["private_key"] = ""; }),
              "tls.certificates[0].private_key: must not be empty (leave the key out instead)");
    EXPECT_EQ(error_after([](json& c) { c["tls"]["certificates"][0]["certificate"] = 1; }),
              "tls.certificates[0].certificate: must be a string, found number");
    EXPECT_EQ(error_after([](json& c) {
                  c["tls"]["certificates"][0]["certificate"] = std::string("/a\0b", 4);
              }),
              "tls.certificates[0].certificate: must not contain a NUL character");
}

// ---- user, group ------------------------------------------------------------------------------

TEST(ParseConfigAccount, UserAndGroup) {
    const Config user_only = config_after([](json& c) { c["user"] = "oidc-gateway"; });
    EXPECT_EQ(user_only.user, "oidc-gateway");
    EXPECT_EQ(user_only.group, "");
    const Config both = config_after([](json& c) {
        c["user"] = "svc_gw.1";
        c["group"] = "ssl-cert";
    });
    EXPECT_EQ(both.user, "svc_gw.1");
    EXPECT_EQ(both.group, "ssl-cert");
    // Samba-style machine accounts end in '$'.
    EXPECT_EQ(config_after([](json& c) { c["user"] = "host$"; }).user, "host$");
    // Names are not looked up while parsing: that is check_config_files' job.
    EXPECT_EQ(config_after([](json& c) { c["user"] = "no-such-account-here"; }).user,
              "no-such-account-here");
}

TEST(ParseConfigAccount, Errors) {
    EXPECT_EQ(error_after([](json& c) { c["group"] = "nogroup"; }),
              "group: needs user as well: the group is only switched to together with a user");
    EXPECT_EQ(error_after([](json& c) { c["user"] = ""; }),
              "user: must not be empty (leave the key out instead)");
    EXPECT_EQ(error_after([](json& c) { c["user"] = 65534; }),
              "user: must be a string, found number");
    EXPECT_EQ(error_after([](json& c) {
                  c["user"] = "nobody";
                  c["group"] = "";
              }),
              "group: must not be empty (leave the key out instead)");
    for (const char* bad : {"no body", "../etc", "a:b", "-rf", "x\n", "\u00e9t\u00e9"}) {
        SCOPED_TRACE(bad);
        const std::string name = bad;
        EXPECT_TRUE(contains(error_after([&](json& c) { c["user"] = name; }),
                             "user: must be an account name"));
        EXPECT_TRUE(contains(error_after([&](json& c) {
                                 c["user"] = "nobody";
                                 c["group"] = name;
                             }),
                             "group: must be an account name"));
    }
    EXPECT_TRUE(contains(error_after([](json& c) { c["user"] = std::string(65, 'a'); }),
                         "user: must be an account name (up to 64"));
    EXPECT_EQ(config_after([](json& c) { c["user"] = std::string(64, 'a'); }).user.size(), 64u);
}

// ---- logs --------------------------------------------------------------------------------------

TEST(ParseConfigLogs, FormatAndLevel) {
    EXPECT_EQ(config_after([](json& c) { c["log_format"] = "logfmt"; }).log_format,
              LogFormat::Logfmt);
    EXPECT_EQ(config_after([](json& c) { c["log_format"] = "json"; }).log_format, LogFormat::Json);
    const std::pair<const char*, LogLevel> levels[] = {{"debug", LogLevel::Debug},
                                                       {"info", LogLevel::Info},
                                                       {"warn", LogLevel::Warn},
                                                       {"error", LogLevel::Error}};
    for (const auto& [name, level] : levels) {
        EXPECT_EQ(config_after([&](json& c) { c["log_level"] = name; }).log_level, level) << name;
    }
}

TEST(ParseConfigLogs, Errors) {
    const auto error_with = [](const char* key, const json& value) {
        return error_after([&](json& c) { c[key] = value; });
    };
    const std::string formats = "log_format: must be one of \"json\", \"logfmt\", found ";
    EXPECT_EQ(error_with("log_format", "text"), formats + "\"text\"");
    EXPECT_EQ(error_with("log_format", "JSON"), formats + "\"JSON\"");
    EXPECT_EQ(error_with("log_format", 1), formats + "number");
    const std::string levels =
        "log_level: must be one of \"debug\", \"info\", \"warn\", \"error\", found ";
    EXPECT_EQ(error_with("log_level", "warning"), levels + "\"warning\"");
    EXPECT_EQ(error_with("log_level", json()), levels + "null");
}

TEST(ParseConfigLogs, AccessLog) {
    const Config on = config_after([](json& c) {
        c["access_log"] = {{"enabled", true}, {"max_per_second", 5}};
    });
    EXPECT_TRUE(on.access_log.enabled);
    EXPECT_EQ(on.access_log.max_per_second, 5u);
    const Config empty = config_after([](json& c) { c["access_log"] = json::object(); });
    EXPECT_FALSE(empty.access_log.enabled);
    EXPECT_EQ(empty.access_log.max_per_second, 100u);
    EXPECT_EQ(config_after([](json& c) {
                  c["access_log"] = {{"max_per_second", 100000}};
              }).access_log.max_per_second,
              100000u);
    EXPECT_EQ(config_after([](json& c) {
                  c["access_log"] = {{"max_per_second", 1}};
              }).access_log.max_per_second,
              1u);
}

TEST(ParseConfigLogs, AccessLogErrors) {
    const auto access_log_error = [](const json& value) {
        return error_after([&](json& c) { c["access_log"] = value; });
    };
    EXPECT_EQ(access_log_error(true), "access_log: must be an object, found boolean");
    EXPECT_EQ(access_log_error({{"enabled", "yes"}}),
              "access_log.enabled: must be true or false, found string");
    EXPECT_EQ(access_log_error({{"enabled", 1}}),
              "access_log.enabled: must be true or false, found number");
    EXPECT_EQ(access_log_error({{"max_per_second", 0}}),
              "access_log.max_per_second: must be from 1 to 100000, found 0");
    EXPECT_EQ(access_log_error({{"max_per_second", 100001}}),
              "access_log.max_per_second: must be from 1 to 100000, found 100001");
    EXPECT_EQ(access_log_error({{"max_per_second", 1.5}}),
              "access_log.max_per_second: must be a whole number from 1 to 100000, found 1.5");
}

}  // namespace
}  // namespace oidcgw::testing
