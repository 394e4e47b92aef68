// End-to-end: a FIFO (or any non-regular file) where a file belongs. Opening a FIFO for reading
// waits for a writer: a certificate replaced by one hung a SIGHUP reload, a cache record that was
// one hung the start, and SIGTERM was ignored meanwhile. Now each is refused at once with the
// key path or file in the error, and the gateway keeps serving and stops on request.
#include "config/issuer_url.h"
#include "gateway_fixture.h"
#include "publish/document_cache.h"

#include <sys/stat.h>
#include <unistd.h>

namespace oidcgw::testing {
namespace {

class HostileFilesE2E : public GatewayE2E {
  protected:
    // Replaces `path` with a FIFO nobody writes to.
    static void make_fifo(const std::string& path) {
        ::unlink(path.c_str());
        ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << path;
    }
};

TEST_F(HostileFilesE2E, ACertificateReplacedByAFifoFailsTheReloadAndStopStillWorks) {
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << gateway_->log();
    make_fifo(public_certificate_.certificate);
    ASSERT_EQ(::kill(gateway_->pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_until([&] { return log_count("\"reload_failed\"") == 1; }, 5s))
        << "the reload hangs on the FIFO\n"
        << gateway_->log();
    EXPECT_EQ(log_count("is a FIFO, not a regular file"), 1u) << gateway_->log();
    EXPECT_EQ(log_count("tls.certificates[0]"), 1u) << gateway_->log();
    EXPECT_EQ(get("/.well-known/jwks.json").status, 200) << "the running state is kept";
    const auto asked = std::chrono::steady_clock::now();
    EXPECT_EQ(gateway_->stop(SIGTERM, 10s), 0) << gateway_->log();
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 8s);
}

TEST_F(HostileFilesE2E, AFifoAsACacheRecordIsIgnoredAndTheStartGoesOn) {
    std::string error;
    const std::optional<IssuerUrl> issuer = parse_issuer_url(issuer_, &error);
    ASSERT_TRUE(issuer) << error;
    make_fifo(DocumentCache(cache_dir()).file_for(*issuer));
    start_gateway({nomad_->base_url()});
    ASSERT_TRUE(wait_ready()) << "the start hangs on the FIFO\n" << gateway_->log();
    EXPECT_EQ(log_count("\"cache_ignored\""), 1u) << gateway_->log();
    EXPECT_EQ(log_count("is a FIFO, not a regular file"), 1u) << gateway_->log();
    EXPECT_EQ(get("/.well-known/jwks.json").status, 200);
    EXPECT_EQ(gateway_->stop(SIGTERM, 10s), 0) << gateway_->log();
}

TEST_F(HostileFilesE2E, CheckRefusesAFifoConfigurationAndAFifoKeyAtOnce) {
    const std::string config = write_config({nomad_->base_url()});
    make_fifo(public_certificate_.private_key);
    const CommandOutput key_check = run_gateway_command({"check", "--config", config}, 10s);
    EXPECT_EQ(key_check.exit_status, 2) << key_check.output;
    EXPECT_NE(key_check.output.find("tls.certificates[0].private_key"), std::string::npos)
        << key_check.output;
    EXPECT_NE(key_check.output.find("is a FIFO"), std::string::npos) << key_check.output;

    const std::string fifo_config = dir_.file("fifo.json");
    make_fifo(fifo_config);
    const CommandOutput config_check = run_gateway_command({"check", "--config", fifo_config}, 10s);
    EXPECT_EQ(config_check.exit_status, 2) << config_check.output;
    EXPECT_NE(config_check.output.find("is a FIFO, not a regular file"), std::string::npos)
        << config_check.output;
}

}  // namespace
}  // namespace oidcgw::testing
