// The one file reader: bounded, regular files only, never blocking on a FIFO.
#include "common/file_reading.h"

#include "test_pki.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

namespace oidcgw::testing {
namespace {

TEST(ReadRegularFile, ReadsAWholeFileAndFollowsSymlinks) {
    TempDir dir;
    const std::string path = dir.file("a.txt");
    std::ofstream(path) << "hello\n";
    const std::string link = dir.file("link");
    ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
    for (const std::string& name : {path, link}) {
        std::string content, error;
        ASSERT_TRUE(read_regular_file(name, 100, &content, &error)) << error;
        EXPECT_EQ(content, "hello\n");
    }
}

TEST(ReadRegularFile, RefusesAFifoAtOnceAlsoThroughASymlink) {
    TempDir dir;
    const std::string fifo = dir.file("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const std::string link = dir.file("link");
    ASSERT_EQ(::symlink(fifo.c_str(), link.c_str()), 0);
    for (const std::string& name : {fifo, link}) {
        std::string content, error;
        EXPECT_FALSE(read_regular_file(name, 100, &content, &error));  // returns: no writer needed
        EXPECT_EQ(error, "is a FIFO, not a regular file");
    }
}

TEST(ReadRegularFile, RefusesDirectoriesDevicesAndSockets) {
    TempDir dir;
    std::string content, error;
    EXPECT_FALSE(read_regular_file(dir.path(), 100, &content, &error));
    EXPECT_EQ(error, "is a directory, not a regular file");
    EXPECT_FALSE(read_regular_file("/dev/zero", 100, &content, &error));
    EXPECT_EQ(error, "is a character device, not a regular file");
    const std::string socket_path = dir.file("socket");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    socket_path.copy(address.sun_path, sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_FALSE(read_regular_file(socket_path, 100, &content, &error));
    EXPECT_FALSE(error.empty());  // open() itself refuses a socket (ENXIO)
    ::close(fd);
}

TEST(ReadRegularFile, CapsTheSizeAndTellsAMissingFileApart) {
    TempDir dir;
    const std::string path = dir.file("big");
    std::ofstream(path) << std::string(2 * 1024 * 1024 + 1, 'x');
    std::string content, error;
    EXPECT_FALSE(read_regular_file(path, 2 * 1024 * 1024, &content, &error));
    EXPECT_EQ(error, "larger than 2 MiB");
    EXPECT_FALSE(read_regular_file(path, 1000, &content, &error));
    EXPECT_EQ(error, "larger than 1000 bytes");
    EXPECT_TRUE(read_regular_file(path, 2 * 1024 * 1024 + 1, &content, &error)) << error;

    bool missing = false;
    EXPECT_FALSE(read_regular_file(dir.file("absent"), 10, &content, &error, &missing));
    EXPECT_TRUE(missing);
    EXPECT_EQ(error, "No such file or directory");
    EXPECT_FALSE(read_regular_file(dir.path(), 10, &content, &error, &missing));
    EXPECT_FALSE(missing);
}

}  // namespace
}  // namespace oidcgw::testing
