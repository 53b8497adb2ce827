// Call completion (seed 5.3, Asterisk's CCSS as XiVO uses it): a caller
// whose call to a user was busy or not answered dials *40 within the offer
// time; once the callee's lines have been in a call and are free again (and
// the caller's are free), the caller's line rings, and when the caller
// answers the callee is dialed on the caller's behalf. *40 again cancels.
//
// @code
//   dialtone::kernel::CallCompletion cc(calls, presence, log, [&] { return snapshot(); });
//   (void)cc.export_lua(lua);   // completion.offer(...), completion.toggle(...)
//   // lua-dialplan/lib/callcompletion.lua: an unanswered call to a user offers,
//   // *40 toggles the request.
//   cc.stop();
// @endcode
//
// The callee's and the caller's states come from the presence service
// (the call core's channel events folded per extension): "busy" is any
// dialog that is not terminated. Requests live in memory: a restart forgets
// them, as Asterisk does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <dialtone/config.h>
#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/presence.h>

#include "kernel/calls/call_core.h"
#include "kernel/lua/timer_thread.h"

namespace dialtone::kernel {

class CallCompletion {
 public:
  // The seed's timers (XiVO does not let them change; here they can, for tests).
  struct Timers {
    std::chrono::milliseconds offer{30'000};           // to dial *40 after the failed call
    std::chrono::milliseconds busy_available{900'000};  // a request on busy waits at most this
    std::chrono::milliseconds noanswer_available{900'000};
    int recall_seconds = 30;  // the caller's phone rings this long for the callback
  };
  using ConfigSource = std::function<std::shared_ptr<const sdk::ConfigSnapshot>()>;
  CallCompletion(CallCoreImpl& calls, sdk::PresenceService& presence, sdk::Logger& log, ConfigSource config,
                 Timers timers);
  CallCompletion(CallCoreImpl& calls, sdk::PresenceService& presence, sdk::Logger& log, ConfigSource config)
      : CallCompletion(calls, presence, log, std::move(config), Timers()) {}
  ~CallCompletion();
  CallCompletion(const CallCompletion&) = delete;
  CallCompletion& operator=(const CallCompletion&) = delete;

  // Drops every request; no callback starts after this returns.
  void stop();

  // A call from user `caller` to `exten`@`context` ended `reason` ("busy"
  // or "noanswer"): the caller may ask for completion within the offer time.
  // A later offer replaces it; withdraw() removes it (a call that cannot be
  // completed, e.g. the callee's simultaneous-calls limit).
  void offer(std::int64_t caller, std::string exten, std::string context, std::string reason);
  void withdraw(std::int64_t caller);
  // *40: "cancelled" when `caller` had a request (it is dropped),
  // "activated" when an offer was pending (it becomes a request), else
  // "unavailable" with nothing changed.
  std::string toggle(std::int64_t caller);

  // Requests waiting for their callee, for tests.
  std::size_t requests() const;
  // Forgets every offer and request (tests start from nothing).
  void clear();

  // The `completion` module's declarations (they generate its reference).
  std::vector<sdk::LuaFunctionSpec> lua_functions();
  sdk::Status export_lua(sdk::LuaHost& lua);

 private:
  struct Offer {
    std::string exten, context, reason;
    std::chrono::steady_clock::time_point until;
  };
  struct Request {
    std::uint64_t id = 0;
    std::int64_t caller = 0;
    std::string exten, context, reason;
    sdk::PresenceResource callee_resource, caller_resource;
    bool callee_was_busy = false;  // seen in a call since the request
    bool callee_free = false;      // free again after that
    bool caller_busy = false;
    bool fired = false;
    std::unique_ptr<sdk::PresenceService::Watch> callee_watch, caller_watch;
  };
  static bool busy(const sdk::PresenceState& s);
  void on_callee(std::uint64_t id, const sdk::PresenceState& s);
  void on_caller(std::uint64_t id, const sdk::PresenceState& s);
  // Fires `id` when its callee is free again and its caller is free (mutex_ held).
  void maybe_fire(Request& r);
  // Off the presence thread: drops the request and rings the caller.
  void call_back(std::uint64_t id);
  void expire(std::uint64_t id);
  std::unique_ptr<Request> take(std::uint64_t id);

  CallCoreImpl& calls_;
  sdk::PresenceService& presence_;
  sdk::Logger& log_;
  ConfigSource config_;
  Timers timers_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, Offer> offers_;                    // by caller user id
  std::map<std::uint64_t, std::unique_ptr<Request>> requests_;  // by request id
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
  TimerThread timers_thread_;  // expiry, and callbacks run off the presence threads
};

}  // namespace dialtone::kernel
