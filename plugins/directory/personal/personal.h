// directory.personal: users' personal contacts in PostgreSQL (seed 11.1.6,
// xivo-dird "personal" back-end and /0.1/personal REST API).
#pragma once

#include <dialtone/http.h>
#include <dialtone/store.h>

#include <memory>

#include "plugins/directory/common/contact_table.h"

namespace dialtone::plugins::directory {

// The attributes of a personal contact (seed 11.1.6), also the export header.
const std::vector<std::string>& personal_columns();

class PersonalStore {
 public:
  explicit PersonalStore(sdk::Store& store);
  sdk::Status migrate();
  ContactTable& contacts() { return contacts_; }

  struct ImportResult {
    std::vector<Contact> created;
    std::vector<std::pair<std::size_t, std::string>> failed;  // line, error
  };
  // Imports a ','-delimited file with a header line; each line is created or
  // reported as failed with its line number.
  sdk::Result<ImportResult> import(const std::string& user, std::string_view csv);
  sdk::Result<std::string> export_csv(const std::string& user);

 private:
  sdk::Store& store_;
  ContactTable contacts_;
};

class PersonalSource final : public sdk::DirectorySource {
 public:
  PersonalSource(SourceConfig config, std::shared_ptr<PersonalStore> store, sdk::Logger& log);

  std::string_view name() const override { return config_.name; }
  std::string_view type() const override { return "personal"; }
  sdk::Result<std::vector<sdk::DirectoryEntry>> search(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::optional<sdk::DirectoryEntry>> first_match(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::vector<sdk::DirectoryEntry>> list(const std::vector<std::string>& ids,
                                                     const sdk::DirectoryQuery& q) override;

 private:
  sdk::Error failed(const sdk::Error& e);
  SourceConfig config_;
  std::shared_ptr<PersonalStore> store_;
  sdk::Logger& log_;
  FailureLog failures_;
};

std::vector<sdk::Route> personal_routes(std::shared_ptr<PersonalStore> store);

}  // namespace dialtone::plugins::directory
