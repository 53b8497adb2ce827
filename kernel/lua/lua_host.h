// The Lua dialplan host: a pool of Lua 5.4 states, each owned by one thread,
// running every dialplan call as its own coroutine.
//
// @code
//   dialtone::kernel::LuaHostImpl lua({.script = "/etc/dialtone/lua-dialplan/extensions.lua"}, log);
//   if (auto st = lua.start(); !st) { log.error(st.error().message); return; }
//   lua.call("on_incoming_call", {call_table}, [](dialtone::sdk::Result<dialtone::sdk::LuaValues> r) {
//     // runs on the Lua thread that ran the call
//   });
//   lua.reload();   // refused (old script stays) if the new one does not compile
//   lua.stop();
// @endcode
//
// Threads: every public method may be called from any thread. `done`
// callbacks and host functions run on the Lua thread that owns the call's
// state (a call made while the host is not running is answered at once, on
// the caller's thread); they must not block (return LuaReply::async instead).
// The script's top level runs on the thread calling start()/reload().
#pragma once

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/result.h>

namespace dialtone::kernel {

struct LuaConfig {
  std::filesystem::path script;  // the dialplan entry file, e.g. lua-dialplan/extensions.lua
  std::size_t states = 2;        // Lua states, one thread each
  // Folders `require` may load from. Empty: the script's folder and <script dir>/lib.
  std::vector<std::filesystem::path> module_paths;
  // VM instructions a coroutine may run between two suspensions before it is
  // aborted with an error (stops `while true do end` from freezing a state).
  // 0: no limit.
  std::uint64_t instruction_budget = 10'000'000;
  // Bytes one Lua state may allocate; an allocation beyond fails with
  // "not enough memory" in the script that asked for it.
  std::size_t memory_limit = 256u << 20;
  // The wall clock dialtone.now() reads; empty: the system clock. Tests set
  // it to put the dialplan at a chosen time of day (schedules).
  std::function<std::chrono::system_clock::time_point()> clock{};
};

class LuaHostImpl final : public sdk::LuaHost {
 public:
  LuaHostImpl(LuaConfig config, sdk::Logger& log);
  ~LuaHostImpl() override;
  LuaHostImpl(const LuaHostImpl&) = delete;
  LuaHostImpl& operator=(const LuaHostImpl&) = delete;

  // Compiles the script in fresh states and starts their threads. An error
  // names the file and line; nothing runs then.
  sdk::Status start();
  // Stops every state; calls still suspended get an `unavailable` error.
  void stop();
  // Markdown reference of every exported module (the built-in `dialtone`
  // module first), generated from the declared specs.
  std::string reference_markdown() const;

  // `dialtone` is reserved for the host's own functions. Exporting an
  // existing module adds its functions (same name: replaced).
  sdk::Status export_module(std::string module, std::vector<sdk::LuaFunctionSpec> functions) override;
  // The same, recorded as `owner`'s (a plugin id), so withdraw() can take
  // them back.
  sdk::Status export_module_as(std::string owner, std::string module,
                               std::vector<sdk::LuaFunctionSpec> functions);
  // Drops the implementations `owner` exported: a script calling one gets a
  // Lua error "<module>.<name> is no longer available: <reason>". Waits for
  // calls already inside one of them, so the owner may then be destroyed.
  // Returns how many functions were still referenced when it started.
  std::size_t withdraw(std::string_view owner, std::string_view reason);
  void call(std::string function, sdk::LuaValues args,
            std::function<void(sdk::Result<sdk::LuaValues>)> done) override;
  sdk::Status reload() override;
  // True once a script is loaded (start() or reload() succeeded) and until stop().
  bool running() const;

  // Resolved `require` folders (after defaults).
  const std::vector<std::filesystem::path>& module_paths() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dialtone::kernel
