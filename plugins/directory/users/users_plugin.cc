// directory.users: one UsersSource per `[source.<name>]` section.
#include "plugins/directory/users/users_plugin.h"

#include <algorithm>

#include "plugins/directory/users/users_source.h"

namespace dialtone::plugins::directory {

sdk::Result<SourceConfig> UsersTraits::parse(const SourceOptions&, SourceConfig c) {
  for (auto* list : {&c.searched_columns, &c.first_matched_columns})
    for (auto& col : *list) {
      auto& cols = user_columns();
      if (std::find(cols.begin(), cols.end(), col) == cols.end())
        return sdk::Error::invalid("source " + c.name + ": unknown column '" + col +
                                   "'; use id, uuid, firstname, lastname, email, mobile_phone_number, exten, "
                                   "context, voicemail_number, line_id or xivo_id");
    }
  return c;
}

sdk::Result<std::shared_ptr<sdk::DirectorySource>> UsersTraits::make(const Config& c, sdk::Host& host) {
  auto* db = host.store();
  if (!db) return sdk::Error::unavailable("directory.users needs the database; set store.dsn in conf.d");
  auto src = std::make_shared<UsersSource>(c, *db, host.log());
  // Logs the one "tables do not exist yet" line now rather than at the first call.
  (void)src->ready();
  return std::shared_ptr<sdk::DirectorySource>(src);
}

constexpr sdk::OptionSpec kUsersOptions[] = {DIALTONE_DIRECTORY_COMMON_OPTIONS, {}};

}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::UsersPlugin, "directory.users", "directory", "1.0.0",
                "the PBX's users (api.confd tables) as a directory source", "", "api.confd",
                dialtone::plugins::directory::kUsersOptions)
