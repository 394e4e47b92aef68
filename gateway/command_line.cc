#include "command_line.h"

namespace oidcgw {

std::string usage_text() {
    return "Usage: oidc-gateway COMMAND [--config FILE]\n"
           "\n"
           "Serves a Nomad cluster's OIDC discovery document and JWKS on public HTTPS,\n"
           "fetched from private Nomad agents (mutual TLS), validated, last good kept.\n"
           "\n"
           "Commands:\n"
           "  serve  --config FILE   check the configuration, then run in the foreground\n"
           "                         (logs to stderr; SIGTERM/SIGINT stop gracefully)\n"
           "  check  --config FILE   check the configuration and every file it names;\n"
           "                         exit 0 when valid, 2 with the offending key otherwise\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE      configuration file (JSON, // comments allowed)\n"
           "  -h, --help             this text\n"
           "  -V, --version          version\n";
}

CommandLine parse_command_line(const std::vector<std::string>& arguments) {
    CommandLine result;
    bool have_command = false;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        const std::string& argument = arguments[i];
        if (argument == "-h" || argument == "--help" || argument == "help") {
            return CommandLine{CommandKind::Help, {}, {}};
        }
        if (argument == "-V" || argument == "--version" || argument == "version") {
            return CommandLine{CommandKind::Version, {}, {}};
        }
        if (argument == "-c" || argument == "--config") {
            if (i + 1 >= arguments.size()) {
                return CommandLine{CommandKind::Invalid, {}, argument + " needs a file name"};
            }
            result.config_path = arguments[++i];
            continue;
        }
        if (argument.starts_with("--config=")) {
            result.config_path = argument.substr(9);
            continue;
        }
        if (!have_command && (argument == "serve" || argument == "check")) {
            result.kind = argument == "serve" ? CommandKind::Serve : CommandKind::Check;
            have_command = true;
            continue;
        }
        return CommandLine{CommandKind::Invalid, {}, "unexpected argument \"" + argument + "\""};
    }
    if (!have_command) return CommandLine{CommandKind::Invalid, {}, "no command given"};
    if (result.config_path.empty()) {
        return CommandLine{CommandKind::Invalid, {}, "--config FILE is required"};
    }
    return result;
}

}  // namespace oidcgw
