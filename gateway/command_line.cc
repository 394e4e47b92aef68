#include "command_line.h"

#include "common/duration.h"
#include "probe/probe_checks.h"

#include <optional>
#include <set>

namespace oidcgw {
namespace {

CommandLine invalid(std::string error) {
    CommandLine result;
    result.kind = CommandKind::Invalid;
    result.error = std::move(error);
    return result;
}

CommandLine of_kind(CommandKind kind) {
    CommandLine result;
    result.kind = kind;
    return result;
}

// Walks the arguments after the command word: "--flag VALUE", "--flag=VALUE", bare flags and
// positionals, refusing a flag given twice.
class ArgumentCursor {
  public:
    ArgumentCursor(const std::vector<std::string>& arguments, std::size_t& index)
        : arguments_(arguments), index_(index) {}

    // True when the current argument is `name` or `name=...`; sets *value from either form.
    // *error is set when the value is missing or the flag was already given.
    bool take_value(const std::string& name, std::string* value, std::string* error) {
        const std::string& argument = arguments_[index_];
        if (argument == name) {
            if (index_ + 1 >= arguments_.size()) {
                *error = name + " needs a value";
                return true;
            }
            *value = arguments_[++index_];
        } else if (argument.starts_with(name + "=")) {
            *value = argument.substr(name.size() + 1);
        } else {
            return false;
        }
        if (value->empty()) *error = name + " needs a value";
        if (!seen_.insert(name).second) *error = name + " is given twice";
        return true;
    }

    bool take_flag(const std::string& name, bool* flag, std::string* error) {
        if (arguments_[index_] != name) return false;
        if (!seen_.insert(name).second) *error = name + " is given twice";
        *flag = true;
        return true;
    }

  private:
    const std::vector<std::string>& arguments_;
    std::size_t& index_;
    std::set<std::string> seen_;
};

std::optional<Endpoint> parse_connect_to(const std::string& value, std::string* error) {
    std::string reason;
    std::optional<Endpoint> endpoint = parse_endpoint(value, std::nullopt, &reason);
    if (!endpoint) *error = "--connect-to " + reason;
    return endpoint;
}

// HOST, HOST:PORT, [IPV6]:PORT, or an https:// URL (the issuer, pasted as it is).
std::optional<Endpoint> parse_thumbprint_server(const std::string& value, std::string* error) {
    if (value.find("://") != std::string::npos) {
        const std::optional<ProbeUrl> url = split_probe_url(value);
        if (!url || url->scheme != "https" || url->host.empty() || !url->port) {
            *error = "\"" + value + "\" is not an https URL with a host";
            return std::nullopt;
        }
        return Endpoint{url->host, *url->port};
    }
    return parse_endpoint(value, 443, error);
}

}  // namespace

std::string usage_text() {
    return "Usage: oidc-gateway COMMAND [OPTIONS]\n"
           "\n"
           "Serves a Nomad cluster's OIDC discovery document and JWKS on public HTTPS,\n"
           "fetched from private Nomad agents (mutual TLS), validated, last good kept.\n"
           "\n"
           "Commands:\n"
           "  serve  --config FILE   check the configuration, then run in the foreground\n"
           "                         (logs to stderr; SIGTERM/SIGINT stop gracefully)\n"
           "  check  --config FILE   check the configuration and every file it names;\n"
           "                         exit 0 when valid, 2 with the offending key otherwise\n"
           "  probe ISSUER_URL       check an issuer from the outside as AWS IAM, GCP and\n"
           "                         Entra would (TLS, URL, discovery, JWKS, a token);\n"
           "                         exit 0 all pass, 1 a check fails, 2 usage error\n"
           "  thumbprint HOST[:PORT] SHA-1 thumbprint AWS IAM wants: that of the last\n"
           "                         certificate the server presents, and its subject\n"
           "  thumbprint --config FILE\n"
           "                         the same from the configured tls.certificates chain\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE      configuration file (JSON, // comments allowed)\n"
           "  -h, --help             this text\n"
           "  -V, --version          version\n"
           "\n"
           "probe options:\n"
           "  --ca FILE              trust this PEM bundle instead of the system store\n"
           "  --token FILE           also judge this JWT (a Nomad workload identity)\n"
           "  --idp LIST             identity providers to judge for: aws,gcp,entra (default)\n"
           "  --json                 print JSON instead of the table\n"
           "  --connect-to HOST:PORT connect there for the issuer's host and port, keeping\n"
           "                         the issuer's name for SNI, Host and certificate checks\n"
           "                         (probe before DNS points at the gateway)\n"
           "  --timeout DURATION     per connection and fetch, e.g. 10s (default)\n"
           "\n"
           "thumbprint options:\n"
           "  --ca FILE              verify the chain with this PEM bundle, not the system store\n"
           "  --all                  print every certificate of the chain, in order\n"
           "  --connect-to HOST:PORT connect there instead, verifying the name HOST\n";
}

CommandLine parse_command_line(const std::vector<std::string>& arguments) {
    CommandLine result;
    bool have_command = false;
    std::size_t index = 0;
    ArgumentCursor cursor(arguments, index);
    std::string error;
    bool have_server = false;
    for (; index < arguments.size(); ++index) {
        const std::string& argument = arguments[index];
        if (argument == "-h" || argument == "--help" || argument == "help") {
            return of_kind(CommandKind::Help);
        }
        if (argument == "-V" || argument == "--version" || argument == "version") {
            return of_kind(CommandKind::Version);
        }
        if (argument == "-c" || argument == "--config") {
            if (index + 1 >= arguments.size()) return invalid(argument + " needs a file name");
            result.config_path = arguments[++index];
            continue;
        }
        if (argument.starts_with("--config=")) {
            result.config_path = argument.substr(9);
            continue;
        }
        if (!have_command) {
            if (argument == "serve") result.kind = CommandKind::Serve;
            if (argument == "check") result.kind = CommandKind::Check;
            if (argument == "probe") result.kind = CommandKind::Probe;
            if (argument == "thumbprint") result.kind = CommandKind::Thumbprint;
            if (result.kind != CommandKind::Invalid) {
                have_command = true;
                continue;
            }
        }

        if (result.kind == CommandKind::Probe) {
            ProbeOptions& probe = result.probe;
            std::string value;
            if (cursor.take_value("--ca", &probe.ca_file, &error) ||
                cursor.take_value("--token", &probe.token_file, &error) ||
                cursor.take_flag("--json", &probe.json, &error)) {
                if (!error.empty()) return invalid(error);
                continue;
            }
            if (cursor.take_value("--idp", &value, &error)) {
                if (!error.empty()) return invalid(error);
                std::optional<std::vector<Idp>> idps = parse_idp_list(value, &error);
                if (!idps) return invalid(error);
                probe.idps = std::move(*idps);
                continue;
            }
            if (cursor.take_value("--connect-to", &value, &error)) {
                if (!error.empty()) return invalid(error);
                probe.connect_to = parse_connect_to(value, &error);
                if (!probe.connect_to) return invalid(error);
                continue;
            }
            if (cursor.take_value("--timeout", &value, &error)) {
                if (!error.empty()) return invalid(error);
                const std::optional<std::chrono::milliseconds> timeout =
                    parse_duration(value, &error);
                if (!timeout) return invalid("--timeout: " + error);
                if (timeout->count() <= 0) return invalid("--timeout must be more than 0");
                probe.timeout = *timeout;
                continue;
            }
            if (!argument.starts_with("-") && probe.issuer_url.empty() && !argument.empty()) {
                probe.issuer_url = argument;
                continue;
            }
        } else if (result.kind == CommandKind::Thumbprint) {
            ThumbprintOptions& thumbprint = result.thumbprint;
            std::string value;
            if (cursor.take_value("--ca", &thumbprint.ca_file, &error) ||
                cursor.take_flag("--all", &thumbprint.all, &error)) {
                if (!error.empty()) return invalid(error);
                continue;
            }
            if (cursor.take_value("--connect-to", &value, &error)) {
                if (!error.empty()) return invalid(error);
                thumbprint.connect_to = parse_connect_to(value, &error);
                if (!thumbprint.connect_to) return invalid(error);
                continue;
            }
            if (!argument.starts_with("-") && !have_server) {
                thumbprint.server = parse_thumbprint_server(argument, &error);
                if (!thumbprint.server) return invalid("thumbprint: " + error);
                have_server = true;
                continue;
            }
        }
        return invalid("unexpected argument \"" + argument + "\"");
    }
    if (!have_command) return invalid("no command given");

    switch (result.kind) {
        case CommandKind::Serve:
        case CommandKind::Check:
            if (result.config_path.empty()) return invalid("--config FILE is required");
            break;
        case CommandKind::Probe:
            if (!result.config_path.empty()) {
                return invalid("probe takes no --config: it checks an issuer from the outside");
            }
            if (result.probe.issuer_url.empty()) return invalid("probe needs an ISSUER_URL");
            break;
        case CommandKind::Thumbprint:
            result.thumbprint.config_path = result.config_path;
            if (result.config_path.empty() == !have_server) {
                return invalid("thumbprint needs either HOST[:PORT] or --config FILE");
            }
            if (!result.config_path.empty() &&
                (!result.thumbprint.ca_file.empty() || result.thumbprint.connect_to)) {
                return invalid(
                    "thumbprint --config reads the configured chain; --ca and "
                    "--connect-to apply to HOST[:PORT] only");
            }
            break;
        default:
            break;
    }
    return result;
}

}  // namespace oidcgw
