// What parse_config cannot check: the files and accounts the configuration names, as they are on
// this machine now. Also the loader that reads the configuration file itself.
#include "common/base64url.h"
#include "common/certificate_chain.h"
#include "common/file_reading.h"
#include "common/text_escape.h"
#include "common/utc_time.h"
#include "config/config.h"
#include "config/json_reader.h"
#include "ops/privileges.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace oidcgw {
namespace {

using config_reading::element_path;

constexpr std::size_t kMaxConfigFileBytes = 1024 * 1024;

// A certificate file and its key: both load, the chain is in order, the key matches the leaf,
// and (for certificates the gateway presents publicly) the leaf has not expired.
std::optional<ConfigError> check_certificate_and_key(
    const std::string& certificate_path, const std::string& certificate_key,
    const std::string& private_key_path, const std::string& private_key_key, bool check_expiry,
    std::shared_ptr<const CertificateMaterial>* kept = nullptr) {
    // The same sequence, and the same messages, as the TLS context built from these files.
    CertificateLoad loaded = load_certificate_material(
        certificate_path, private_key_path,
        check_expiry ? std::optional<std::time_t>(std::time(nullptr)) : std::nullopt);
    if (!loaded) {
        return ConfigError{
            loaded.error.file == CertificateFile::PrivateKey ? private_key_key : certificate_key,
            loaded.error.message};
    }
    if (kept != nullptr) {
        *kept = std::make_shared<const CertificateMaterial>(std::move(*loaded.material));
    }
    return std::nullopt;
}

std::optional<ConfigError> check_cache_dir(const std::string& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) {
        return ConfigError{"cache_dir",
                           "cannot use " + quote_path(path) + ": " + std::strerror(errno)};
    }
    if (!S_ISDIR(status.st_mode)) {
        return ConfigError{"cache_dir", quote_path(path) + " is not a directory"};
    }
    if (::access(path.c_str(), W_OK | X_OK) != 0) {
        return ConfigError{"cache_dir",
                           quote_path(path) + " is not writable: " + std::strerror(errno)};
    }
    return std::nullopt;
}

// The names exist now; whether the process may switch to them is decided at start-up.
std::optional<ConfigError> check_account(const Config& config) {
    if (config.user.empty()) return std::nullopt;
    std::string error;
    const std::optional<UserAccount> account = lookup_user(config.user, &error);
    if (!account) return ConfigError{"user", error};
    if (account->uid == 0) {
        return ConfigError{"user", quote_untrusted(config.user) +
                                       " has uid 0: name the unprivileged account to run as"};
    }
    if (!config.group.empty() && !lookup_group(config.group, &error)) {
        return ConfigError{"group", error};
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> read_external_account_mac_key(const std::string& path,
                                                         std::string* error) {
    std::string text;
    std::string problem;
    if (!read_regular_file(path, 4096, &text, &problem)) {
        *error = "cannot read " + quote_path(path) + ": " + problem;
        return std::nullopt;
    }
    const auto first = text.find_first_not_of(" \t\r\n");
    const auto last = text.find_last_not_of(" \t\r\n=");
    const std::string trimmed =
        first == std::string::npos || last < first ? "" : text.substr(first, last - first + 1);
    std::optional<std::string> key = decode_base64url(trimmed);
    if (!key || key->empty()) {
        *error = quote_path(path) + " does not hold a base64url MAC key";
        return std::nullopt;
    }
    return key;
}

bool read_config_text(const std::string& path, std::string* text, std::string* error) {
    std::string problem;
    if (!read_regular_file(path, kMaxConfigFileBytes, text, &problem)) {
        *error = "cannot read " + quote_path(path) + ": " + problem;
        return false;
    }
    return true;
}

std::optional<ConfigError> check_config_files(const Config& config, CheckedFiles* checked) {
    for (std::size_t index = 0; index < config.certificates.size(); ++index) {
        const CertificateFiles& files = config.certificates[index];
        const std::string key = element_path("tls.certificates", index);
        std::shared_ptr<const CertificateMaterial> material;
        if (auto error = check_certificate_and_key(files.certificate, key + ".certificate",
                                                   files.private_key, key + ".private_key",
                                                   /*check_expiry=*/true, &material)) {
            return error;
        }
        if (checked != nullptr) checked->public_certificates.push_back(std::move(material));
    }
    for (std::size_t index = 0; index < config.issuers.size(); ++index) {
        const std::optional<UpstreamTls>& tls = config.issuers[index].upstream_tls;
        if (!tls) continue;
        const std::string key = element_path("issuers", index) + ".upstream_tls";
        if (!tls->ca.empty()) {
            std::string error;
            if (load_certificate_chain(tls->ca, &error).empty()) {
                return ConfigError{key + ".ca", error};
            }
        }
        // The client certificate's expiry is left to the upstream to judge: it is often renewed
        // by an agent, and the gateway keeps serving cached documents meanwhile.
        if (!tls->certificate.empty()) {
            if (auto error = check_certificate_and_key(tls->certificate, key + ".certificate",
                                                       tls->private_key, key + ".private_key",
                                                       /*check_expiry=*/false)) {
                return error;
            }
        }
    }
    if (!config.cache_dir.empty()) {
        if (auto error = check_cache_dir(config.cache_dir)) return error;
    }
    if (config.acme) {
        std::string error;
        if (!config.acme->ca.empty()) {
            const std::vector<X509Ptr> chain = load_certificate_chain(config.acme->ca, &error);
            if (chain.empty()) return ConfigError{"tls.acme.ca", error};
            if (checked != nullptr) checked->acme_ca_pem = certificates_pem(chain);
        }
        if (const auto& binding = config.acme->external_account_binding) {
            std::optional<std::string> mac =
                read_external_account_mac_key(binding->hmac_key_file, &error);
            if (!mac) return ConfigError{"tls.acme.external_account_binding.hmac_key_file", error};
            if (checked != nullptr) checked->acme_eab_mac_key = std::move(*mac);
        }
    }
    return check_account(config);
}

ConfigResult load_config_file(const std::string& path) {
    ConfigResult result;
    std::string text;
    std::string error;
    if (!read_config_text(path, &text, &error)) {
        result.error = ConfigError{"", error};
        return result;
    }
    result = parse_config(text);
    if (!result.config) return result;
    result.config->path = path;
    CheckedFiles checked;
    if (std::optional<ConfigError> file_error = check_config_files(*result.config, &checked)) {
        result.config.reset();
        result.error = std::move(*file_error);
        return result;
    }
    result.config->public_certificates = std::move(checked.public_certificates);
    if (result.config->acme) {
        result.config->acme->ca_pem = std::move(checked.acme_ca_pem);
        result.config->acme->eab_mac_key = std::move(checked.acme_eab_mac_key);
    }
    return result;
}

}  // namespace oidcgw
