// directory.phonebook: the internal phonebooks in PostgreSQL (seed 5.11.5,
// 5.26.2; xivo-dird "dird_phonebook" back-end and phonebook REST API).
#pragma once

#include <dialtone/http.h>
#include <dialtone/store.h>

#include <chrono>
#include <memory>
#include <mutex>

#include "plugins/directory/common/contact_table.h"

namespace dialtone::plugins::directory {

// Contact columns of seed 5.26.2 (import headers), also accepted over REST.
// Derived columns added for searching and display: fullname ("<firstname>
// <lastname>") and the seed 5.11.5 names (phonebook.firstname,
// phonebooknumber.office.number, phonebookaddress.home.city, ...).
Fields expand_phonebook_contact(const Fields& fields);

// One line per problem of a contact's values ("officenumbers '12ab' must be
// digits or video:<room>"); empty when valid.
std::vector<std::string> validate_phonebook_contact(const Fields& fields);

// Parses a seed 5.26.2 import file ('|'-delimited, header first). Every
// problem is reported as "line N: ..." with N the line in the file.
sdk::Result<std::vector<Fields>> parse_phonebook_import(std::string_view csv,
                                                        std::vector<std::string>& errors);

struct Phonebook {
  long id = 0;
  std::string tenant;
  std::string name;
  std::string description;
};

class PhonebookStore {
 public:
  explicit PhonebookStore(sdk::Store& store);
  // Applies the schema; the trigram index is created when pg_trgm can be
  // installed, otherwise `log` gets one warning and searches scan.
  sdk::Status migrate(sdk::Logger& log);

  sdk::Result<std::vector<Phonebook>> list(const std::string& tenant);
  sdk::Result<Phonebook> get(const std::string& tenant, long id);
  sdk::Result<Phonebook> find(const std::string& tenant, const std::string& name);
  sdk::Result<Phonebook> create(const std::string& tenant, const std::string& name,
                                const std::string& description);
  sdk::Result<Phonebook> update(const std::string& tenant, long id, const std::string& name,
                                const std::string& description);
  sdk::Status remove(const std::string& tenant, long id);
  struct ImportResult {
    bool pipe_file = false;  // seed 5.26.2's '|' file: all or nothing, `count` rows
    std::size_t count = 0;
    std::vector<Contact> created;                                           // ',' file
    std::vector<std::pair<std::size_t, std::vector<std::string>>> failed;  // ',' file: line, errors
  };
  // The header line says the format. A '|'-delimited file (the XiVO web
  // interface's, seed 5.26.2) is all rows or none: on any invalid or duplicate
  // line nothing is written and the error lists every offending line. A
  // ','-delimited RFC 4180 file (xivo-dird's import) creates every good line
  // and reports the others with their line number; only a bad header refuses
  // the whole file.
  sdk::Result<ImportResult> import(const std::string& tenant, long id, std::string_view csv);

  ContactTable& contacts() { return contacts_; }

 private:
  sdk::Result<ImportResult> import_comma(long id, std::string_view csv);

  sdk::Store& store_;
  ContactTable contacts_;
};

struct PhonebookSourceConfig {
  SourceConfig source;
  std::string tenant = "default";
  std::string phonebook_name;
  long phonebook_id = 0;  // used when phonebook_name is empty
};

class PhonebookSource final : public sdk::DirectorySource {
 public:
  PhonebookSource(PhonebookSourceConfig config, std::shared_ptr<PhonebookStore> store, sdk::Logger& log);

  std::string_view name() const override { return config_.source.name; }
  std::string_view type() const override { return "phonebook"; }
  sdk::Result<std::vector<sdk::DirectoryEntry>> search(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::optional<sdk::DirectoryEntry>> first_match(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::vector<sdk::DirectoryEntry>> list(const std::vector<std::string>& ids,
                                                     const sdk::DirectoryQuery& q) override;

 private:
  sdk::Result<std::string> scope();
  sdk::Error failed(const sdk::Error& e);

  PhonebookSourceConfig config_;
  std::shared_ptr<PhonebookStore> store_;
  sdk::Logger& log_;
  FailureLog failures_;
  // phonebook_name resolved to its id, kept briefly: a reverse lookup then
  // costs one database round trip instead of two, and a renamed or deleted
  // phonebook is noticed within kScopeTtl.
  static constexpr std::chrono::milliseconds kScopeTtl{1000};
  std::mutex scope_mu_;
  std::string scope_id_;
  std::chrono::steady_clock::time_point scope_until_{};
};

// Routes of the phonebook REST API (mounted on the "dird" listener).
std::vector<sdk::Route> phonebook_routes(std::shared_ptr<PhonebookStore> store);

}  // namespace dialtone::plugins::directory
