#include "config/issuer_url.h"

#include <gtest/gtest.h>

#include <string>

namespace oidcgw::testing {
namespace {

IssuerUrl must_parse_issuer(std::string_view text) {
    std::string error;
    std::optional<IssuerUrl> issuer = parse_issuer_url(text, &error);
    EXPECT_TRUE(issuer.has_value()) << text << ": " << error;
    return issuer.value_or(IssuerUrl{});
}

void expect_issuer_rejected(std::string_view text, std::string_view error_part) {
    std::string error;
    EXPECT_FALSE(parse_issuer_url(text, &error).has_value()) << text;
    EXPECT_NE(error.find(error_part), std::string::npos) << text << ": " << error;
}

TEST(IssuerUrl, ParsesPlainHost) {
    const IssuerUrl issuer = must_parse_issuer("https://oidc.nomad.example.com");
    EXPECT_EQ(issuer.text, "https://oidc.nomad.example.com");
    EXPECT_EQ(issuer.host, "oidc.nomad.example.com");
    EXPECT_EQ(issuer.port, 443);
    EXPECT_FALSE(issuer.explicit_port);
    EXPECT_EQ(issuer.path_prefix, "");
    EXPECT_EQ(issuer.discovery_path(), "/.well-known/openid-configuration");
    EXPECT_EQ(issuer.default_jwks_path(), "/.well-known/jwks.json");
}

TEST(IssuerUrl, TrailingSlashGivesEmptyPrefixButKeepsText) {
    const IssuerUrl issuer = must_parse_issuer("https://oidc.nomad.example.com/");
    EXPECT_EQ(issuer.text, "https://oidc.nomad.example.com/");
    EXPECT_EQ(issuer.path_prefix, "");
}

TEST(IssuerUrl, KeepsPathPrefixWithoutTrailingSlash) {
    EXPECT_EQ(must_parse_issuer("https://x.example/a/b").path_prefix, "/a/b");
    const IssuerUrl issuer = must_parse_issuer("https://x.example/a/b/");
    EXPECT_EQ(issuer.path_prefix, "/a/b");
    EXPECT_EQ(issuer.discovery_path(), "/a/b/.well-known/openid-configuration");
    EXPECT_EQ(must_parse_issuer("https://x.example/~user/a-b_c.d!$&'()*+,;=:@").path_prefix,
              "/~user/a-b_c.d!$&'()*+,;=:@");
}

TEST(IssuerUrl, LowercasesHostButNotText) {
    const IssuerUrl issuer = must_parse_issuer("https://OIDC.Nomad.Example.COM/Prefix");
    EXPECT_EQ(issuer.host, "oidc.nomad.example.com");
    EXPECT_EQ(issuer.text, "https://OIDC.Nomad.Example.COM/Prefix");
    EXPECT_EQ(issuer.path_prefix, "/Prefix");
}

TEST(IssuerUrl, AcceptsLocalhostAndIpv4) {
    EXPECT_EQ(must_parse_issuer("https://localhost:8443").host, "localhost");
    EXPECT_EQ(must_parse_issuer("https://127.0.0.1").host, "127.0.0.1");
    EXPECT_EQ(must_parse_issuer("https://255.255.255.255").host, "255.255.255.255");
}

TEST(IssuerUrl, ParsesPorts) {
    const IssuerUrl explicit_default = must_parse_issuer("https://x.example:443");
    EXPECT_EQ(explicit_default.port, 443);
    EXPECT_TRUE(explicit_default.explicit_port);
    const IssuerUrl other = must_parse_issuer("https://x.example:8443/p");
    EXPECT_EQ(other.port, 8443);
    EXPECT_TRUE(other.explicit_port);
    EXPECT_EQ(other.path_prefix, "/p");
    EXPECT_EQ(must_parse_issuer("https://x.example:65535").port, 65535);
    EXPECT_EQ(must_parse_issuer("https://x.example:1").port, 1);
}

TEST(IssuerUrl, RejectsBadPorts) {
    expect_issuer_rejected("https://x.example:0", "port");
    expect_issuer_rejected("https://x.example:65536", "port");
    expect_issuer_rejected("https://x.example:", "port");
    expect_issuer_rejected("https://x.example:0443", "port");
    expect_issuer_rejected("https://x.example:+443", "port");
    expect_issuer_rejected("https://x.example:44a", "port");
}

TEST(IssuerUrl, RequiresLowercaseHttps) {
    expect_issuer_rejected("http://x.example", "https");
    expect_issuer_rejected("HTTPS://x.example", "https");
    expect_issuer_rejected("Https://x.example", "https");
    expect_issuer_rejected("x.example", "https");
    expect_issuer_rejected("//x.example", "https");
}

TEST(IssuerUrl, RejectsUserinfoQueryFragment) {
    expect_issuer_rejected("https://user@x.example", "userinfo");
    expect_issuer_rejected("https://user:pw@x.example/", "userinfo");
    expect_issuer_rejected("https://x.example/?a=b", "query");
    expect_issuer_rejected("https://x.example?", "query");
    expect_issuer_rejected("https://x.example/#top", "fragment");
    expect_issuer_rejected("https://x.example#", "fragment");
}

TEST(IssuerUrl, RejectsBadHosts) {
    expect_issuer_rejected("https://", "host");
    expect_issuer_rejected("https:///path", "host");
    expect_issuer_rejected("https://-x.example", "host");
    expect_issuer_rejected("https://x-.example", "host");
    expect_issuer_rejected("https://x..example", "host");
    expect_issuer_rejected("https://x.example.", "host");
    expect_issuer_rejected("https://x_y.example", "host");
    expect_issuer_rejected("https://x example", "host");
    expect_issuer_rejected(
        "https://b\xc3\xbc"
        "cher.example",
        "host");
    expect_issuer_rejected("https://[::1]", "IPv6");
    expect_issuer_rejected("https://256.1.1.1", "host");
    expect_issuer_rejected("https://1.2.3", "host");
    expect_issuer_rejected("https://01.2.3.4", "host");
    expect_issuer_rejected("https://" + std::string(64, 'a') + ".example", "host");
    EXPECT_EQ(must_parse_issuer("https://" + std::string(63, 'a') + ".example").host.size(), 71u);
    std::string long_name;
    for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
    long_name += "ab";  // 258 characters
    expect_issuer_rejected("https://" + long_name, "host");
}

TEST(IssuerUrl, RejectsBadPaths) {
    expect_issuer_rejected("https://x.example//", "empty segment");
    expect_issuer_rejected("https://x.example/a//b", "empty segment");
    expect_issuer_rejected("https://x.example/a//", "empty segment");
    expect_issuer_rejected("https://x.example/./a", "\".\" segment");
    expect_issuer_rejected("https://x.example/a/..", "\"..\" segment");
    expect_issuer_rejected("https://x.example/a/../", "\"..\" segment");
    expect_issuer_rejected("https://x.example/a%2Fb", "'%'");
    expect_issuer_rejected("https://x.example/a b", "0x20");
    expect_issuer_rejected("https://x.example/a\"b", "'\"'");
    expect_issuer_rejected("https://x.example/a\\b", "'\\'");
    expect_issuer_rejected("https://x.example/a[b]", "'['");
    expect_issuer_rejected("https://x.example/\xc3\xa9", "0xC3");
}

TEST(IssuerUrl, RejectsOverlongUrl) {
    const std::string origin = "https://x.example.com/";
    const std::string fits = origin + std::string(2048 - origin.size(), 'p');
    ASSERT_EQ(fits.size(), 2048u);
    EXPECT_TRUE(parse_issuer_url(fits, nullptr).has_value());
    expect_issuer_rejected(fits + "p", "longer than 2048");
}

TEST(HostMatchesIssuer, DefaultPort) {
    const IssuerUrl issuer = must_parse_issuer("https://oidc.nomad.example.com");
    EXPECT_TRUE(host_matches_issuer(issuer, "oidc.nomad.example.com"));
    EXPECT_TRUE(host_matches_issuer(issuer, "OIDC.Nomad.Example.com"));
    EXPECT_TRUE(host_matches_issuer(issuer, "oidc.nomad.example.com:443"));
    EXPECT_FALSE(host_matches_issuer(issuer, "oidc.nomad.example.com:8443"));
    EXPECT_FALSE(host_matches_issuer(issuer, "oidc.nomad.example.com:"));
    EXPECT_FALSE(host_matches_issuer(issuer, "oidc.nomad.example.com."));
    EXPECT_FALSE(host_matches_issuer(issuer, "other.example.com"));
    EXPECT_FALSE(host_matches_issuer(issuer, "oidc.nomad.example.co"));
    EXPECT_FALSE(host_matches_issuer(issuer, ""));
}

TEST(HostMatchesIssuer, ExplicitDefaultPortStillAllowsOmission) {
    const IssuerUrl issuer = must_parse_issuer("https://oidc.nomad.example.com:443/x");
    EXPECT_TRUE(host_matches_issuer(issuer, "oidc.nomad.example.com"));
    EXPECT_TRUE(host_matches_issuer(issuer, "oidc.nomad.example.com:443"));
}

// issuers[].aliases: each alias is an authority of its own, matched the same way.
TEST(HostMatchesIssuer, AliasesAnswerForTheIssuer) {
    IssuerUrl issuer = must_parse_issuer("https://oidc.nomad.example.com/x");
    std::string error;
    issuer.aliases.push_back(parse_issuer_alias("Nomad-OIDC.internal:8443", &error).value());
    issuer.aliases.push_back(parse_issuer_alias("10.0.5.5", &error).value());
    EXPECT_TRUE(host_matches_issuer(issuer, "oidc.nomad.example.com"));
    EXPECT_TRUE(host_matches_issuer(issuer, "nomad-oidc.internal:8443"));
    EXPECT_FALSE(host_matches_issuer(issuer, "nomad-oidc.internal"));  // its port is 8443
    EXPECT_FALSE(host_matches_issuer(issuer, "oidc.nomad.example.com:8443"));
    EXPECT_TRUE(host_matches_issuer(issuer, "10.0.5.5"));
    EXPECT_TRUE(host_matches_issuer(issuer, "10.0.5.5:443"));
    EXPECT_FALSE(host_matches_issuer(issuer, "10.0.5.6"));
    EXPECT_FALSE(host_matches_issuer(issuer, "[10.0.5.5]"));
    EXPECT_FALSE(parse_issuer_alias("nomad.internal:", &error).has_value());
    EXPECT_FALSE(parse_issuer_alias("", &error).has_value());
    EXPECT_FALSE(parse_issuer_alias("a b", &error).has_value());
    EXPECT_FALSE(parse_issuer_alias("1.2.3.4.5", &error).has_value());
}

TEST(HostMatchesIssuer, OtherPortMustBeNamed) {
    const IssuerUrl issuer = must_parse_issuer("https://localhost:8443");
    EXPECT_TRUE(host_matches_issuer(issuer, "localhost:8443"));
    EXPECT_TRUE(host_matches_issuer(issuer, "LOCALHOST:8443"));
    EXPECT_FALSE(host_matches_issuer(issuer, "localhost"));
    EXPECT_FALSE(host_matches_issuer(issuer, "localhost:443"));
    EXPECT_FALSE(host_matches_issuer(issuer, "localhost:08443"));
}

TEST(UpstreamUrl, ParsesHttpsWithDefaults) {
    std::string error;
    const auto upstream = parse_upstream_url("https://nomad.service.consul", &error);
    ASSERT_TRUE(upstream.has_value()) << error;
    EXPECT_TRUE(upstream->https);
    EXPECT_EQ(upstream->host, "nomad.service.consul");
    EXPECT_EQ(upstream->port, 443);
    EXPECT_EQ(upstream->base_path, "");
    EXPECT_EQ(upstream->text, "https://nomad.service.consul");
    EXPECT_EQ(upstream->url_for("/.well-known/jwks.json"),
              "https://nomad.service.consul/.well-known/jwks.json");
}

TEST(UpstreamUrl, ParsesHttpWithPortAndBase) {
    std::string error;
    const auto upstream = parse_upstream_url("http://10.0.0.5:4646/nomad/", &error);
    ASSERT_TRUE(upstream.has_value()) << error;
    EXPECT_FALSE(upstream->https);
    EXPECT_EQ(upstream->host, "10.0.0.5");
    EXPECT_EQ(upstream->port, 4646);
    EXPECT_EQ(upstream->base_path, "/nomad");
    EXPECT_EQ(upstream->url_for("/.well-known/jwks.json"),
              "http://10.0.0.5:4646/nomad/.well-known/jwks.json");
    EXPECT_EQ(parse_upstream_url("http://x", &error)->port, 80);
}

TEST(UpstreamUrl, ParsesBracketedIpv6) {
    std::string error;
    const auto upstream = parse_upstream_url("https://[FD00::1]:4646", &error);
    ASSERT_TRUE(upstream.has_value()) << error;
    EXPECT_EQ(upstream->host, "fd00::1");
    EXPECT_EQ(upstream->port, 4646);
    EXPECT_EQ(upstream->url_for("/a"), "https://[fd00::1]:4646/a");
    const auto loopback = parse_upstream_url("http://[::1]/", &error);
    ASSERT_TRUE(loopback.has_value()) << error;
    EXPECT_EQ(loopback->host, "::1");
    EXPECT_EQ(loopback->port, 80);
    EXPECT_EQ(loopback->url_for("/b"), "http://[::1]/b");
}

TEST(UpstreamUrl, Rejects) {
    const char* const bad[] = {
        "ftp://x",          "HTTPS://x",
        "https://u@x",      "https://x/?q",
        "https://x/#f",     "https://::1/",
        "https://[::1",     "https://[::g]",
        "https://[::1]x",   "https://[fe80::1%25eth0]",
        "https://x:0",      "https://x:70000",
        "https://x/a/../b", "https://x/a%20b",
        "https://",         "x:4646",
    };
    for (const char* text : bad) {
        std::string error;
        EXPECT_FALSE(parse_upstream_url(text, &error).has_value()) << text;
        EXPECT_FALSE(error.empty()) << text;
    }
}

class JwksPath : public ::testing::Test {
  protected:
    std::optional<std::string> check(std::string_view issuer_text, std::string_view jwks_uri) {
        const IssuerUrl issuer = must_parse_issuer(issuer_text);
        error_.clear();
        return jwks_path_for_issuer(issuer, jwks_uri, &error_);
    }
    std::string error_;
};

TEST_F(JwksPath, AcceptsDefaultLocation) {
    EXPECT_EQ(check("https://oidc.nomad.example.com",
                    "https://oidc.nomad.example.com/.well-known/jwks.json"),
              "/.well-known/jwks.json");
    EXPECT_EQ(check("https://oidc.nomad.example.com/",
                    "https://oidc.nomad.example.com/.well-known/jwks.json"),
              "/.well-known/jwks.json");
}

TEST_F(JwksPath, AcceptsCaseInsensitiveHostAndExplicitDefaultPort) {
    EXPECT_EQ(check("https://oidc.nomad.example.com", "https://OIDC.nomad.example.com:443/keys"),
              "/keys");
    EXPECT_EQ(check("https://oidc.nomad.example.com:443", "https://oidc.nomad.example.com/keys"),
              "/keys");
    EXPECT_EQ(check("https://h.example:8443/p", "https://h.example:8443/p/k/jwks"), "/p/k/jwks");
}

TEST_F(JwksPath, RejectsOtherHostOrPort) {
    EXPECT_FALSE(check("https://oidc.nomad.example.com", "https://evil.example.com/jwks.json"));
    EXPECT_NE(error_.find("host"), std::string::npos) << error_;
    EXPECT_FALSE(check("https://oidc.nomad.example.com", "https://oidc.nomad.example.com.evil/k"));
    EXPECT_FALSE(check("https://oidc.nomad.example.com", "https://oidc.nomad.example.com:8443/k"));
    EXPECT_NE(error_.find("port"), std::string::npos) << error_;
    EXPECT_FALSE(check("https://h.example:8443", "https://h.example/k"));
}

TEST_F(JwksPath, RejectsHttpQueryFragmentUserinfo) {
    const char* issuer = "https://oidc.nomad.example.com";
    EXPECT_FALSE(check(issuer, "http://oidc.nomad.example.com/.well-known/jwks.json"));
    EXPECT_NE(error_.find("https"), std::string::npos) << error_;
    EXPECT_FALSE(check(issuer, "HTTPS://oidc.nomad.example.com/k"));
    EXPECT_FALSE(check(issuer, "https://oidc.nomad.example.com/k?x=1"));
    EXPECT_FALSE(check(issuer, "https://oidc.nomad.example.com/k#x"));
    EXPECT_FALSE(check(issuer, "https://u@oidc.nomad.example.com/k"));
    EXPECT_FALSE(check(issuer, "/.well-known/jwks.json"));
}

TEST_F(JwksPath, RejectsPathOutsidePrefix) {
    const char* issuer = "https://x.example/tenant";
    EXPECT_EQ(check(issuer, "https://x.example/tenant/.well-known/jwks.json"),
              "/tenant/.well-known/jwks.json");
    EXPECT_FALSE(check(issuer, "https://x.example/.well-known/jwks.json"));
    EXPECT_NE(error_.find("under the issuer path"), std::string::npos) << error_;
    EXPECT_FALSE(check(issuer, "https://x.example/tenantx/jwks"));
    EXPECT_FALSE(check(issuer, "https://x.example/tenant/"));
    EXPECT_FALSE(check(issuer, "https://x.example/tenant"));
    EXPECT_FALSE(check("https://x.example", "https://x.example"));
    EXPECT_FALSE(check("https://x.example", "https://x.example/"));
}

TEST_F(JwksPath, RejectsUnservablePaths) {
    const char* issuer = "https://x.example/tenant";
    EXPECT_FALSE(check(issuer, "https://x.example/tenant/../jwks"));
    EXPECT_FALSE(check(issuer, "https://x.example/tenant/./jwks"));
    EXPECT_FALSE(check(issuer, "https://x.example/tenant//jwks"));
    EXPECT_FALSE(check(issuer, "https://x.example/tenant/jw%6Bs"));
    EXPECT_FALSE(check(issuer, "https://x.example/tenant/jw ks"));
}

TEST_F(JwksPath, RejectsDiscoveryPath) {
    EXPECT_FALSE(
        check("https://x.example/t", "https://x.example/t/.well-known/openid-configuration"));
    EXPECT_NE(error_.find("discovery"), std::string::npos) << error_;
}

}  // namespace
}  // namespace oidcgw::testing
