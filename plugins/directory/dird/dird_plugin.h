// directory.dird's plugin class: the lookup service over the configured
// profiles, its REST API on the "dird" listener and `dird.reverse()` for the
// Lua dialplan. Tests drive it through the SDK's PluginHarness:
//
// @code
//   dialtone::testing::FakeHost host;
//   dialtone::testing::PluginHarness<DirdPlugin> plugin(host, kDirdOptions);
//   ASSERT_TRUE(plugin.run({{"profile.default.sources", "pb"}}));
// @endcode
#pragma once

#include <map>
#include <memory>

#include <dialtone/options.h>
#include <dialtone/plugin.h>

#include "plugins/directory/dird/dird_rest.h"

namespace dialtone::plugins::directory {

class DirdPlugin final : public sdk::Plugin {
 public:
  explicit DirdPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override;
  sdk::Status start() override;
  void stop() override;

 private:
  sdk::Host& host_;
  std::map<std::string, Profile> profiles_;
  std::shared_ptr<LookupService> service_;
  std::unique_ptr<Favorites> favorites_;
  std::unique_ptr<DirdRest> rest_;
  std::shared_ptr<WorkerPool> pool_ = std::make_shared<WorkerPool>(16);
};

// The plugin's option table (its manifest's `options`).
extern const sdk::OptionSpec kDirdOptions[];

}  // namespace dialtone::plugins::directory
