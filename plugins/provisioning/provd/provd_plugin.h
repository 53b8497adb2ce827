// The provisioning.provd plugin (options from conf.d/60-provisioning.conf):
// builds a Provd from its options at start() and offers it as the
// provisioning.service "provd". Separate from plugin.cc so tests drive it
// through dialtone::testing::PluginHarness.
#pragma once

#include <memory>

#include <dialtone/host.h>
#include <dialtone/options.h>
#include <dialtone/plugin.h>

#include "plugins/provisioning/provd/provd.h"

namespace dialtone::plugins::provisioning {

extern const sdk::OptionSpec kOptions[];

class ProvdPlugin final : public sdk::Plugin {
 public:
  explicit ProvdPlugin(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& o) override;
  sdk::Status start() override;
  void stop() override;
  // The running service; nullptr when stopped.
  Provd* provd() { return provd_.get(); }

 private:
  sdk::Host& host_;
  ProvdSettings s_;
  std::shared_ptr<Provd> provd_;
};

}  // namespace dialtone::plugins::provisioning
