// directory.personal's plugin class: users' personal contacts in PostgreSQL
// as directory sources, and the /0.1/personal REST API on the "dird" listener.
//
// @code
//   dialtone::testing::FakeHost host;
//   host.set_store(store);
//   dialtone::testing::PluginHarness<PersonalPlugin> plugin(host, kPersonalOptions);
//   ASSERT_TRUE(plugin.run({{"source.personal.searched_columns", "firstname,lastname"}}));
// @endcode
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <dialtone/options.h>
#include <dialtone/plugin.h>

#include "plugins/directory/personal/personal.h"

namespace dialtone::plugins::directory {

class PersonalPlugin final : public sdk::Plugin {
 public:
  explicit PersonalPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override;
  sdk::Status start() override;
  void stop() override;

 private:
  sdk::Host& host_;
  std::vector<SourceConfig> configs_;
  std::vector<std::string> names_;
  std::shared_ptr<PersonalStore> store_;
};

// The plugin's option table (its manifest's `options`).
extern const sdk::OptionSpec kPersonalOptions[];

}  // namespace dialtone::plugins::directory
