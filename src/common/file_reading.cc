#include "common/file_reading.h"

#include "common/raii.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace oidcgw {
namespace {

const char* kind_of(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISDIR(mode)) return "a directory";
    return "not a file";
}

}  // namespace

bool read_regular_file(const std::string& path, std::size_t max_bytes, std::string* content,
                       std::string* error, bool* missing) {
    if (missing != nullptr) *missing = false;
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
    const UniqueFd file(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (file.get() < 0) {
        if (missing != nullptr) *missing = errno == ENOENT;
        *error = std::strerror(errno);
        return false;
    }
    struct stat status {};
    if (::fstat(file.get(), &status) != 0) {
        *error = std::strerror(errno);
        return false;
    }
    if (!S_ISREG(status.st_mode)) {
        *error = std::string("is ") + kind_of(status.st_mode) + ", not a regular file";
        return false;
    }
    content->clear();
    char buffer[16384];
    for (;;) {
        const ssize_t got = ::read(file.get(), buffer, sizeof buffer);
        if (got < 0) {
            if (errno == EINTR) continue;
            *error = std::strerror(errno);
            return false;
        }
        if (got == 0) return true;
        if (content->size() + static_cast<std::size_t>(got) > max_bytes) {
            constexpr std::size_t kMiB = 1024 * 1024;
            *error = max_bytes % kMiB == 0
                         ? "larger than " + std::to_string(max_bytes / kMiB) + " MiB"
                         : "larger than " + std::to_string(max_bytes) + " bytes";
            return false;
        }
        content->append(buffer, static_cast<std::size_t>(got));
    }
}

}  // namespace oidcgw
