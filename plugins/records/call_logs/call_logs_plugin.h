// records.call_logs: call logs built from CEL (records.cel) as xivo-call-logd
// does, and their REST API on confd's listener. docs/admin/call-logs.md.
//
// @code
//   dialtone::testing::PluginHarness<CallLogsPlugin> plugin(host, kCallLogsOptions);
// @endcode
#pragma once

#include <cstdint>
#include <memory>

#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>

namespace dialtone::plugins::records {

struct CallLogGenerator;

class CallLogsPlugin final : public sdk::Plugin {
 public:
  explicit CallLogsPlugin(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& o) override;
  sdk::Status start() override;
  void stop() override;

 private:
  sdk::Host& host_;
  std::int64_t catch_up_ = 20000;
  std::shared_ptr<CallLogGenerator> gen_;
  std::unique_ptr<sdk::Subscription> sub_;
};

// The plugin's option table (its manifest's `options`).
extern const sdk::OptionSpec kCallLogsOptions[];

}  // namespace dialtone::plugins::records
