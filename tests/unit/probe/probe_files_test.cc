// The operator tools read the files they are named (--token, --config) like every other reader
// (common/file_reading.h): bounded, and a FIFO, a directory or an oversized file is refused at
// once with a message that says which file and why, instead of hanging or reading on.
#include "probe/probe.h"
#include "probe/thumbprint.h"
#include "unit_support.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>
#include <string>

namespace oidcgw {
namespace {

using testing::contains;

class ToolFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(::mkfifo(dir_.file("fifo").c_str(), 0600), 0);
        ASSERT_EQ(::mkdir(dir_.file("directory").c_str(), 0700), 0);
    }

    // The exit status and error output of a tool run that must stop before writing anything.
    template <typename Options, typename Run>
    std::pair<int, std::string> refused(const Options& options, Run run) {
        std::ostringstream out;
        std::ostringstream err;
        const int status = run(options, out, err);
        EXPECT_TRUE(out.str().empty()) << out.str();
        return {status, err.str()};
    }

    // `probe --token path`: the token is read before anything is probed.
    std::pair<int, std::string> probe_with_token(const std::string& path) {
        ProbeOptions options;
        options.issuer_url = "https://oidc.example.test";
        options.token_file = path;
        return refused(options, run_probe);
    }

    std::pair<int, std::string> thumbprint_with_config(const std::string& path) {
        ThumbprintOptions options;
        options.config_path = path;
        return refused(options, run_thumbprint);
    }

    testing::TempDir dir_;
};

TEST_F(ToolFiles, ProbeRefusesATokenFileThatIsAFifoOrADirectory) {
    const auto [fifo_status, fifo_error] = probe_with_token(dir_.file("fifo"));
    EXPECT_EQ(fifo_status, 2);
    EXPECT_TRUE(contains(fifo_error, "--token file")) << fifo_error;
    EXPECT_TRUE(contains(fifo_error, "fifo\": is a FIFO, not a regular file")) << fifo_error;

    const auto [dir_status, dir_error] = probe_with_token(dir_.file("directory"));
    EXPECT_EQ(dir_status, 2);
    EXPECT_TRUE(contains(dir_error, "directory\": is a directory, not a regular file"))
        << dir_error;
}

TEST_F(ToolFiles, ProbeRefusesATokenFileOver64KiB) {
    testing::write_file(dir_.file("huge.jwt"), std::string(64 * 1024 + 1, 'a'));
    const auto [status, error] = probe_with_token(dir_.file("huge.jwt"));
    EXPECT_EQ(status, 2);
    EXPECT_TRUE(contains(error, "huge.jwt\": larger than 65536 bytes")) << error;
}

TEST_F(ToolFiles, ThumbprintRefusesAConfigThatIsAFifoADirectoryOrOver1MiB) {
    const auto [fifo_status, fifo_error] = thumbprint_with_config(dir_.file("fifo"));
    EXPECT_EQ(fifo_status, 2);
    EXPECT_TRUE(contains(fifo_error, "fifo\": is a FIFO, not a regular file")) << fifo_error;

    const auto [dir_status, dir_error] = thumbprint_with_config(dir_.file("directory"));
    EXPECT_EQ(dir_status, 2);
    EXPECT_TRUE(contains(dir_error, "directory\": is a directory, not a regular file"))
        << dir_error;

    testing::write_file(dir_.file("huge.json"), std::string(1024 * 1024 + 1, ' '));
    const auto [huge_status, huge_error] = thumbprint_with_config(dir_.file("huge.json"));
    EXPECT_EQ(huge_status, 2);
    EXPECT_TRUE(contains(huge_error, "huge.json\": larger than 1 MiB")) << huge_error;
}

}  // namespace
}  // namespace oidcgw
