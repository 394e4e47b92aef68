// The last good publication of each issuer on disk, so a restart while every upstream is down
// still serves. Writes are atomic (temp file, fsync, rename, fsync directory); reads re-validate
// everything and refuse anything foreign or damaged.
//
// A round that confirms the same bytes does not rewrite the record: it updates a small side file
// (confirmed-<hash>.json) that names the pair by its checksums and says when an upstream last
// vouched for it, written through a temporary file and a rename but without fsync. Losing it in
// a crash only makes the pair look older than it is, never newer.
#pragma once

#include "config/issuer_url.h"
#include "publish/publication.h"

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

    std::string confirmation_file_for(const IssuerUrl& issuer) const;

    bool save(const IssuerUrl& issuer, const AcceptedDocuments& documents,
              std::string* error) const;

    enum class ConfirmResult { Confirmed, RecordMissing, Failed };
    // Records that an upstream served `documents` (already saved by save()) at
    // documents.confirmed_at. RecordMissing: there is no record to confirm (save it whole);
    // Failed: *error says why.
    ConfirmResult confirm(const IssuerUrl& issuer, const AcceptedDocuments& documents,
                          std::string* error) const;

    // nullopt with *error empty: no file. nullopt with *error set: a file that must not be served
    // (unreadable, corrupt, foreign issuer, fails validation). confirmed_at is the later of the
    // record's and a confirmation of exactly these bytes.
    std::optional<AcceptedDocuments> load(const IssuerUrl& issuer, std::size_t max_document_bytes,
                                          std::string* error) const;

  private:
    std::string directory_;
};

}  // namespace oidcgw
