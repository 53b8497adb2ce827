// directory.phonebook's plugin class: one PhonebookSource per
// `[source.<name>]` section and the phonebook REST API on the "dird" listener.
//
// @code
//   dialtone::testing::FakeHost host;
//   host.set_store(store);
//   dialtone::testing::PluginHarness<PhonebookPlugin> plugin(host, kPhonebookOptions);
//   ASSERT_TRUE(plugin.run({{"source.pb.phonebook_name", "main"}}));
// @endcode
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <dialtone/options.h>
#include <dialtone/plugin.h>

#include "plugins/directory/phonebook/phonebook.h"

namespace dialtone::plugins::directory {

class PhonebookPlugin final : public sdk::Plugin {
 public:
  explicit PhonebookPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override;
  sdk::Status start() override;
  void stop() override;

 private:
  sdk::Host& host_;
  std::vector<PhonebookSourceConfig> configs_;
  std::vector<std::string> names_;
  std::shared_ptr<PhonebookStore> store_;
};

// The plugin's option table (its manifest's `options`).
extern const sdk::OptionSpec kPhonebookOptions[];

}  // namespace dialtone::plugins::directory
