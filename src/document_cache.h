// The last good publication of each issuer on disk, so a restart while every upstream is down
// still serves. Writes are atomic (temp file, fsync, rename, fsync directory); reads re-validate
// everything and refuse anything foreign or damaged.
#pragma once

#include "issuer_url.h"
#include "publication.h"

#include <optional>
#include <string>

namespace oidcgw {

class DocumentCache {
  public:
    explicit DocumentCache(std::string directory) : directory_(std::move(directory)) {}

    bool enabled() const { return !directory_.empty(); }
    const std::string& directory() const { return directory_; }

    // The file that holds `issuer`'s pair: a name derived from a hash of the issuer URL, so two
    // issuers never share a file and any byte string is a safe file name.
    std::string file_for(const IssuerUrl& issuer) const;

    bool save(const IssuerUrl& issuer, const AcceptedDocuments& documents,
              std::string* error) const;

    // nullopt with *error empty: no file. nullopt with *error set: a file that must not be served
    // (unreadable, corrupt, foreign issuer, fails validation).
    std::optional<AcceptedDocuments> load(const IssuerUrl& issuer, std::size_t max_document_bytes,
                                          std::string* error) const;

  private:
    std::string directory_;
};

}  // namespace oidcgw
