#include "common/file_writing.h"

#include "common/raii.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace oidcgw {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

}  // namespace

bool replace_file(const std::string& directory, const std::string& target, std::string_view text,
                  bool durable, std::string* error) {
    std::string temporary = directory + "/.tmp-XXXXXX";
    UniqueFd file(::mkstemp(temporary.data()));  // mode 0600, a name no other writer has
    if (file.get() < 0) {
        *error = "cannot create a temporary file in " + directory + ": " + errno_text();
        return false;
    }
    if (!write_all(file.get(), text) || (durable && ::fsync(file.get()) != 0)) {
        *error = "cannot write " + temporary + ": " + errno_text();
        ::unlink(temporary.c_str());
        return false;
    }
    ::close(file.release());
    if (::rename(temporary.c_str(), target.c_str()) != 0) {
        *error = "cannot rename " + temporary + " to " + target + ": " + errno_text();
        ::unlink(temporary.c_str());
        return false;
    }
    if (!durable) return true;
    // The rename is durable only once the directory entry itself reaches the disk.
    const UniqueFd directory_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (directory_fd.get() < 0 || ::fsync(directory_fd.get()) != 0) {
        *error = "cannot fsync directory " + directory + ": " + errno_text();
        return false;
    }
    return true;
}

}  // namespace oidcgw
