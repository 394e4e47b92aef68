// The command line: `serve` and `check` with --config/-c, --help, --version.
#pragma once

#include <string>
#include <vector>

namespace oidcgw {

enum class CommandKind { Serve, Check, Help, Version, Invalid };

struct CommandLine {
    CommandKind kind = CommandKind::Invalid;
    std::string config_path;
    std::string error;  // for Invalid
};

CommandLine parse_command_line(const std::vector<std::string>& arguments);

std::string usage_text();

}  // namespace oidcgw
