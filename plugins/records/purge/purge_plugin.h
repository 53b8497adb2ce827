// records.purge: CEL and call logs older than `purge.days_to_keep` days
// removed every night at `purge.time` (local time), in batches of
// `purge.batch_size` rows, on a thread of its own (docs/admin/purge.md).
//
// @code
//   dialtone::testing::PluginHarness<PurgePlugin> plugin(host, kPurgeOptions);
// @endcode
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/store.h>

namespace dialtone::plugins::records {

class PurgePlugin final : public sdk::Plugin {
 public:
  explicit PurgePlugin(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& o) override;
  sdk::Status start() override;
  void stop() override;

 private:
  void run();

  sdk::Host& host_;
  sdk::Store* store_ = nullptr;
  int days_ = 365, hour_ = 3, minute_ = 0;
  std::int64_t batch_ = 10000;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The plugin's option table (its manifest's `options`).
extern const sdk::OptionSpec kPurgeOptions[];

}  // namespace dialtone::plugins::records
