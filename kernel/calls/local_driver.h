// The `local` channel driver (as Asterisk's Local channel): dialing
// `local/<exten>@<context>` runs the dialplan for a new leg that calls
// <exten> in <context>, so groups, fallbacks and later queues can dial an
// extension like any interface. The leg is answered when what its dialplan
// dialed answers; it ends with either side.
//
// @code
//   auto local = std::make_shared<dialtone::kernel::LocalDriver>(core, lua, log);
//   (void)core.register_driver("local", local);
//   // in the dialplan: call:dial{ "local/2000@default", "sip/1001" }
// @endcode
#pragma once

#include <memory>
#include <string>

#include <dialtone/calls.h>
#include <dialtone/host.h>
#include <dialtone/lua.h>

namespace dialtone::kernel {

class CallCoreImpl;

class LocalDriver final : public sdk::ChannelDriver, public std::enable_shared_from_this<LocalDriver> {
 public:
  // `function`: the dialplan entry run for each leg (the one backends run);
  // `max_depth`: local legs nested at most (a group that dials itself).
  LocalDriver(CallCoreImpl& core, sdk::LuaHost& lua, sdk::Logger& log, std::string function = "route_call",
              int max_depth = 8);

  sdk::Status originate(const sdk::OriginateRequest& request) override;
  sdk::Status hangup(const sdk::Channel& channel, int q850_cause) override;
  // Answering a local leg has no wire to answer on: accepted.
  sdk::Status answer(const sdk::Channel&) override { return {}; }

 private:
  void route(const sdk::OriginateRequest& request, const sdk::OriginateLeg& leg);
  void decided(const std::string& leg, sdk::Result<sdk::LuaValues> result);

  CallCoreImpl& core_;
  sdk::LuaHost& lua_;
  sdk::Logger& log_;
  std::string function_;
  int max_depth_;
};

}  // namespace dialtone::kernel
