// Contacts kept in PostgreSQL as a jsonb object of string fields, shared by
// the phonebook and personal sources. Each row also stores its values folded
// (case and accents removed, for a trigram index) and its normalized numbers
// (for a GIN index), so that searches and reverse lookups are index scans;
// the source's searched/first-matched columns are then checked in memory.
#pragma once

#include <dialtone/store.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {

using Fields = std::map<std::string, std::string>;

struct Contact {
  std::string id;  // uuid
  Fields fields;
};

// Empty values dropped, so that {"a":"x","b":""} and {"a":"x"} are one contact.
Fields clean_fields(Fields fields);
std::string fields_json(const Fields& fields);
// A JSON object whose values are strings (numbers are taken as their text,
// null as absent). Anything else is ErrorCode::invalid naming the key.
sdk::Result<Fields> parse_fields_json(std::string_view json);
// Contact as a JSON object with its "id".
std::string contact_json(const Contact& contact);
bool is_uuid(std::string_view s);

// Table layout: id uuid, <scope_column>, fields jsonb, folded text, numbers
// text[]; a unique index on (scope, md5(fields::text)) forbids duplicates.
class ContactTable {
 public:
  // `expand` adds derived columns (fullname, aliases) to a contact's fields
  // before matching and rendering; it must be pure.
  using Expand = Fields (*)(const Fields&);
  ContactTable(sdk::Store& store, std::string table, std::string scope_column, Expand expand);

  // Contacts of `scope` whose searched columns contain `term` (folded).
  sdk::Result<std::vector<Contact>> search(const std::string& scope, const SourceConfig& config,
                                           std::string_view term);
  // First contact whose first_matched_columns equal `number` (normalized).
  sdk::Result<std::optional<Contact>> first_match(const std::string& scope,
                                                  const SourceConfig& config, std::string_view number);
  sdk::Result<std::vector<Contact>> by_ids(const std::string& scope, const std::vector<std::string>& ids);
  sdk::Result<std::vector<Contact>> all(const std::string& scope);
  sdk::Result<Contact> get(const std::string& scope, const std::string& id);
  // ErrorCode::conflict when the same fields already exist in `scope`.
  sdk::Result<Contact> create(const std::string& scope, const Fields& fields);
  sdk::Result<Contact> update(const std::string& scope, const std::string& id, const Fields& fields);
  sdk::Status remove(const std::string& scope, const std::string& id);
  sdk::Result<std::uint64_t> remove_all(const std::string& scope);
  // Inserts `rows` into `scope` with one statement per 1000 rows inside `tx`.
  // Returns, for each row, its new id, or nullopt when it duplicates an
  // existing contact or an earlier row.
  sdk::Result<std::vector<std::optional<std::string>>> insert_many(sdk::Transaction& tx,
                                                                   const std::string& scope,
                                                                   const std::vector<Fields>& rows);

  // The entry a source returns for a contact: expanded fields plus "id".
  sdk::DirectoryEntry entry(const SourceConfig& config, const Contact& contact) const;
  Fields expanded(const Contact& contact) const;

  const std::string& table() const { return table_; }

 private:
  sdk::Result<std::vector<Contact>> rows(std::string_view sql, const sdk::Params& params);

  sdk::Store& store_;
  std::string table_;
  std::string scope_;
  Expand expand_;
};

}  // namespace dialtone::plugins::directory
