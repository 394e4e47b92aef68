// The one way the gateway writes a file (cache records, ACME accounts, certificates and keys):
// whole or not at all, so a reader, a crash or a second gateway sharing the directory never sees
// half a file.
#pragma once

#include <string>
#include <string_view>

namespace oidcgw {

// Writes `text` to `target` through a temporary file in `directory` (the target's directory; a
// unique name, mode 0600) and a rename. With `durable`, the file and then the directory are
// fsynced, so the new content survives a power loss once this returns. On failure the target is
// untouched, the temporary file removed, and *error says why.
bool replace_file(const std::string& directory, const std::string& target, std::string_view text,
                  bool durable, std::string* error);

}  // namespace oidcgw
