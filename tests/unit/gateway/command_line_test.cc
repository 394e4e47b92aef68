// The command line: serve/check as before, and the probe and thumbprint flags.
#include "command_line.h"

#include <gtest/gtest.h>

namespace oidcgw {
namespace {

CommandLine parse(std::vector<std::string> arguments) {
    return parse_command_line(arguments);
}

TEST(CommandLineTest, ServeAndCheckKeepTheirForms) {
    EXPECT_EQ(parse({"serve", "--config", "a.json"}).kind, CommandKind::Serve);
    EXPECT_EQ(parse({"--config=a.json", "check"}).config_path, "a.json");
    EXPECT_EQ(parse({"-c", "a.json", "check"}).kind, CommandKind::Check);
    EXPECT_EQ(parse({"serve"}).error, "--config FILE is required");
    EXPECT_EQ(parse({}).error, "no command given");
    EXPECT_EQ(parse({"serve", "-c"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"serve", "--json", "-c", "a"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"probe", "--help"}).kind, CommandKind::Help);
    EXPECT_EQ(parse({"-V"}).kind, CommandKind::Version);
}

TEST(CommandLineTest, ProbeTakesAnIssuerAndItsFlags) {
    const CommandLine command =
        parse({"probe", "https://oidc.example.test", "--ca", "ca.pem", "--token=t.jwt", "--idp",
               "gcp,aws", "--json", "--connect-to", "127.0.0.1:8443", "--timeout", "2.5s"});
    ASSERT_EQ(command.kind, CommandKind::Probe) << command.error;
    EXPECT_EQ(command.probe.issuer_url, "https://oidc.example.test");
    EXPECT_EQ(command.probe.ca_file, "ca.pem");
    EXPECT_EQ(command.probe.token_file, "t.jwt");
    EXPECT_EQ(command.probe.idps, std::vector<Idp>({Idp::Aws, Idp::Gcp}));
    EXPECT_TRUE(command.probe.json);
    ASSERT_TRUE(command.probe.connect_to);
    EXPECT_EQ(command.probe.connect_to->to_string(), "127.0.0.1:8443");
    EXPECT_EQ(command.probe.timeout, std::chrono::milliseconds(2500));

    const CommandLine defaults = parse({"probe", "https://oidc.example.test"});
    EXPECT_EQ(defaults.probe.idps.size(), 3u);
    EXPECT_FALSE(defaults.probe.json);
    EXPECT_FALSE(defaults.probe.connect_to);
    EXPECT_EQ(defaults.probe.timeout, std::chrono::seconds(10));
}

TEST(CommandLineTest, ProbeUsageErrors) {
    EXPECT_EQ(parse({"probe"}).error, "probe needs an ISSUER_URL");
    EXPECT_EQ(parse({"probe", "https://a", "https://b"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"probe", "https://a", "--ca"}).error, "--ca needs a value");
    EXPECT_EQ(parse({"probe", "https://a", "--ca="}).error, "--ca needs a value");
    EXPECT_EQ(parse({"probe", "https://a", "--json", "--json"}).error, "--json is given twice");
    EXPECT_EQ(parse({"probe", "https://a", "--ca", "x", "--ca=y"}).error, "--ca is given twice");
    EXPECT_NE(parse({"probe", "https://a", "--idp", "azure"}).error.find("azure"),
              std::string::npos);
    EXPECT_EQ(parse({"probe", "https://a", "--connect-to", "127.0.0.1"}).kind,
              CommandKind::Invalid);
    EXPECT_EQ(parse({"probe", "https://a", "--timeout", "10"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"probe", "https://a", "--timeout", "0s"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"probe", "https://a", "--all"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"probe", "https://a", "-c", "x"}).kind, CommandKind::Invalid);
}

TEST(CommandLineTest, ThumbprintTakesAHostOrAConfig) {
    CommandLine command = parse({"thumbprint", "oidc.example.test", "--all"});
    ASSERT_EQ(command.kind, CommandKind::Thumbprint) << command.error;
    EXPECT_EQ(command.thumbprint.server->to_string(), "oidc.example.test:443");
    EXPECT_TRUE(command.thumbprint.all);

    command = parse(
        {"thumbprint", "oidc.example.test:8443", "--ca", "ca.pem", "--connect-to", "[::1]:9443"});
    ASSERT_EQ(command.kind, CommandKind::Thumbprint) << command.error;
    EXPECT_EQ(command.thumbprint.server->port, 8443);
    EXPECT_EQ(command.thumbprint.ca_file, "ca.pem");
    EXPECT_EQ(command.thumbprint.connect_to->host, "::1");

    command = parse({"thumbprint", "https://oidc.example.test/nomad"});
    ASSERT_EQ(command.kind, CommandKind::Thumbprint) << command.error;
    EXPECT_EQ(command.thumbprint.server->to_string(), "oidc.example.test:443");

    command = parse({"thumbprint", "--config", "gateway.json"});
    ASSERT_EQ(command.kind, CommandKind::Thumbprint) << command.error;
    EXPECT_EQ(command.thumbprint.config_path, "gateway.json");
    EXPECT_FALSE(command.thumbprint.server);
}

TEST(CommandLineTest, ThumbprintUsageErrors) {
    EXPECT_EQ(parse({"thumbprint"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"thumbprint", "a.example", "--config", "g.json"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"thumbprint", "--config", "g.json", "--ca", "c.pem"}).kind,
              CommandKind::Invalid);
    EXPECT_EQ(parse({"thumbprint", "a.example", "b.example"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"thumbprint", "http://a.example"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"thumbprint", "a.example:70000"}).kind, CommandKind::Invalid);
    EXPECT_EQ(parse({"thumbprint", "a.example", "--token", "t"}).kind, CommandKind::Invalid);
}

TEST(CommandLineTest, UsageDocumentsTheNewCommands) {
    const std::string usage = usage_text();
    for (const char* text : {"probe ISSUER_URL", "thumbprint HOST[:PORT]", "--connect-to HOST:PORT",
                             "--idp LIST", "--timeout DURATION", "--all", "--token FILE"}) {
        EXPECT_NE(usage.find(text), std::string::npos) << text;
    }
}

}  // namespace
}  // namespace oidcgw
