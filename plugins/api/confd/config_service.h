// sdk::ConfigService as api.confd provides it: the snapshot behind an atomic
// shared_ptr, rebuilt off the call path when PostgreSQL notifies
// `dialtone_config` (any node) or this process commits a confd write; the
// writes of feature codes and autoprov through confd's own Engine; and the
// `config` Lua module served from the snapshot (config_lua.cc).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include <dialtone/bus.h>
#include <dialtone/config.h>
#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/store.h>

#include "plugins/api/confd/resource.h"

namespace dialtone::plugins::api::confd {

class ConfigServiceImpl final : public sdk::ConfigService,
                                public std::enable_shared_from_this<ConfigServiceImpl> {
 public:
  ConfigServiceImpl(sdk::Store& store, sdk::EventBus& bus, sdk::Executor& executor, sdk::Logger& log);
  ~ConfigServiceImpl() override;

  // Loads the first snapshot (blocking) and LISTENs on dialtone_config.
  sdk::Status start();
  // Stops listening and waits for a rebuild in progress; snapshot() keeps
  // answering with the last one.
  void stop();

  // Rebuilds and waits until a snapshot holding everything committed before
  // this call is published, at most `limit`; false on timeout or a failed
  // load (logged; the previous snapshot stays). Blocking: never on a call
  // thread. Concurrent callers share one rebuild.
  bool refresh(std::chrono::milliseconds limit = std::chrono::seconds(2));
  // Asks for a rebuild on the executor and returns at once (coalesced).
  void refresh_async();

  // The Engine the writes below go through (confd's REST handlers use the
  // same one); commits refresh the snapshot before returning.
  Engine& engine() { return *engine_; }

  // Exports the `config` module (lookups from the snapshot, feature-code
  // writes through this service).
  sdk::Status export_lua(sdk::LuaHost& lua);

  std::shared_ptr<const sdk::ConfigSnapshot> snapshot() const override { return current_.load(); }
  std::unique_ptr<Watch> watch(std::function<void(const sdk::ConfigSnapshot&)> on_change) override;
  void set_forward(std::int64_t user_id, std::string kind, bool enabled, std::optional<std::string> destination,
                   std::function<void(sdk::Result<sdk::ConfigForward>)> done) override;
  void set_service(std::int64_t user_id, std::string service, std::optional<bool> enabled,
                   std::function<void(sdk::Result<bool>)> done) override;
  void associate_device(std::string code, std::string device_id,
                        std::function<void(sdk::Result<std::vector<std::int64_t>>)> done) override;
  void dissociate_device(std::string device_id,
                         std::function<void(sdk::Result<std::vector<std::int64_t>>)> done) override;
  // *37<member_id>: turns call filter member `member_id` on when off and off
  // when on, for `user_id`, who must be a boss or a secretary of that
  // filter (a forbidden error otherwise); the new state (callfilters.cc).
  void toggle_callfilter(std::int64_t member_id, std::int64_t user_id, std::function<void(sdk::Result<bool>)> done);
  // *90: the voicemail of `user_id` on when off, off when on; the new state,
  // not_found when the user has none (service_codes.cc).
  void toggle_voicemail(std::int64_t user_id, std::function<void(sdk::Result<bool>)> done);
  // *50/*51/*52<group_id>: `user_id` in group `group_id` (true), out of it
  // (false), or the other way round (nullopt); whether a member now,
  // not_found for a group that does not exist (service_codes.cc).
  void set_group_member(std::int64_t group_id, std::int64_t user_id, std::optional<bool> member,
                        std::function<void(sdk::Result<bool>)> done);

 private:
  class WatchHandle;
  void build(std::uint64_t target);
  // Runs `sql` (UPDATE ... RETURNING id) and announces line_device.<action>
  // for each line; `none_matched` non-empty: no line is a 404 with that text.
  void set_line_devices(std::string sql, std::vector<std::string> params, std::string action, std::string device_id,
                        std::string none_matched, std::function<void(sdk::Result<std::vector<std::int64_t>>)> done);
  void unwatch(std::uint64_t id);

  sdk::Store& store_;
  sdk::EventBus& bus_;
  sdk::Executor& executor_;
  sdk::Logger& log_;
  std::unique_ptr<Engine> engine_;
  std::atomic<std::shared_ptr<const sdk::ConfigSnapshot>> current_;
  std::unique_ptr<sdk::Subscription> listener_;

  std::mutex mu_;  // guards the rebuild bookkeeping below
  std::condition_variable cv_;
  std::uint64_t requested_ = 0;  // ticket of the latest request
  std::uint64_t attempted_ = 0;  // requests covered by the last finished build
  std::uint64_t done_ = 0;       // requests covered by the last published snapshot
  std::uint64_t version_ = 0;
  bool building_ = false;
  bool async_pending_ = false;
  bool retry_pending_ = false;
  bool stopped_ = false;

  std::mutex watch_mu_;
  std::uint64_t next_watch_ = 1;
  std::map<std::uint64_t, std::function<void(const sdk::ConfigSnapshot&)>> watchers_;
};

// The `config` Lua module: its one declaration, from which export_lua()
// registers the functions and docs/lua-dialplan.md's reference is generated.
// An empty `service` (only the declarations are wanted) reads an empty
// configuration.
std::vector<sdk::LuaFunctionSpec> config_lua_functions(std::weak_ptr<ConfigServiceImpl> service);

}  // namespace dialtone::plugins::api::confd
