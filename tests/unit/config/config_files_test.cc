// check_config_files and load_config_file: the files, directories and accounts a configuration
// names (src/config/config_files.cc).
#include "common/certificate_chain.h"
#include "config/config.h"
#include "config_test_support.h"
#include "test_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <string>

namespace oidcgw::testing {
namespace {

// ---- File checks -------------------------------------------------------------------------------

class ConfigFilesTest : public ::testing::Test {
  protected:
    TempDir dir_;
    TestPki public_pki_{dir_.path(), "public"};
    TestPki nomad_pki_{dir_.path(), "nomad"};
    IssuedFiles server_ = issue(public_pki_, "gw.example.com", false, true);
    IssuedFiles client_ = issue(nomad_pki_, "gateway-client", true, false);
    std::string cache_dir_ = make_cache_dir();

    static IssuedFiles issue(TestPki& pki, const std::string& name, bool client,
                             bool with_intermediate, long valid_for_seconds = 30L * 24 * 3600) {
        CertificateRequest request;
        request.common_name = name;
        request.dns_names = {name};
        request.client = client;
        request.include_intermediate = with_intermediate;
        request.valid_for_seconds = valid_for_seconds;
        return pki.issue(request);
    }

    std::string make_cache_dir() {
        const std::string path = dir_.file("cache");
        EXPECT_EQ(::mkdir(path.c_str(), 0700), 0);
        return path;
    }

    json document() const {
        json c = minimal();
        c["tls"]["certificates"][0] = {{"certificate", server_.certificate},
                                       {"private_key", server_.private_key}};
        c["cache_dir"] = cache_dir_;
        c["issuers"][0]["upstream_tls"] = {{"ca", nomad_pki_.ca_file()},
                                           {"certificate", client_.certificate},
                                           {"private_key", client_.private_key},
                                           {"server_name", "server.global.nomad"}};
        return c;
    }

    // "key: message" from check_config_files, or "" when the files pass.
    template <typename Change>
    std::string check_after(Change change) {
        json c = document();
        change(c);
        const Config config = parse_ok(c);
        const std::optional<ConfigError> error = check_config_files(config);
        return error ? error->to_string() : std::string();
    }
};

TEST_F(ConfigFilesTest, GoodFilesPass) {
    EXPECT_EQ(check_after([](json&) {}), "");
    // Several public certificates, RSA among them.
    CertificateRequest rsa;
    rsa.common_name = "rsa.example.com";
    rsa.key_type = KeyType::Rsa2048;
    const IssuedFiles rsa_files = public_pki_.issue(rsa);
    EXPECT_EQ(check_after([&](json& c) {
                  c["tls"]["certificates"].push_back({{"certificate", rsa_files.certificate},
                                                      {"private_key", rsa_files.private_key}});
              }),
              "");
    // upstream_tls without a client certificate, and no upstream_tls at all.
    EXPECT_EQ(check_after([](json& c) {
                  c["issuers"][0]["upstream_tls"].erase("certificate");
                  c["issuers"][0]["upstream_tls"].erase("private_key");
              }),
              "");
    EXPECT_EQ(check_after([](json& c) { c["issuers"][0].erase("upstream_tls"); }), "");
    EXPECT_EQ(check_after([](json& c) { c.erase("cache_dir"); }), "");
}

TEST_F(ConfigFilesTest, MissingFilesNameTheirKey) {
    const std::string absent = dir_.file("absent.pem");
    EXPECT_EQ(check_after([&](json& c) { c["tls"]["certificates"][0]["private_key"] = absent; }),
              "tls.certificates[0].private_key: cannot read \"" + absent +
                  "\": No such file or directory");
    EXPECT_EQ(check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = absent; }),
              "tls.certificates[0].certificate: cannot read \"" + absent +
                  "\": No such file or directory");
    EXPECT_EQ(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["ca"] = absent; }),
        "issuers[0].upstream_tls.ca: cannot read \"" + absent + "\": No such file or directory");
    EXPECT_EQ(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["certificate"] = absent; }),
        "issuers[0].upstream_tls.certificate: cannot read \"" + absent +
            "\": No such file or directory");
    EXPECT_EQ(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["private_key"] = absent; }),
        "issuers[0].upstream_tls.private_key: cannot read \"" + absent +
            "\": No such file or directory");
    // The second certificate entry names its own index.
    EXPECT_TRUE(check_after([&](json& c) {
                    c["tls"]["certificates"].push_back(
                        {{"certificate", server_.certificate}, {"private_key", absent}});
                }).starts_with("tls.certificates[1].private_key: cannot read"));
}

TEST_F(ConfigFilesTest, UnreadableFileNamesItsKey) {
    EXPECT_EQ(
        check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = dir_.path(); }),
        "tls.certificates[0].certificate: cannot read \"" + dir_.path() +
            "\": is a directory, not a regular file");
}

TEST_F(ConfigFilesTest, ChainOutOfOrder) {
    const std::string text = read_file(server_.certificate);
    const std::string end = "-----END CERTIFICATE-----\n";
    const std::size_t split = text.find(end) + end.size();
    const std::string reversed = dir_.file("reversed.pem");
    write_file(reversed, text.substr(split) + text.substr(0, split));
    const std::string error =
        check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = reversed; });
    EXPECT_TRUE(error.starts_with("tls.certificates[0].certificate: certificate 2")) << error;
    EXPECT_TRUE(contains(error, "leaf first")) << error;
}

TEST_F(ConfigFilesTest, KeyOfAnotherCertificate) {
    const std::string error = check_after(
        [&](json& c) { c["tls"]["certificates"][0]["private_key"] = client_.private_key; });
    EXPECT_TRUE(
        error.starts_with("tls.certificates[0].private_key: the private key does not "
                          "belong to the certificate (CN=gw.example.com)"))
        << error;
    const std::string client_error = check_after(
        [&](json& c) { c["issuers"][0]["upstream_tls"]["private_key"] = server_.private_key; });
    EXPECT_TRUE(
        client_error.starts_with("issuers[0].upstream_tls.private_key: the private key "
                                 "does not belong"))
        << client_error;
}

TEST_F(ConfigFilesTest, ExpiredPublicCertificate) {
    const IssuedFiles expired = issue(public_pki_, "expired.example.com", false, false, -60);
    std::string load_error;
    const std::vector<X509Ptr> chain = load_certificate_chain(expired.certificate, &load_error);
    ASSERT_FALSE(chain.empty()) << load_error;
    const std::time_t not_after = certificate_not_after(chain[0].get());
    std::tm broken_down{};
    ASSERT_NE(gmtime_r(&not_after, &broken_down), nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &broken_down);

    const std::string error = check_after([&](json& c) {
        c["tls"]["certificates"][0] = {{"certificate", expired.certificate},
                                       {"private_key", expired.private_key}};
    });
    EXPECT_TRUE(
        error.starts_with("tls.certificates[0].certificate: certificate "
                          "\"CN=expired.example.com\""))
        << error;
    EXPECT_TRUE(contains(error, "expired on " + std::string(date) + " (notAfter)")) << error;
}

TEST_F(ConfigFilesTest, UpstreamCaMustHoldACertificate) {
    const std::string empty_bundle = dir_.file("empty-ca.pem");
    write_file(empty_bundle, "# no certificates here\n");
    EXPECT_EQ(check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["ca"] = empty_bundle; }),
              "issuers[0].upstream_tls.ca: \"" + empty_bundle + "\" holds no PEM certificate");
    // A key file is not a CA bundle.
    EXPECT_TRUE(contains(
        check_after([&](json& c) { c["issuers"][0]["upstream_tls"]["ca"] = client_.private_key; }),
        "issuers[0].upstream_tls.ca: \"" + client_.private_key +
            "\" holds a \"PRIVATE KEY\" block"));
}

TEST_F(ConfigFilesTest, GarbageCertificateFile) {
    const std::string garbage = dir_.file("garbage.pem");
    write_file(garbage, "garbage\n");
    EXPECT_EQ(check_after([&](json& c) { c["tls"]["certificates"][0]["certificate"] = garbage; }),
              "tls.certificates[0].certificate: \"" + garbage + "\" holds no PEM certificate");
    EXPECT_TRUE(check_after([&](json& c) { c["tls"]["certificates"][0]["private_key"] = garbage; })
                    .starts_with("tls.certificates[0].private_key: \"" + garbage +
                                 "\" holds no usable PEM private key"));
}

TEST_F(ConfigFilesTest, CacheDir) {
    const std::string absent = dir_.file("no-such-dir");
    EXPECT_EQ(check_after([&](json& c) { c["cache_dir"] = absent; }),
              "cache_dir: cannot use \"" + absent + "\": No such file or directory");
    EXPECT_EQ(check_after([&](json& c) { c["cache_dir"] = server_.certificate; }),
              "cache_dir: \"" + server_.certificate + "\" is not a directory");
}

TEST_F(ConfigFilesTest, CacheDirNotWritable) {
    if (::geteuid() == 0) GTEST_SKIP() << "root may write anywhere; mode bits cannot be tested";
    const std::string read_only = dir_.file("read-only");
    ASSERT_EQ(::mkdir(read_only.c_str(), 0500), 0);
    EXPECT_EQ(check_after([&](json& c) { c["cache_dir"] = read_only; }),
              "cache_dir: \"" + read_only + "\" is not writable: Permission denied");
}

// The account databases of this machine (Debian) hold nobody/nogroup and root.
TEST_F(ConfigFilesTest, UserAndGroupMustExist) {
    EXPECT_EQ(check_after([](json& c) { c["user"] = "nobody"; }), "");
    const auto user_and_group = [this](const char* user, const char* group) {
        return check_after([&](json& c) {
            c["user"] = user;
            c["group"] = group;
        });
    };
    EXPECT_EQ(user_and_group("nobody", "nogroup"), "");
    EXPECT_EQ(check_after([](json& c) { c["user"] = "oidcgw-absent-user"; }),
              "user: no such user \"oidcgw-absent-user\"");
    EXPECT_EQ(user_and_group("nobody", "oidcgw-absent-group"),
              "group: no such group \"oidcgw-absent-group\"");
    EXPECT_EQ(check_after([](json& c) { c["user"] = "root"; }),
              "user: \"root\" has uid 0: name the unprivileged account to run as");
    // File problems are reported before account ones.
    EXPECT_TRUE(check_after([&](json& c) {
                    c["user"] = "oidcgw-absent-user";
                    c["cache_dir"] = dir_.file("absent");
                }).starts_with("cache_dir: "));
}

TEST_F(ConfigFilesTest, LoadConfigFile) {
    const std::string path = dir_.file("gateway.json");
    write_file(path, "// comment\n" + document().dump(2));
    const ConfigResult result = load_config_file(path);
    ASSERT_TRUE(result.config.has_value()) << result.error.to_string();
    EXPECT_EQ(result.config->path, path);
    EXPECT_EQ(result.config->certificates.at(0).certificate, server_.certificate);
}

// What load_config_file checked is what the gateway serves and describes: the public
// certificates stay loaded in the Config, one for each tls.certificates entry, so the TLS context
// and /status need not read the files again (nor see a file swapped in between).
TEST_F(ConfigFilesTest, LoadConfigFileKeepsThePublicCertificatesItChecked) {
    const std::string path = dir_.file("gateway.json");
    write_file(path, document().dump(2));
    const ConfigResult result = load_config_file(path);
    ASSERT_TRUE(result.config.has_value()) << result.error.to_string();
    ASSERT_EQ(result.config->public_certificates.size(), 1u);
    const CertificateMaterial& material = *result.config->public_certificates.front();
    EXPECT_EQ(material.certificate_path, server_.certificate);
    EXPECT_EQ(material.dns_names, std::vector<std::string>{"gw.example.com"});
    ASSERT_NE(material.private_key, nullptr);
    EXPECT_EQ(material.not_after, certificate_not_after(material.leaf()));

    // parse_config alone touches no file, so it loads nothing.
    EXPECT_TRUE(parse_config(document().dump()).config->public_certificates.empty());
}

// The same for tls.acme's CA and EAB key: read once, with the configuration, and the ACME client
// uses those bytes (after the privilege drop it could not read the files again).
TEST_F(ConfigFilesTest, LoadConfigFileKeepsTheAcmeFilesItChecked) {
    const std::string mac_file = dir_.file("eab.key");
    write_file(mac_file, "c2VjcmV0LW1hYy1rZXk\n");  // "secret-mac-key", base64url
    json config = document();
    config["cache_dir"] = dir_.path();
    config["tls"]["acme"] = {
        {"directory_url", "https://acme.example.com/directory"},
        {"terms_of_service_agreed", true},
        {"names", {"gw.example.com"}},
        {"ca", nomad_pki_.ca_file()},
        {"external_account_binding", {{"key_id", "kid-1"}, {"hmac_key_file", mac_file}}}};
    const std::string path = dir_.file("gateway.json");
    write_file(path, config.dump(2));
    const ConfigResult result = load_config_file(path);
    ASSERT_TRUE(result.config.has_value()) << result.error.to_string();
    ASSERT_TRUE(result.config->acme.has_value());
    EXPECT_EQ(result.config->acme->ca_pem, read_file(nomad_pki_.ca_file()));
    EXPECT_EQ(result.config->acme->eab_mac_key, "secret-mac-key");
    EXPECT_TRUE(parse_config(config.dump()).config->acme->ca_pem.empty());
}

TEST_F(ConfigFilesTest, LoadConfigFileErrors) {
    const std::string absent = dir_.file("absent.json");
    const ConfigResult missing = load_config_file(absent);
    EXPECT_FALSE(missing.config.has_value());
    EXPECT_EQ(missing.error.key, "");
    EXPECT_EQ(missing.error.message, "cannot read \"" + absent + "\": No such file or directory");

    const ConfigResult directory = load_config_file(dir_.path());
    EXPECT_FALSE(directory.config.has_value());
    EXPECT_EQ(directory.error.message,
              "cannot read \"" + dir_.path() + "\": is a directory, not a regular file");

    const std::string bad_syntax = dir_.file("bad.json");
    write_file(bad_syntax, "{\"listen\": ");
    const ConfigResult syntax = load_config_file(bad_syntax);
    EXPECT_FALSE(syntax.config.has_value());
    EXPECT_EQ(syntax.error.key, "");

    const std::string bad_value = dir_.file("bad-value.json");
    json c = document();
    c["workers"] = 1000;
    write_file(bad_value, c.dump());
    const ConfigResult value = load_config_file(bad_value);
    EXPECT_FALSE(value.config.has_value());
    EXPECT_EQ(value.error.key, "workers");

    const std::string bad_files = dir_.file("bad-files.json");
    c = document();
    c["cache_dir"] = dir_.file("missing-cache");
    write_file(bad_files, c.dump());
    const ConfigResult files = load_config_file(bad_files);
    EXPECT_FALSE(files.config.has_value());
    EXPECT_EQ(files.error.key, "cache_dir");

    const std::string huge = dir_.file("huge.json");
    write_file(huge, std::string(1024 * 1024 + 1, ' '));
    EXPECT_TRUE(contains(load_config_file(huge).error.message, "larger than 1 MiB"));
}

}  // namespace
}  // namespace oidcgw::testing
