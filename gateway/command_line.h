// The command line: `serve` and `check` with --config/-c; the operator tools `probe` and
// `thumbprint`; --help, --version.
#pragma once

#include "probe/probe.h"
#include "probe/thumbprint.h"

#include <string>
#include <vector>

namespace oidcgw {

enum class CommandKind { Serve, Check, Probe, Thumbprint, Help, Version, Invalid };

struct CommandLine {
    CommandKind kind = CommandKind::Invalid;
    std::string config_path;         // serve, check
    std::string error;               // for Invalid
    ProbeOptions probe{};            // for Probe
    ThumbprintOptions thumbprint{};  // for Thumbprint
};

CommandLine parse_command_line(const std::vector<std::string>& arguments);

std::string usage_text();

}  // namespace oidcgw
