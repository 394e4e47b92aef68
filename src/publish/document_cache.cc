#include "publish/document_cache.h"

#include "common/file_reading.h"
#include "common/file_writing.h"

#include "common/digest.h"
#include "common/strict_json.h"

#include <sys/stat.h>

namespace oidcgw {
namespace {

constexpr const char* kFormat = "oidc-gateway-cache/1";
constexpr const char* kConfirmationFormat = "oidc-gateway-confirmation/1";
constexpr std::size_t kMaxConfirmationBytes = 4096;

// The confirmation time a side file gives `documents`, when it names exactly these bytes.
std::optional<std::time_t> read_confirmation(const std::string& path, const IssuerUrl& issuer,
                                             const std::string& discovery,
                                             const std::string& jwks) {
    std::string text;
    std::string error;
    if (!read_regular_file(path, kMaxConfirmationBytes, &text, &error)) return std::nullopt;
    const auto record = parse_strict_json(text, &error);
    if (!record || !record->is_object()) return std::nullopt;
    const auto is = [&](const char* name, const std::string& expected) {
        const auto it = record->find(name);
        return it != record->end() && it->is_string() &&
               it->get_ref<const std::string&>() == expected;
    };
    const auto confirmed = record->find("confirmed_at");
    if (!is("format", kConfirmationFormat) || !is("issuer", issuer.text) ||
        !is("discovery_sha256", sha256_hex(discovery)) || !is("jwks_sha256", sha256_hex(jwks)) ||
        confirmed == record->end() || !confirmed->is_number_integer()) {
        return std::nullopt;
    }
    return confirmed->get<std::time_t>();
}

}  // namespace

std::string DocumentCache::file_for(const IssuerUrl& issuer) const {
    return directory_ + "/issuer-" + sha256_hex(issuer.text, 12) + ".json";
}

std::string DocumentCache::confirmation_file_for(const IssuerUrl& issuer) const {
    return directory_ + "/confirmed-" + sha256_hex(issuer.text, 12) + ".json";
}

bool DocumentCache::save(const IssuerUrl& issuer, const AcceptedDocuments& documents,
                         std::string* error) const {
    if (!enabled()) return true;
    nlohmann::ordered_json record;
    record["format"] = kFormat;
    record["issuer"] = issuer.text;
    record["discovery"] = documents.discovery_body;
    record["jwks"] = documents.jwks_body;
    // Checksums catch a record altered on disk (bit rot, a careless edit) even when the altered
    // document would still pass validation.
    record["discovery_sha256"] = sha256_hex(documents.discovery_body);
    record["jwks_sha256"] = sha256_hex(documents.jwks_body);
    record["discovery_modified"] = documents.discovery_modified;
    record["jwks_modified"] = documents.jwks_modified;
    record["confirmed_at"] = documents.confirmed_at;
    const std::string text = record.dump() + "\n";

    return replace_file(directory_, file_for(issuer), text, /*durable=*/true, error);
}

DocumentCache::ConfirmResult DocumentCache::confirm(const IssuerUrl& issuer,
                                                    const AcceptedDocuments& documents,
                                                    std::string* error) const {
    if (!enabled()) return ConfirmResult::Confirmed;
    struct stat record {};
    if (::stat(file_for(issuer).c_str(), &record) != 0) return ConfirmResult::RecordMissing;
    nlohmann::ordered_json confirmation;
    confirmation["format"] = kConfirmationFormat;
    confirmation["issuer"] = issuer.text;
    confirmation["discovery_sha256"] = sha256_hex(documents.discovery_body);
    confirmation["jwks_sha256"] = sha256_hex(documents.jwks_body);
    confirmation["confirmed_at"] = documents.confirmed_at;
    return replace_file(directory_, confirmation_file_for(issuer), confirmation.dump() + "\n",
                        /*durable=*/false, error)
               ? ConfirmResult::Confirmed
               : ConfirmResult::Failed;
}

std::optional<AcceptedDocuments> DocumentCache::load(const IssuerUrl& issuer,
                                                     std::size_t max_document_bytes,
                                                     std::string* error) const {
    error->clear();
    if (!enabled()) return std::nullopt;
    const std::string path = file_for(issuer);
    // Bodies may be JSON-escaped in the record, so allow room above twice the document cap.
    const std::size_t limit = 4 * max_document_bytes + 65536;
    std::string text;
    std::string problem;
    bool missing = false;
    if (!read_regular_file(path, limit, &text, &problem, &missing)) {
        if (!missing) *error = "cannot read " + path + ": " + problem;
        return std::nullopt;
    }
    std::string parse_error;
    auto record = parse_strict_json(text, &parse_error);
    if (!record || !record->is_object()) {
        *error = path + ": not a cache record (" + (record ? "not an object" : parse_error) + ")";
        return std::nullopt;
    }
    const auto string_member = [&](const char* name) -> const std::string* {
        auto it = record->find(name);
        return it != record->end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
    };
    const auto time_member = [&](const char* name) -> std::optional<std::time_t> {
        auto it = record->find(name);
        if (it == record->end() || !it->is_number_integer()) return std::nullopt;
        return it->get<std::time_t>();
    };
    const std::string* format = string_member("format");
    const std::string* recorded_issuer = string_member("issuer");
    const std::string* discovery = string_member("discovery");
    const std::string* jwks = string_member("jwks");
    const auto discovery_modified = time_member("discovery_modified");
    const auto jwks_modified = time_member("jwks_modified");
    const auto confirmed_at = time_member("confirmed_at");
    if (format == nullptr || *format != kFormat) {
        *error = path + ": unknown cache format";
        return std::nullopt;
    }
    if (recorded_issuer == nullptr || *recorded_issuer != issuer.text) {
        *error = path + ": belongs to another issuer";
        return std::nullopt;
    }
    const std::string* discovery_sha256 = string_member("discovery_sha256");
    const std::string* jwks_sha256 = string_member("jwks_sha256");
    if (!discovery || !jwks || !discovery_modified || !jwks_modified || !confirmed_at ||
        !discovery_sha256 || !jwks_sha256) {
        *error = path + ": cache record is missing members";
        return std::nullopt;
    }
    if (sha256_hex(*discovery) != *discovery_sha256 || sha256_hex(*jwks) != *jwks_sha256) {
        *error = path + ": cache record fails its checksum (altered on disk)";
        return std::nullopt;
    }
    Rejection rejection;
    auto accepted = accept_document_pair(issuer, *discovery, *jwks, max_document_bytes, &rejection);
    if (!accepted) {
        *error = path + ": cached documents fail validation: " + rejection.code + ": " +
                 rejection.detail;
        return std::nullopt;
    }
    accepted->discovery_modified = *discovery_modified;
    accepted->jwks_modified = *jwks_modified;
    accepted->confirmed_at = *confirmed_at;
    const auto confirmed =
        read_confirmation(confirmation_file_for(issuer), issuer, *discovery, *jwks);
    if (confirmed && *confirmed > accepted->confirmed_at) accepted->confirmed_at = *confirmed;
    return accepted;
}

}  // namespace oidcgw
