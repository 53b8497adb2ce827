// sdk::Store on PostgreSQL through libpq: a bounded connection pool, async
// workers, migrations and LISTEN/NOTIFY.
//
// @code
//   auto store = dialtone::kernel::PgStore::open({.dsn = "host=/run/dt dbname=dialtone"}, bus, log);
//   if (!store) { log.error(store.error().message); return 1; }
//   (*store)->exec("SELECT 1");
// @endcode
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/result.h>
#include <dialtone/store.h>

namespace dialtone::kernel {

struct StoreConfig {
  std::string dsn;
  std::size_t pool_size = 8;
  // How long exec()/transaction() wait for a free connection before ErrorCode::timeout.
  std::chrono::milliseconds acquire_timeout{10000};
  std::size_t async_threads = 2;
  // Appended to connection errors at open(); tells the admin where the DSN comes from.
  std::string fix_hint = "check store.dsn in conf.d/00-kernel.conf";
};

class PgStore final : public sdk::Store {
 public:
  // Connects once to validate the DSN; the error is one line without the password.
  static sdk::Result<std::unique_ptr<PgStore>> open(const StoreConfig& config, sdk::EventBus& bus,
                                                    sdk::Logger& log);
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // Stops the listener and async workers (pending async work still runs), then
  // closes every connection. Later calls return ErrorCode::unavailable. Idempotent.
  void close();

  sdk::Result<sdk::QueryResult> exec(std::string_view sql, const sdk::Params& params = {}) override;
  sdk::Status transaction(const std::function<sdk::Status(sdk::Transaction&)>& body) override;
  void exec_async(std::string sql, sdk::Params params,
                  std::function<void(sdk::Result<sdk::QueryResult>)> done) override;
  sdk::Status migrate(std::string_view owner, std::span<const sdk::Migration> migrations) override;
  std::unique_ptr<sdk::Subscription> listen(std::string channel,
                                            std::function<void(const std::string&)> on_notify) override;

  // The DSN with any password removed, for logs and status pages.
  const std::string& display_dsn() const { return display_dsn_; }

  class Pool;
  class Listener;
  class Workers;

 private:
  PgStore(const StoreConfig& config, sdk::EventBus& bus, sdk::Logger& log);
  sdk::Status migrate_one(std::string_view owner, const sdk::Migration& m);

  StoreConfig config_;
  std::string display_dsn_;
  sdk::EventBus& bus_;
  sdk::Logger& log_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Workers> workers_;
  std::mutex listener_mutex_;
  std::shared_ptr<Listener> listener_;
  bool closed_ = false;
};

}  // namespace dialtone::kernel
