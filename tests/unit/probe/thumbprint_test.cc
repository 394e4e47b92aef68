// `thumbprint`: the SHA-1 of the last certificate, spelled as AWS IAM wants it, equal to what
// `openssl x509 -fingerprint -sha1` prints; and the --config form, which reads no key file.
#include "probe/thumbprint.h"
#include "common/certificate_chain.h"
#include "unit_support.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <re2/re2.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace oidcgw {
namespace {

using testing::openssl_cli_sha1;

// A loopback port bound and closed again, so that nothing listens on it.
std::uint16_t released_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    if (!bound) throw std::runtime_error("cannot bind an ephemeral port");
    return ntohs(address.sin_port);
}

class Thumbprint : public ::testing::Test {
  protected:
    void SetUp() override { pki_ = std::make_unique<testing::TestPki>(dir_.path(), "thumb"); }

    testing::IssuedFiles issue_two_intermediates(const std::string& name) {
        return pki_->issue(
            {.common_name = name, .dns_names = {name}, .include_two_intermediates = true});
    }

    // Writes the chain's certificates to separate files, as `openssl x509` reads the first only.
    std::vector<std::string> split_pem(const std::string& chain_file) {
        const std::string text = testing::read_file(chain_file);
        std::vector<std::string> files;
        const std::string end = "-----END CERTIFICATE-----\n";
        std::size_t start = 0;
        for (std::size_t at = text.find(end); at != std::string::npos; at = text.find(end, start)) {
            const std::string path = dir_.file("part" + std::to_string(files.size()) + ".pem");
            testing::write_file(path, text.substr(start, at + end.size() - start));
            files.push_back(path);
            start = at + end.size();
        }
        return files;
    }

    testing::TempDir dir_;
    std::unique_ptr<testing::TestPki> pki_;
};

TEST_F(Thumbprint, MatchesTheOpensslCliForEveryCertificate) {
    const testing::IssuedFiles files = issue_two_intermediates("cli.example.test");
    std::string error;
    const std::vector<X509Ptr> chain = load_certificate_chain(files.certificate, &error);
    ASSERT_EQ(chain.size(), 3u) << error;
    const std::vector<std::string> parts = split_pem(files.certificate);
    ASSERT_EQ(parts.size(), 3u);
    for (std::size_t i = 0; i < chain.size(); ++i) {
        const std::string thumbprint = certificate_thumbprint(chain[i].get());
        EXPECT_TRUE(RE2::FullMatch(thumbprint, "[0-9a-f]{40}")) << thumbprint;
        EXPECT_EQ(thumbprint, openssl_cli_sha1(parts[i]));
    }
}

TEST_F(Thumbprint, PrintsTheLastCertificateOrAll) {
    const testing::IssuedFiles files = issue_two_intermediates("lines.example.test");
    std::string error;
    const std::vector<X509Ptr> chain = load_certificate_chain(files.certificate, &error);
    ASSERT_EQ(chain.size(), 3u);
    const std::string last = render_thumbprints(chain, false);
    EXPECT_EQ(last, certificate_thumbprint(chain[2].get()) + "  CN=thumb Policy CA\n");
    const std::string all = render_thumbprints(chain, true);
    EXPECT_EQ(all, certificate_thumbprint(chain[0].get()) + "  CN=lines.example.test\n" +
                       certificate_thumbprint(chain[1].get()) + "  CN=thumb Issuing CA\n" + last);
}

TEST_F(Thumbprint, ConfigFormReadsTheFirstChainWithoutItsKey) {
    const testing::IssuedFiles files = issue_two_intermediates("config.example.test");
    const nlohmann::json config = {
        {"listen", {"127.0.0.1:8443"}},
        {"tls",
         {{"certificates",
           {{{"certificate", files.certificate}, {"private_key", dir_.file("unreadable.pem")}}}}}},
        {"issuers",
         {{{"issuer", "https://config.example.test"}, {"upstreams", {"https://10.0.0.1:4646"}}}}}};
    const std::string path = dir_.file("gateway.json");
    testing::write_file(path, config.dump());

    ThumbprintOptions options;
    options.config_path = path;
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_thumbprint(options, out, err), 0) << err.str();
    const std::vector<std::string> parts = split_pem(files.certificate);
    EXPECT_EQ(out.str(), openssl_cli_sha1(parts[2]) + "  CN=thumb Policy CA\n");

    options.all = true;
    out.str("");
    EXPECT_EQ(run_thumbprint(options, out, err), 0);
    const std::string lines = out.str();
    EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3);
}

TEST_F(Thumbprint, ConfigProblemsExitTwo) {
    ThumbprintOptions options;
    options.config_path = dir_.file("missing.json");
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_thumbprint(options, out, err), 2);
    EXPECT_NE(err.str().find("missing.json"), std::string::npos);

    testing::write_file(dir_.file("bad.json"), R"({"listen": []})");
    options.config_path = dir_.file("bad.json");
    EXPECT_EQ(run_thumbprint(options, out, err), 2);

    const nlohmann::json config = {
        {"listen", {"127.0.0.1:8443"}},
        {"tls",
         {{"certificates",
           {{{"certificate", dir_.file("nope.pem")}, {"private_key", dir_.file("k.pem")}}}}}},
        {"issuers",
         {{{"issuer", "https://config.example.test"}, {"upstreams", {"https://10.0.0.1:4646"}}}}}};
    testing::write_file(dir_.file("nocert.json"), config.dump());
    options.config_path = dir_.file("nocert.json");
    err.str("");
    EXPECT_EQ(run_thumbprint(options, out, err), 2);
    EXPECT_NE(err.str().find("tls.certificates[0].certificate"), std::string::npos);
    EXPECT_TRUE(out.str().empty());
}

TEST_F(Thumbprint, AnUnreadableCaFileExitsTwo) {
    ThumbprintOptions options;
    options.server = Endpoint{"localhost", 443};
    options.ca_file = dir_.file("absent-ca.pem");
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_thumbprint(options, out, err), 2);
    EXPECT_NE(err.str().find("absent-ca.pem"), std::string::npos) << err.str();
}

TEST_F(Thumbprint, AnUnreachableServerExitsOne) {
    ThumbprintOptions options;
    options.server = Endpoint{"localhost", 443};
    // An ephemeral loopback port that was just released: the connection is refused at once.
    options.connect_to = Endpoint{"127.0.0.1", released_loopback_port()};
    options.timeout = std::chrono::milliseconds(2000);
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_thumbprint(options, out, err), 1);
    EXPECT_NE(err.str().find("cannot connect"), std::string::npos) << err.str();
    EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace oidcgw
