// directory.users: the PBX's own users as a directory source (xivo-dird
// "xivo" back-end), read from api.confd's tables: name, main extension,
// mobile, email and voicemail number.
#pragma once

#include <dialtone/store.h>

#include <atomic>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {

// Columns of each entry: id, uuid, firstname, lastname, email,
// mobile_phone_number, exten, context, voicemail_number.
const std::vector<std::string>& user_columns();

class UsersSource final : public sdk::DirectorySource {
 public:
  UsersSource(SourceConfig config, sdk::Store& store, sdk::Logger& log);

  std::string_view name() const override { return config_.name; }
  std::string_view type() const override { return "xivo"; }
  sdk::Result<std::vector<sdk::DirectoryEntry>> search(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::optional<sdk::DirectoryEntry>> first_match(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::vector<sdk::DirectoryEntry>> list(const std::vector<std::string>& ids,
                                                     const sdk::DirectoryQuery& q) override;

  // Unavailable (logged once per streak) while api.confd's tables are missing.
  sdk::Status ready();

 private:
  sdk::Result<std::vector<std::map<std::string, std::string>>> query(const std::string& where,
                                                                     const sdk::Params& params);

  SourceConfig config_;
  sdk::Store& store_;
  sdk::Logger& log_;
  FailureLog failures_;
  std::atomic<bool> ready_{false};
};

}  // namespace dialtone::plugins::directory
