// listen and health_listen (src/config/config_listen.cc).
#include "config/config.h"
#include "config_test_support.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace oidcgw::testing {
namespace {

// ---- listen ------------------------------------------------------------------------------------

TEST(ParseConfigListen, Addresses) {
    const Config config = config_after([](json& c) {
        c["listen"] = {"0.0.0.0:443", "[::]:8443",   "localhost:8443",
                       "127.0.0.1:1", "[::1]:65535", "GW.example.com:443"};
    });
    ASSERT_EQ(config.listen.size(), 6u);
    EXPECT_EQ(config.listen[1].text, "[::]:8443");
    EXPECT_EQ(listen_hosts_and_ports(config),
              (std::vector<std::string>{"0.0.0.0 443", ":: 8443", "localhost 8443", "127.0.0.1 1",
                                        "::1 65535", "GW.example.com 443"}));
}

// Behind a layer-4 load balancer: the object form, and the sources that may send the header.
TEST(ParseConfigListen, ProxyProtocolListenersAndTheirTrustedSources) {
    const Config config = config_after([](json& c) {
        c["listen"] = {json{{"address", "0.0.0.0:443"}, {"proxy_protocol", true}}, "127.0.0.1:8443",
                       json{{"address", "[::]:9443"}}};
        c["proxy_protocol_from"] = {"10.0.0.0/8", "127.0.0.1", "2001:db8::/32"};
    });
    ASSERT_EQ(config.listen.size(), 3u);
    EXPECT_TRUE(config.listen[0].proxy_protocol);
    EXPECT_EQ(config.listen[0].text, "0.0.0.0:443");
    EXPECT_FALSE(config.listen[1].proxy_protocol);
    EXPECT_FALSE(config.listen[2].proxy_protocol);
    ASSERT_EQ(config.proxy_protocol_from.size(), 3u);
    EXPECT_EQ(config.proxy_protocol_from[1].text(), "127.0.0.1/32");
    EXPECT_EQ(config.proxy_protocol_from[2].text(), "2001:db8::/32");
    EXPECT_TRUE(config_after([](json&) {}).proxy_protocol_from.empty());
}

TEST(ParseConfigListen, ProxyProtocolErrorsNameTheKey) {
    const json proxied = {json{{"address", "0.0.0.0:443"}, {"proxy_protocol", true}}};
    EXPECT_EQ(error_after([&](json& c) { c["listen"] = proxied; }),
              "proxy_protocol_from: is required when a listener has proxy_protocol (listen[0]): "
              "list the load balancers' addresses, e.g. [\"10.0.0.0/8\"]");
    EXPECT_EQ(error_after([&](json& c) {
                  c["listen"] = proxied;
                  c["proxy_protocol_from"] = json::array();
              }),
              "proxy_protocol_from: must list at least one prefix");
    EXPECT_EQ(error_after([&](json& c) {
                  c["listen"] = proxied;
                  c["proxy_protocol_from"] = {"10.0.0.0/8", "10.1.2.3/8"};
              }),
              "proxy_protocol_from[1]: \"10.1.2.3/8\" has bits set past its prefix length (did "
              "you mean 10.0.0.0/8?)");
    EXPECT_TRUE(contains(error_after([&](json& c) {
                             c["listen"] = proxied;
                             c["proxy_protocol_from"] = {"lb.example.com"};
                         }),
                         "proxy_protocol_from[0]: \"lb.example.com\" is not an IPv4 or IPv6"));
    EXPECT_EQ(error_after([](json& c) { c["proxy_protocol_from"] = {"10.0.0.0/8"}; }),
              "proxy_protocol_from: is set but no listener has \"proxy_protocol\": true");
    EXPECT_EQ(error_after([](json& c) {
                  c["listen"] = {json{{"address", "0.0.0.0:443"}, {"proxy", true}}};
              }),
              "listen[0].proxy: unknown key (known: address, proxy_protocol)");
    EXPECT_TRUE(
        contains(error_after([](json& c) {
                     c["listen"] = {json{{"address", "0.0.0.0:443"}, {"proxy_protocol", "yes"}}};
                 }),
                 "listen[0].proxy_protocol: must be true or false"));
    EXPECT_EQ(error_after([](json& c) {
                  c["listen"] = {json{{"proxy_protocol", true}}};
              }),
              "listen[0].address: is required");
    EXPECT_TRUE(contains(error_after([](json& c) {
                             c["listen"] = {json{{"address", "0.0.0.0"}}};
                         }),
                         "listen[0].address: invalid address"));
}

TEST(ParseConfigListen, Errors) {
    auto listen_error = [](const json& value) {
        return error_after([&](json& c) { c["listen"] = value; });
    };
    EXPECT_EQ(error_after([](json& c) { c.erase("listen"); }), "listen: is required");
    EXPECT_EQ(listen_error("0.0.0.0:443"),
              "listen: must be an array of \"host:port\" addresses, found string");
    EXPECT_EQ(listen_error(json::array()), "listen: must list at least one address");
    EXPECT_TRUE(contains(listen_error({443}),
                         "listen[0]: must be an address string like \"0.0.0.0:443\" or an object"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0"}),
                         "listen[0]: invalid address \"0.0.0.0\": a "
                         "port is required"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:0"}), "port must be a number from 1 to 65535"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:65536"}), "port must be a number from 1 to 65535"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:0443"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:+1"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"0.0.0.0:https"}), "port must be"));
    EXPECT_TRUE(contains(listen_error({"::1:443"}), "IPv6 addresses need brackets"));
    EXPECT_TRUE(contains(listen_error({"[::1]"}), "a port is required"));
    EXPECT_TRUE(contains(listen_error({"[::1]443"}), "a port is required"));
    EXPECT_TRUE(contains(listen_error({"[::1:443"}), "closing ']'"));
    EXPECT_TRUE(contains(listen_error({"[1.2.3.4]:443"}), "not an IPv6 address"));
    EXPECT_TRUE(contains(listen_error({":443"}), "a host is required"));
    EXPECT_TRUE(contains(listen_error({"256.1.1.1:443"}), "not an IPv4 address or host name"));
    EXPECT_TRUE(contains(listen_error({"exa mple:443"}), "not an IPv4 address or host name"));
    EXPECT_TRUE(contains(listen_error({"-bad.example:443"}), "not an IPv4 address or host name"));
    EXPECT_EQ(listen_error({"127.0.0.1:443", "0.0.0.0:443", "127.0.0.1:443"}),
              "listen[2]: duplicate address \"127.0.0.1:443\" (same as listen[0])");
    EXPECT_TRUE(contains(listen_error({"[::]:443", "[0::0]:443"}), "listen[1]: duplicate address"));
    EXPECT_TRUE(contains(listen_error({"LocalHost:1", "localhost:1"}), "duplicate address"));
}

// The grammar of common/host_port.h, as the listen addresses meet it.
TEST(ParseConfigListen, OneHostPortGrammar) {
    auto listen_error = [](const std::string& value) {
        return error_after([&](json& c) { c["listen"] = {value}; });
    };
    // A NUL inside the brackets no longer ends the address for inet_pton: refused, and shown.
    EXPECT_EQ(listen_error(std::string("[::1\0x]:443", 11)),
              "listen[0]: invalid address \"[::1\\x00x]:443\": \"::1\\x00x\" is not an IPv6 "
              "address");
    // The shape is judged before the host: text after ']' is a missing port first.
    EXPECT_EQ(listen_error("[zz]x"),
              "listen[0]: invalid address \"[zz]x\": a port is required, "
              "e.g. \"[::]:443\"");
    EXPECT_TRUE(contains(listen_error("01.2.3.4:443"), "not an IPv4 address or host name"));
    EXPECT_TRUE(contains(listen_error("under_score:443"), "not an IPv4 address or host name"));
    EXPECT_TRUE(contains(listen_error("example.com.:443"), "not an IPv4 address or host name"));
    EXPECT_TRUE(contains(listen_error(std::string(64, 'a') + ":443"), "not an IPv4 address"));
    EXPECT_EQ(
        config_after([](json& c) { c["listen"] = {std::string(63, 'a') + ":443"}; }).listen[0].port,
        443);
}

TEST(ParseConfigListen, SamePortOnDifferentAddressesIsFine) {
    const Config config = config_after([](json& c) {
        c["listen"] = {"127.0.0.1:443", "127.0.0.2:443"};
    });
    EXPECT_EQ(config.listen.size(), 2u);
}

// ---- health_listen -----------------------------------------------------------------------------

TEST(ParseConfigHealthListen, Valid) {
    const Config config = config_after([](json& c) { c["health_listen"] = "127.0.0.1:8080"; });
    ASSERT_TRUE(config.health_listen.has_value());
    EXPECT_EQ(config.health_listen->text, "127.0.0.1:8080");
    EXPECT_EQ(config.health_listen->port, 8080);
    // A different port next to a wildcard listener is fine.
    EXPECT_TRUE(config_after([](json& c) {
                    c["listen"] = {"[::]:443"};
                    c["health_listen"] = "[::1]:8080";
                }).health_listen.has_value());
    // A specific public address leaves the rest of the port to others.
    EXPECT_TRUE(config_after([](json& c) {
                    c["listen"] = {"10.0.0.5:443"};
                    c["health_listen"] = "127.0.0.1:443";
                }).health_listen.has_value());
}

TEST(ParseConfigHealthListen, Errors) {
    EXPECT_EQ(error_after([](json& c) { c["health_listen"] = 8080; }),
              "health_listen: must be an address string like \"0.0.0.0:443\", found number");
    EXPECT_TRUE(contains(error_after([](json& c) { c["health_listen"] = "8080"; }),
                         "health_listen: invalid address \"8080\""));
    EXPECT_EQ(error_after([](json& c) {
                  c["listen"] = {"127.0.0.1:8443", "127.0.0.1:8080"};
                  c["health_listen"] = "127.0.0.1:8080";
              }),
              "health_listen: \"127.0.0.1:8080\" overlaps the public listen[1] \"127.0.0.1:8080\": "
              "the health endpoints need an address of their own");
    EXPECT_TRUE(contains(error_after([](json& c) { c["health_listen"] = "127.0.0.1:443"; }),
                         "overlaps the public listen[0] \"0.0.0.0:443\""));
    EXPECT_TRUE(contains(error_after([](json& c) {
                             c["listen"] = {"[::]:443"};
                             c["health_listen"] = "10.1.2.3:443";
                         }),
                         "health_listen: \"10.1.2.3:443\" overlaps"));
}

}  // namespace
}  // namespace oidcgw::testing
