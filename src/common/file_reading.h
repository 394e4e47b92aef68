// The one way the gateway reads a file it was told about (configuration, certificates and keys,
// CA bundles, cache records): bounded, and never blocking on something that is not a file.
#pragma once

#include <cstddef>
#include <string>

namespace oidcgw {

// Reads the whole of `path` into *content, at most `max_bytes`. The file is opened without
// blocking and refused unless it is a regular file once symlinks are followed: a FIFO, socket or
// device where a file belongs would otherwise hang a start or a reload (opening a FIFO waits for
// a writer). On failure *error says why, without the path ("is a FIFO, not a regular file",
// "larger than 1048576 bytes", strerror), and *missing (if given) tells ENOENT apart.
bool read_regular_file(const std::string& path, std::size_t max_bytes, std::string* content,
                       std::string* error, bool* missing = nullptr);

}  // namespace oidcgw
