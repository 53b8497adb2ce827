// Functions that plugins export to the Lua dialplan, and running dialplan
// entry points.
//
// @code
//   host.lua()->export_module("dird", {
//     {"reverse", "profile: string, number: string", "name: string|nil",
//      "Caller-ID name for a number, from the profile's directories.",
//      [this](const dialtone::sdk::LuaValues& args) {
//        // Blocking work must not run here: suspend the coroutine instead.
//        return dialtone::sdk::LuaReply::async([=](dialtone::sdk::LuaResume resume) {
//          pool_.post([=] { resume(dialtone::sdk::LuaValues{lookup(args)}); });
//        });
//      }}});
//   -- in lua-dialplan: local name = dird.reverse("default", call.caller_number)
// @endcode
//
// Every call of the dialplan runs as its own coroutine. A function that
// returns LuaReply::async suspends only that coroutine; the others keep
// running. The declared (name, args, returns, doc) rows are the one
// declaration of a function: they register it, its argument types are
// checked on every call (a wrong type is a Lua error naming the function,
// the argument and the expected type), and they generate the reference in
// docs/lua-dialplan.md. Functions belong to the plugin that exported them and
// are withdrawn when it stops.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dialtone/result.h"

namespace dialtone::sdk {

struct LuaTable;

struct LuaValue {
  std::variant<std::monostate, bool, std::int64_t, double, std::string, std::shared_ptr<LuaTable>> v;

  LuaValue() = default;
  LuaValue(std::nullptr_t) {}
  LuaValue(bool b) : v(b) {}
  LuaValue(int i) : v(static_cast<std::int64_t>(i)) {}
  LuaValue(std::int64_t i) : v(i) {}
  LuaValue(double d) : v(d) {}
  LuaValue(const char* s) : v(std::string(s)) {}
  LuaValue(std::string s) : v(std::move(s)) {}
  LuaValue(std::shared_ptr<LuaTable> t) : v(std::move(t)) {}

  bool is_nil() const { return v.index() == 0; }
  const std::string* as_string() const { return std::get_if<std::string>(&v); }
  std::optional<std::int64_t> as_int() const {
    if (auto* i = std::get_if<std::int64_t>(&v)) return *i;
    if (auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
    return std::nullopt;
  }
  const LuaTable* as_table() const {
    auto* t = std::get_if<std::shared_ptr<LuaTable>>(&v);
    return t ? t->get() : nullptr;
  }
};

using LuaValues = std::vector<LuaValue>;

struct LuaTable {
  std::vector<LuaValue> array;                // 1..n
  std::map<std::string, LuaValue> fields;     // string keys
};

// Resumes a suspended coroutine with its results (or raises a Lua error in
// it). Callable from any thread, once.
using LuaResume = std::function<void(Result<LuaValues>)>;

class LuaReply {
 public:
  static LuaReply values(LuaValues v) { LuaReply r; r.values_ = std::move(v); return r; }
  static LuaReply error(std::string message) { LuaReply r; r.error_ = std::move(message); return r; }
  static LuaReply async(std::function<void(LuaResume)> start) {
    LuaReply r; r.start_ = std::move(start); return r;
  }
  LuaReply() = default;
  LuaReply(LuaValues v) : values_(std::move(v)) {}

  const LuaValues& result() const { return values_; }
  const std::optional<std::string>& failure() const { return error_; }
  const std::function<void(LuaResume)>& starter() const { return start_; }

 private:
  LuaValues values_;
  std::optional<std::string> error_;
  std::function<void(LuaResume)> start_;
};

using LuaFunction = std::function<LuaReply(const LuaValues& args)>;

struct LuaFunctionSpec {
  std::string name;     // "reverse" -> dird.reverse in Lua
  // "profile: string, number?: string": the host checks every call against
  // it before `fn` runs (grammar in dialtone/lua_signature.h).
  std::string args;
  std::string returns;  // "name: string|nil"
  std::string doc;      // one or two sentences
  LuaFunction fn;
};

class LuaHost {
 public:
  virtual ~LuaHost() = default;
  // Makes `module.<name>` callable from every dialplan state, now and after reloads.
  virtual Status export_module(std::string module, std::vector<LuaFunctionSpec> functions) = 0;
  // Runs the global dialplan function `function` (e.g. "on_incoming_call") in a
  // new coroutine. `done` is called once, on the Lua thread, with its results
  // or the error (file:line) that failed this call only.
  virtual void call(std::string function, LuaValues args,
                    std::function<void(Result<LuaValues>)> done) = 0;
  // Recompiles the dialplan; if it fails to compile the running one stays.
  virtual Status reload() = 0;
};

}  // namespace dialtone::sdk
