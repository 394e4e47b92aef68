#include "acme/acme_files.h"

#include "acme/certificate_request.h"
#include "common/ascii.h"
#include "common/file_reading.h"
#include "common/file_writing.h"
#include "common/strict_json.h"
#include "common/text_escape.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace oidcgw {
namespace {

constexpr std::size_t kMaxAccountRecordBytes = 16 * 1024;

}  // namespace

AcmeFiles::AcmeFiles(const std::string& cache_dir) : directory_(cache_dir + "/acme") {}

bool AcmeFiles::ensure_directory(std::string* error) const {
    if (::mkdir(directory_.c_str(), 0700) == 0 || errno == EEXIST) {
        struct stat status {};
        if (::stat(directory_.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) return true;
        *error = quote_path(directory_) + " is not a directory";
        return false;
    }
    *error = "cannot create " + quote_path(directory_) + ": " + std::strerror(errno);
    return false;
}

EvpPkeyPtr AcmeFiles::load_account_key(bool* missing, std::string* error) const {
    *missing = false;
    const std::string path = account_key_path();
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
        *missing = true;
        return nullptr;
    }
    EvpPkeyPtr key = load_private_key(path, error);
    if (!key) return nullptr;
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC || EVP_PKEY_get_bits(key.get()) != 256) {
        *error = quote_path(path) + " is not an ECDSA P-256 key";
        return nullptr;
    }
    return key;
}

bool AcmeFiles::save_account_key(EVP_PKEY* key, std::string* error) const {
    return replace_file(directory_, account_key_path(), private_key_pem(key), true, error);
}

std::string AcmeFiles::load_account_url(const std::string& directory_url) const {
    std::string text;
    std::string problem;
    if (!read_regular_file(directory_ + "/account.json", kMaxAccountRecordBytes, &text, &problem)) {
        return {};
    }
    const std::optional<nlohmann::json> record = parse_strict_json(text, &problem);
    if (!record || !record->is_object()) return {};
    const auto directory = record->find("directory_url");
    const auto account = record->find("account_url");
    if (directory == record->end() || account == record->end() || !directory->is_string() ||
        !account->is_string() || directory->get_ref<const std::string&>() != directory_url) {
        return {};
    }
    return account->get<std::string>();
}

bool AcmeFiles::save_account_url(const std::string& directory_url, const std::string& account_url,
                                 std::string* error) const {
    const nlohmann::json record = {{"directory_url", directory_url}, {"account_url", account_url}};
    return replace_file(directory_, directory_ + "/account.json", record.dump(2) + "\n", true,
                        error);
}

std::shared_ptr<const CertificateMaterial> AcmeFiles::load_certificate(
    const std::vector<std::string>& names, std::time_t now, bool* missing,
    std::string* error) const {
    *missing = false;
    const std::string path = certificate_path();
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
        *missing = true;
        return nullptr;
    }
    CertificateLoad loaded = load_certificate_material(path, certificate_key_path(), now);
    if (!loaded) {
        *error = loaded.error.message;
        return nullptr;
    }
    std::string lacking;
    if (!certificate_covers(*loaded.material, names, &lacking)) {
        *error = "certificate " + quote_path(loaded.material->subject) + " in " + quote_path(path) +
                 " does not name " + quote_untrusted(lacking);
        return nullptr;
    }
    return std::make_shared<const CertificateMaterial>(std::move(*loaded.material));
}

bool AcmeFiles::save_certificate(const std::string& chain_pem, EVP_PKEY* key,
                                 std::string* error) const {
    return replace_file(directory_, certificate_key_path(), private_key_pem(key), true, error) &&
           replace_file(directory_, certificate_path(), chain_pem, true, error);
}

UniqueFd AcmeFiles::try_lock(bool* busy, std::string* error) const {
    *busy = false;
    const std::string path = directory_ + "/lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) {
        *error = "cannot open " + quote_path(path) + ": " + std::strerror(errno);
        return UniqueFd();
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            *busy = true;
        } else {
            *error = "cannot lock " + quote_path(path) + ": " + std::strerror(errno);
        }
        return UniqueFd();
    }
    return fd;
}

bool certificate_covers(const CertificateMaterial& material, const std::vector<std::string>& names,
                        std::string* missing_name) {
    for (const std::string& name : names) {
        const bool named = std::any_of(material.dns_names.begin(), material.dns_names.end(),
                                       [&](const std::string& dns_name) {
                                           return equals_ignoring_ascii_case(dns_name, name);
                                       });
        if (!named) {
            *missing_name = name;
            return false;
        }
    }
    return true;
}

}  // namespace oidcgw
