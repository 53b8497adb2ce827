// directory.users' plugin class: one UsersSource per `[source.<name>]`
// section, over the PBX's users (api.confd's tables).
//
// @code
//   dialtone::testing::FakeHost host;
//   host.set_store(store);
//   dialtone::testing::PluginHarness<UsersPlugin> plugin(host, kUsersOptions);
//   ASSERT_TRUE(plugin.run({{"source.users.searched_columns", "firstname,lastname"}}));
// @endcode
#pragma once

#include <memory>

#include <dialtone/options.h>

#include "plugins/directory/common/source_plugin.h"

namespace dialtone::plugins::directory {

struct UsersTraits {
  using Config = SourceConfig;
  // Refuses a searched or first-matched column the users table does not have.
  static sdk::Result<Config> parse(const SourceOptions&, SourceConfig c);
  static sdk::Result<std::shared_ptr<sdk::DirectorySource>> make(const Config& c, sdk::Host& host);
};

using UsersPlugin = SourcePlugin<UsersTraits>;

// The plugin's option table (its manifest's `options`).
extern const sdk::OptionSpec kUsersOptions[];

}  // namespace dialtone::plugins::directory
