#include "kernel/lua/lua_host.h"

#include <dialtone/files.h>
#include <dialtone/lua_reference.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <pthread.h>

#include <lua.hpp>

#include <dialtone/lua_signature.h>

#include "kernel/lua/lua_values.h"
#include "kernel/lua/timer_thread.h"

namespace dialtone::kernel {

namespace {

using sdk::Error;
using sdk::LuaValue;
using sdk::LuaValues;
using sdk::Result;
using sdk::Status;
using Done = std::function<void(Result<LuaValues>)>;

constexpr int kHookStep = 1000;          // instructions between two budget checks
constexpr std::int64_t kMaxSleepMs = 86'400'000;
constexpr const char* kBuiltinModule = "dialtone";

// One exported function. The Lua states keep a raw pointer to it for the
// host's lifetime; the implementation (plugin code) is dropped when its
// owner withdraws it, and calls from then on raise an error naming it.
struct Export {
  std::string module;
  sdk::LuaFunctionSpec spec;  // spec.fn moved out into `fn`
  std::string qualified;      // "module.name", for messages
  std::string owner;          // plugin id; empty for the kernel's own
  std::vector<sdk::LuaParam> params;  // spec.args, checked before every call

  using Fn = std::shared_ptr<const sdk::LuaFunction>;
  Fn current(std::string* why) const {
    std::lock_guard lk(fn_mutex);
    if (!fn && why != nullptr) *why = withdrawn_because;
    return fn;
  }
  // Returns the implementation so the caller can wait for calls running it.
  std::weak_ptr<const sdk::LuaFunction> withdraw(std::string why) {
    std::lock_guard lk(fn_mutex);
    if (!fn) return {};  // the first reason stays
    std::weak_ptr<const sdk::LuaFunction> last = fn;
    fn.reset();
    withdrawn_because = std::move(why);
    return last;
  }
  void set(sdk::LuaFunction f) {
    std::lock_guard lk(fn_mutex);
    fn = std::make_shared<const sdk::LuaFunction>(std::move(f));
  }

 private:
  mutable std::mutex fn_mutex;
  Fn fn;
  std::string withdrawn_because;
};

// One dialplan call: a coroutine of a state, alive until its function returns.
struct CallContext {
  std::uint64_t id = 0;
  std::string function;
  lua_State* co = nullptr;
  int ref = LUA_NOREF;
  Done done;
  // Set by a host function that returned LuaReply::async: the worker starts
  // it once the coroutine is suspended.
  bool awaiting = false;
  std::string awaiting_name;
  // Keeps the function that returned pending_start from being withdrawn
  // (and its plugin unloaded) before the start has run. Declared first so it
  // is released after pending_start, which is the owner's code too.
  std::shared_ptr<const sdk::LuaFunction> pending_owner;
  std::function<void(sdk::LuaResume)> pending_start;
};

// Answers a call whose task was dropped before it ran.
struct PendingCall {
  explicit PendingCall(Done d) : done(std::move(d)) {}
  ~PendingCall() {
    if (!done) return;
    try {
      done(Error::unavailable("lua: the dialplan stopped before the call started"));
    } catch (...) {
    }
  }
  Done done;
};

// A Lua file's text; nullopt for a missing, unreadable or non-regular file.
std::optional<std::string> read_script(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
  return sdk::read_file(p);
}

bool valid_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool is_reserved_global(const std::string& m) {
  static const char* names[] = {"_G", "string", "table", "math", "utf8", "coroutine", "os",
                                "package", "io", "debug", "require", "print", "load"};
  return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return m == n; });
}

// Runs `fn` on L in protected mode so that an allocation failure or a
// metamethod error becomes a message instead of a panic. Returns the number
// of values `fn` left on the stack, or -1 with `error` set.
int run_protected(lua_State* L, const std::function<int(lua_State*)>& fn, std::string& error) {
  const int top = lua_gettop(L);
  lua_pushcfunction(L, [](lua_State* S) -> int {
    auto* f = static_cast<const std::function<int(lua_State*)>*>(lua_touserdata(S, 1));
    lua_remove(S, 1);
    return (*f)(S);
  });
  lua_pushlightuserdata(L, const_cast<std::function<int(lua_State*)>*>(&fn));
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    const char* m = lua_tostring(L, -1);
    error = m ? m : "error object is not a string";
    lua_settop(L, top);
    return -1;
  }
  return lua_gettop(L) - top;
}

}  // namespace

class Worker;

struct LuaHostImpl::Impl {
  Impl(LuaConfig c, sdk::Logger& l) : cfg(std::move(c)), log(l) {
    if (!cfg.script.empty()) cfg.script = std::filesystem::absolute(cfg.script).lexically_normal();
    script_dir = cfg.script.parent_path();
    if (cfg.module_paths.empty() && !script_dir.empty()) {
      cfg.module_paths = {script_dir, script_dir / "lib"};
    }
    for (auto& p : cfg.module_paths) {
      if (!p.empty()) p = std::filesystem::absolute(p).lexically_normal();
    }
    if (cfg.states == 0) cfg.states = 1;
  }

  Status build(std::vector<std::shared_ptr<Worker>>& out, std::uint64_t generation,
               std::uint64_t* version);
  std::vector<Export*> exports_snapshot(std::uint64_t* version) const;
  std::vector<Export*> exports_locked() const;
  void reap_locked();
  Status add_exports(const std::string& owner, const std::string& module,
                     std::vector<sdk::LuaFunctionSpec> functions);
  void register_builtins();

  LuaConfig cfg;
  sdk::Logger& log;
  std::filesystem::path script_dir;
  std::unique_ptr<TimerThread> timer;
  std::atomic<std::uint64_t> next_call_id{1};

  mutable std::mutex mu;  // guards everything below
  std::vector<std::string> module_order;
  std::map<std::string, std::vector<Export*>> modules;
  std::deque<std::unique_ptr<Export>> all_exports;  // states hold raw pointers: never freed before the host
  std::uint64_t exports_version = 0;
  std::vector<std::shared_ptr<Worker>> workers;
  std::vector<std::shared_ptr<Worker>> retired;
  std::size_t round_robin = 0;
  bool running = false;
  std::uint64_t generation = 0;

  std::mutex reload_mu;  // one build at a time
};

// A Lua state and the thread that owns it. Everything touching `L_` runs on
// that thread once launched (before launch, on the thread that builds it).
class Worker : public std::enable_shared_from_this<Worker> {
 public:
  Worker(LuaHostImpl::Impl& host, std::uint64_t generation, std::size_t index)
      : host_(host), generation_(generation), index_(index) {}
  ~Worker() {
    if (thread_.joinable()) thread_.join();
    if (L_ != nullptr) lua_close(L_);
  }

  Status build();
  void install(const std::vector<Export*>& exports);
  void launch() {
    thread_ = std::thread([this] { run(); });
    // "lua<generation>.<state>" in top/gdb tells a retiring state from a current one.
    const std::string name = "lua" + std::to_string(generation_ % 100000) + "." + std::to_string(index_ % 100);
    pthread_setname_np(thread_.native_handle(), name.c_str());
  }

  bool post(std::function<void()> task) {
    bool wake = false;
    {
      std::lock_guard lk(mu_);
      if (stopping_) return false;
      tasks_.push_back(std::move(task));
      wake = idle_;
    }
    // A busy worker takes the task on its next turn: no futex wake needed.
    if (wake) cv_.notify_one();
    return true;
  }
  void retire() {
    {
      std::lock_guard lk(mu_);
      retired_ = true;
    }
    cv_.notify_one();
  }
  void stop_and_join() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  bool finished() const { return finished_.load(); }

  void begin_call(std::string function, LuaValues args, Done done);
  void resume_call(std::uint64_t id, Result<LuaValues> result);

  LuaHostImpl::Impl& host() { return host_; }
  std::atomic<int> in_flight{0};

  // Read by the allocator and the count hook, on the owning thread only.
  std::size_t mem_used = 0;
  std::uint64_t executed = 0;

  static Worker* of(lua_State* L) {
    void* ud = nullptr;
    lua_getallocf(L, &ud);
    return static_cast<Worker*>(ud);
  }

 private:
  void run();
  void drive(CallContext* c, int nargs);
  void finish(CallContext* c, Result<LuaValues> result);
  std::string describe_failure(lua_State* co, std::string* trace);
  Status load_script();

  LuaHostImpl::Impl& host_;
  std::uint64_t generation_;
  std::size_t index_;
  lua_State* L_ = nullptr;
  std::unordered_map<std::uint64_t, std::unique_ptr<CallContext>> calls_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  bool retired_ = false;
  bool idle_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

namespace {

void* limited_alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
  auto* w = static_cast<Worker*>(ud);
  const std::size_t old = ptr != nullptr ? osize : 0;
  if (nsize == 0) {
    w->mem_used -= old;
    std::free(ptr);
    return nullptr;
  }
  if (nsize > old && w->mem_used - old + nsize > w->host().cfg.memory_limit) return nullptr;
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) return nullptr;
  w->mem_used = w->mem_used - old + nsize;
  return p;
}

void count_hook(lua_State* L, lua_Debug*) {
  Worker* w = Worker::of(L);
  w->executed += kHookStep;
  const std::uint64_t budget = w->host().cfg.instruction_budget;
  if (budget != 0 && w->executed > budget) {
    // From now on every instruction of this thread raises again, so a pcall
    // inside the loop cannot swallow the abort: the error climbs out of each
    // protected level in turn.
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, 0);
    lua_pushfstring(L,
                    "instruction budget exceeded: more than %I Lua instructions without "
                    "suspending (an endless loop?)",
                    static_cast<lua_Integer>(budget));
    lua_concat(L, 2);
    lua_error(L);
  }
}

// Host functions: the frame that may raise (lua_error / lua_yieldk jump with
// longjmp) holds no C++ object; the work happens in *_impl which returns.
constexpr int kRaise = -1;
constexpr int kYield = -2;

void push_where_message(lua_State* L, const std::string& message) {
  luaL_where(L, 1);
  lua_pushlstring(L, message.data(), message.size());
  lua_concat(L, 2);
}

int host_function_impl(lua_State* co) {
  auto* ex = static_cast<Export*>(lua_touserdata(co, lua_upvalueindex(1)));
  std::string error;
  const Export::Fn fn = ex->current(&error);
  if (!fn) {
    push_where_message(co, ex->qualified + " is no longer available: " + error);
    return kRaise;
  }
  LuaValues args;
  if (!read_lua_values(co, 1, lua_gettop(co), args, error)) {
    push_where_message(co, ex->qualified + ": " + error);
    return kRaise;
  }
  if (auto wrong = sdk::check_lua_args(ex->qualified, ex->params, args)) {
    push_where_message(co, *wrong);
    return kRaise;
  }
  sdk::LuaReply reply;
  try {
    reply = (*fn)(args);
  } catch (const std::exception& e) {
    push_where_message(co, ex->qualified + ": " + e.what());
    return kRaise;
  } catch (...) {
    push_where_message(co, ex->qualified + ": failed with an unknown exception");
    return kRaise;
  }
  if (reply.failure()) {
    push_where_message(co, ex->qualified + ": " + *reply.failure());
    return kRaise;
  }
  if (reply.starter()) {
    auto* c = *static_cast<CallContext**>(lua_getextraspace(co));
    if (c == nullptr || !lua_isyieldable(co)) {
      push_where_message(co, ex->qualified +
                                 " suspends the call, so it can only run inside a dialplan "
                                 "call (not at the script's top level, in a coroutine the "
                                 "script created, or in a metamethod/sort/gsub callback)");
      return kRaise;
    }
    c->awaiting = true;
    c->awaiting_name = ex->qualified;
    c->pending_start = reply.starter();
    c->pending_owner = fn;
    lua_settop(co, 0);
    return kYield;
  }
  if (!push_lua_values(co, reply.result(), error)) {
    push_where_message(co, ex->qualified + " returned a value Lua cannot take: " + error);
    return kRaise;
  }
  return static_cast<int>(reply.result().size());
}

// Runs when a suspended host function is resumed: the worker pushed
// (true, values...) or (false, message).
int host_function_continue(lua_State* co, int, lua_KContext) {
  if (!lua_toboolean(co, 1)) {
    luaL_where(co, 1);
    lua_pushvalue(co, 2);
    lua_concat(co, 2);
    return lua_error(co);
  }
  return lua_gettop(co) - 1;
}

int host_function(lua_State* co) {
  const int n = host_function_impl(co);
  if (n == kRaise) return lua_error(co);
  if (n == kYield) return lua_yieldk(co, 0, 0, host_function_continue);
  return n;
}

// print() writes to the kernel log instead of stdout.
int print_to_log(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  std::size_t len = 0;
  const char* s = lua_tolstring(L, -1, &len);
  Worker::of(L)->host().log.info("dialplan: " + std::string(s, len));
  return 0;
}

// load() restricted to text chunks: binary chunks can crash the VM.
int load_text_only(lua_State* L) {
  if (lua_gettop(L) < 3) lua_settop(L, 3);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

int searcher_impl(lua_State* L, const char* name) {
  Worker* w = Worker::of(L);
  const std::string mod(name);
  const bool safe = !mod.empty() && mod.front() != '.' && mod.find("..") == std::string::npos &&
                    std::all_of(mod.begin(), mod.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                             c == '-' || c == '.';
                    });
  if (!safe) {
    const std::string m = "\n\tmodule name '" + mod + "' is not allowed (letters, digits, _ - .)";
    lua_pushlstring(L, m.data(), m.size());
    return 1;
  }
  std::string rel = mod;
  std::replace(rel.begin(), rel.end(), '.', '/');
  std::string tried;
  for (const auto& dir : w->host().cfg.module_paths) {
    for (const auto& candidate : {dir / (rel + ".lua"), dir / rel / "init.lua"}) {
      const auto text = read_script(candidate);
      if (!text) {
        tried += "\n\tno file '" + candidate.string() + "'";
        continue;
      }
      // Chunk names relative to the dialplan folder keep messages short
      // (Lua cuts sources beyond 60 characters).
      auto shown = candidate.lexically_relative(w->host().script_dir);
      if (shown.empty() || shown.begin()->string() == "..") shown = candidate;
      const std::string chunk = "@" + shown.string();
      if (luaL_loadbufferx(L, text->data(), text->size(), chunk.c_str(), "t") != LUA_OK) {
        const std::string m = "error loading module '" + mod + "' from file '" +
                              candidate.string() + "':\n\t" + lua_tostring(L, -1);
        lua_pop(L, 1);
        lua_pushlstring(L, m.data(), m.size());
        return kRaise;
      }
      const std::string file = candidate.string();
      lua_pushlstring(L, file.data(), file.size());
      return 2;
    }
  }
  lua_pushlstring(L, tried.data(), tried.size());
  return 1;
}

// package.searchers[2]: Lua files under the configured module paths only.
int dialplan_searcher(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  const int n = searcher_impl(L, name);
  if (n == kRaise) return lua_error(L);
  return n;
}

int open_sandbox(lua_State* L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 1);
  luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);  // not global: only three functions are kept
  lua_settop(L, 0);

  // os: time, clock and date only (no execute, exit, getenv, remove, rename, tmpname).
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, LUA_OSLIBNAME);
  lua_createtable(L, 0, 3);
  for (const char* f : {"time", "clock", "date"}) {
    lua_getfield(L, -2, f);
    lua_setfield(L, -2, f);
  }
  lua_pushvalue(L, -1);
  lua_setglobal(L, LUA_OSLIBNAME);
  lua_setfield(L, -3, LUA_OSLIBNAME);
  lua_settop(L, 0);

  // Base: no file access; print goes to the log; load takes text only.
  for (const char* f : {"dofile", "loadfile"}) {
    lua_pushnil(L);
    lua_setglobal(L, f);
  }
  lua_register(L, "print", print_to_log);
  lua_getglobal(L, "load");
  lua_pushcclosure(L, load_text_only, 1);
  lua_setglobal(L, "load");

  // package: require searches the preload table, then the module paths.
  Worker* w = Worker::of(L);
  std::string path;
  for (const auto& dir : w->host().cfg.module_paths) {
    if (!path.empty()) path += ';';
    path += (dir / "?.lua").string() + ";" + (dir / "?" / "init.lua").string();
  }
  lua_getglobal(L, LUA_LOADLIBNAME);
  lua_pushlstring(L, path.data(), path.size());
  lua_setfield(L, -2, "path");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "cpath");
  for (const char* f : {"loadlib", "searchpath"}) {
    lua_pushnil(L);
    lua_setfield(L, -2, f);
  }
  lua_getfield(L, -1, "searchers");
  lua_createtable(L, 2, 0);
  lua_rawgeti(L, -2, 1);  // the preload searcher
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, -3);
  lua_pushcclosure(L, dialplan_searcher, 1);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, -3, "searchers");
  lua_settop(L, 0);
  return 0;
}

std::string level_names() { return "trace, debug, info, warn or error"; }

}  // namespace

// ---- Worker ---------------------------------------------------------------

Status Worker::build() {
  L_ = lua_newstate(limited_alloc, this);
  if (L_ == nullptr) return Error::internal("lua: cannot create a Lua state (out of memory)");
  *static_cast<CallContext**>(lua_getextraspace(L_)) = nullptr;
  // Threads created later copy the hook of the main thread.
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookStep);
  std::string error;
  if (run_protected(L_, open_sandbox, error) < 0) {
    return Error::internal("lua: cannot prepare the dialplan sandbox: " + error);
  }
  install(host_.exports_snapshot(nullptr));
  return load_script();
}

Status Worker::load_script() {
  const auto& script = host_.cfg.script;
  const auto text = read_script(script);
  if (!text) {
    return Error::not_found("lua: cannot read dialplan " + script.string() +
                            " (check the path and its permissions)");
  }
  const std::string chunk = "@" + script.filename().string();
  executed = 0;
  if (luaL_loadbufferx(L_, text->data(), text->size(), chunk.c_str(), "t") != LUA_OK ||
      lua_pcall(L_, 0, 0, 0) != LUA_OK) {
    const char* m = lua_tostring(L_, -1);
    std::string msg = m ? m : "error object is not a string";
    lua_settop(L_, 0);
    return Error::invalid("lua: dialplan " + script.string() + " refused: " + msg);
  }
  return {};
}

void Worker::install(const std::vector<Export*>& exports) {
  std::string error;
  const int r = run_protected(
      L_,
      [&](lua_State* L) {
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        for (Export* ex : exports) {
          if (lua_getglobal(L, ex->module.c_str()) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setglobal(L, ex->module.c_str());
          }
          lua_pushlightuserdata(L, ex);
          lua_pushcclosure(L, host_function, 1);
          lua_setfield(L, -2, ex->spec.name.c_str());
          lua_setfield(L, -2, ex->module.c_str());  // require "<module>" works too
        }
        lua_pop(L, 1);
        return 0;
      },
      error);
  if (r < 0) host_.log.error("lua: cannot install exported functions: " + error);
}

void Worker::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lk(mu_);
      idle_ = true;
      cv_.wait(lk, [&] { return stopping_ || !tasks_.empty() || (retired_ && in_flight.load() == 0); });
      idle_ = false;
      if (stopping_ || tasks_.empty()) break;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    dropped.swap(tasks_);
  }
  dropped.clear();  // outside the lock: dropped calls answer their callers
  auto pending = std::move(calls_);
  calls_.clear();
  for (auto& [id, c] : pending) {
    try {
      c->done(Error::unavailable("lua: dialplan stopped before call " + c->function + " finished"));
    } catch (...) {
    }
  }
  lua_close(L_);
  L_ = nullptr;
  finished_ = true;
}

void Worker::begin_call(std::string function, LuaValues args, Done done) {
  auto owned = std::make_unique<CallContext>();
  CallContext* c = owned.get();
  c->id = host_.next_call_id++;
  c->function = std::move(function);
  c->done = std::move(done);
  calls_.emplace(c->id, std::move(owned));

  bool missing = false;
  std::string error;
  executed = 0;
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookStep);  // undo a trip in the main thread
  const int r = run_protected(
      L_,
      [&](lua_State* L) {
        c->co = lua_newthread(L);
        lua_sethook(c->co, count_hook, LUA_MASKCOUNT, kHookStep);
        c->ref = luaL_ref(L, LUA_REGISTRYINDEX);  // keeps the coroutine alive while it runs
        *static_cast<CallContext**>(lua_getextraspace(c->co)) = c;
        if (lua_getglobal(L, c->function.c_str()) != LUA_TFUNCTION) {
          missing = true;
          return 0;
        }
        if (!push_lua_values(L, args, error)) luaL_error(L, "argument %s", error.c_str());
        if (!lua_checkstack(c->co, static_cast<int>(args.size()) + 1)) luaL_error(L, "stack overflow");
        lua_xmove(L, c->co, static_cast<int>(args.size()) + 1);
        return 0;
      },
      error);
  if (r < 0) {
    host_.log.error("lua: cannot start " + c->function + ": " + error);
    finish(c, Error::invalid("lua: cannot start " + c->function + ": " + error));
    return;
  }
  if (missing) {
    const std::string msg = "lua: " + host_.cfg.script.filename().string() +
                            " defines no function " + c->function + " (define it as a global function)";
    host_.log.error(msg);
    finish(c, Error::not_found(msg));
    return;
  }
  drive(c, static_cast<int>(args.size()));
}

void Worker::resume_call(std::uint64_t id, Result<LuaValues> result) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  CallContext* c = it->second.get();
  std::string error;
  const int n = run_protected(
      L_,
      [&](lua_State* L) {
        if (result.ok()) {
          lua_pushboolean(L, 1);
          std::string e;
          if (!push_lua_values(L, *result, e)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 0);
            const std::string m = c->awaiting_name + " resumed with a value Lua cannot take: " + e;
            lua_pushlstring(L, m.data(), m.size());
          }
        } else {
          lua_pushboolean(L, 0);
          const std::string m = c->awaiting_name + ": " + result.error().message;
          lua_pushlstring(L, m.data(), m.size());
        }
        return lua_gettop(L);
      },
      error);
  if (n < 0 || !lua_checkstack(c->co, n)) {
    if (n >= 0) lua_pop(L_, n);
    finish(c, Error::internal("lua: cannot resume " + c->function + ": " + error));
    return;
  }
  lua_xmove(L_, c->co, n);
  drive(c, n);
}

std::string Worker::describe_failure(lua_State* co, std::string* trace) {
  std::string msg;
  if (const char* m = lua_tostring(co, -1)) {
    msg = m;
  } else {
    msg = std::string("error object is a ") + luaL_typename(co, -1) + " value";
  }
  lua_Debug ar;
  for (int level = 0; lua_getstack(co, level, &ar) != 0 && level < 12; ++level) {
    if (lua_getinfo(co, "Sl", &ar) == 0 || ar.currentline <= 0) continue;
    if (!trace->empty()) *trace += " <- ";
    *trace += std::string(ar.short_src) + ":" + std::to_string(ar.currentline);
  }
  return msg;
}

void Worker::drive(CallContext* c, int nargs) {
  c->awaiting = false;
  executed = 0;
  int nres = 0;
  const int status = lua_resume(c->co, L_, nargs, &nres);
  if (status == LUA_YIELD) {
    lua_pop(c->co, nres);
    if (!c->awaiting) {
      const std::string msg = "lua: " + c->function +
                              " called coroutine.yield() outside a coroutine it created";
      host_.log.error(msg);
      finish(c, Error::invalid(msg));
      return;
    }
    // Declared first, so released last: `start` is the owner's code too.
    const auto owner_fn = std::move(c->pending_owner);
    c->pending_owner = nullptr;
    auto start = std::move(c->pending_start);
    c->pending_start = nullptr;
    auto once = std::make_shared<std::atomic<bool>>(false);
    sdk::LuaResume resume = [self = shared_from_this(), id = c->id, once](Result<LuaValues> r) {
      if (once->exchange(true)) return;
      self->post([self, id, r = std::move(r)]() mutable { self->resume_call(id, std::move(r)); });
    };
    try {
      start(resume);
    } catch (const std::exception& e) {
      resume(Error::internal(std::string("failed to start: ") + e.what()));
    } catch (...) {
      resume(Error::internal("failed to start"));
    }
    return;
  }
  if (status == LUA_OK) {
    LuaValues values;
    std::string error;
    const int top = lua_gettop(c->co);
    const bool ok = read_lua_values(c->co, top - nres + 1, top, values, error);
    lua_pop(c->co, nres);
    if (!ok) {
      const std::string msg = "lua: " + c->function + " returned " + error;
      host_.log.error(msg);
      finish(c, Error::invalid(msg));
      return;
    }
    finish(c, std::move(values));
    return;
  }
  std::string trace;
  const std::string msg = describe_failure(c->co, &trace);
  host_.log.error("lua: call " + c->function + " failed: " + msg +
                  (trace.empty() ? "" : " (at " + trace + ")"));
  finish(c, Error::invalid(msg));
}

void Worker::finish(CallContext* c, Result<LuaValues> result) {
  auto it = calls_.find(c->id);
  std::unique_ptr<CallContext> owned = std::move(it->second);
  calls_.erase(it);
  if (owned->co != nullptr && lua_status(owned->co) != LUA_OK && lua_status(owned->co) != LUA_YIELD) {
    lua_resetthread(owned->co);  // closes pending to-be-closed variables of a failed call
  }
  if (owned->ref != LUA_NOREF) luaL_unref(L_, LUA_REGISTRYINDEX, owned->ref);
  --in_flight;
  try {
    owned->done(std::move(result));
  } catch (...) {
    host_.log.error("lua: the completion handler of " + owned->function + " threw; ignored");
  }
}

// ---- Impl -----------------------------------------------------------------

std::vector<Export*> LuaHostImpl::Impl::exports_locked() const {
  std::vector<Export*> out;
  for (const auto& m : module_order) {
    const auto& fns = modules.at(m);
    out.insert(out.end(), fns.begin(), fns.end());
  }
  return out;
}

std::vector<Export*> LuaHostImpl::Impl::exports_snapshot(std::uint64_t* version) const {
  std::lock_guard lk(mu);
  if (version != nullptr) *version = exports_version;
  return exports_locked();
}

Status LuaHostImpl::Impl::build(std::vector<std::shared_ptr<Worker>>& out, std::uint64_t gen,
                                std::uint64_t* version) {
  if (cfg.script.empty()) return Error::invalid("lua: no dialplan script configured (set the script path)");
  exports_snapshot(version);
  for (std::size_t i = 0; i < cfg.states; ++i) {
    auto w = std::make_shared<Worker>(*this, gen, i);
    if (auto st = w->build(); !st) return st;
    out.push_back(std::move(w));
  }
  return {};
}

void LuaHostImpl::Impl::reap_locked() {
  for (auto it = retired.begin(); it != retired.end();) {
    if ((*it)->finished()) {
      (*it)->stop_and_join();
      it = retired.erase(it);
    } else {
      ++it;
    }
  }
}

Status LuaHostImpl::Impl::add_exports(const std::string& owner, const std::string& module,
                                      std::vector<sdk::LuaFunctionSpec> functions) {
  // The declared arguments are data the host checks every call against: a
  // declaration it cannot read refuses the whole module.
  std::vector<std::vector<sdk::LuaParam>> params;
  for (const auto& spec : functions) {
    auto p = sdk::parse_lua_args(spec.args, module + "." + spec.name);
    if (!p) return Error::invalid("lua: " + p.error().message);
    params.push_back(std::move(*p));
  }
  std::vector<Export*> added;
  std::vector<std::shared_ptr<Worker>> targets;
  {
    std::lock_guard lk(mu);
    if (!modules.count(module)) {
      module_order.push_back(module);
      modules[module];
    }
    auto& list = modules[module];
    for (std::size_t i = 0; i < functions.size(); ++i) {
      auto& spec = functions[i];
      auto ex = std::make_unique<Export>();
      ex->params = std::move(params[i]);
      ex->module = module;
      ex->qualified = module + "." + spec.name;
      ex->owner = owner;
      ex->set(std::move(spec.fn));
      spec.fn = nullptr;
      ex->spec = std::move(spec);
      Export* raw = ex.get();
      all_exports.push_back(std::move(ex));
      auto same = std::find_if(list.begin(), list.end(),
                               [&](Export* e) { return e->spec.name == raw->spec.name; });
      if (same != list.end()) {
        *same = raw;
      } else {
        list.push_back(raw);
      }
      added.push_back(raw);
    }
    ++exports_version;
    targets = workers;
  }
  for (auto& w : targets) {
    w->post([w, added] { w->install(added); });
  }
  return {};
}

void LuaHostImpl::Impl::register_builtins() {
  std::vector<sdk::LuaFunctionSpec> specs;
  specs.push_back({"log", "level: string, message?: string|number", "nothing",
                   "Writes one line to the kernel log. `level` is one of trace, debug, info, "
                   "warn, error.",
                   [this](const LuaValues& args) -> sdk::LuaReply {
                     const std::string* level = args.size() > 0 ? args[0].as_string() : nullptr;
                     if (level == nullptr) {
                       return sdk::LuaReply::error("level must be a string: " + level_names());
                     }
                     sdk::LogLevel lv;
                     if (*level == "trace") lv = sdk::LogLevel::trace;
                     else if (*level == "debug") lv = sdk::LogLevel::debug;
                     else if (*level == "info") lv = sdk::LogLevel::info;
                     else if (*level == "warn") lv = sdk::LogLevel::warn;
                     else if (*level == "error") lv = sdk::LogLevel::error;
                     else return sdk::LuaReply::error("unknown level '" + *level + "' (use " + level_names() + ")");
                     std::string text;
                     if (args.size() > 1) {
                       const auto& m = args[1];
                       if (auto* s = m.as_string()) text = *s;
                       else if (auto* d = std::get_if<double>(&m.v)) text = std::to_string(*d);
                       else if (auto i = m.as_int()) text = std::to_string(*i);
                       else return sdk::LuaReply::error("message must be a string or a number");
                     }
                     log.log(lv, "dialplan: " + text);
                     return sdk::LuaReply::values({});
                   }});
  specs.push_back({"sleep", "ms: integer", "nothing",
                   "Suspends the current call for `ms` milliseconds (0 to 86400000); other calls "
                   "keep running meanwhile.",
                   [this](const LuaValues& args) -> sdk::LuaReply {
                     auto ms = args.empty() ? std::nullopt : args[0].as_int();
                     if (!ms || *ms < 0 || *ms > kMaxSleepMs) {
                       return sdk::LuaReply::error("ms must be an integer from 0 to " +
                                                   std::to_string(kMaxSleepMs));
                     }
                     const auto delay = std::chrono::milliseconds(*ms);
                     TimerThread* t = timer.get();
                     return sdk::LuaReply::async([t, delay](sdk::LuaResume resume) {
                       t->after(delay, [resume] { resume(LuaValues{}); });
                     });
                   }});
  specs.push_back({"now", "", "ms: integer",
                   "Wall-clock time in milliseconds since the Unix epoch.",
                   [this](const LuaValues&) -> sdk::LuaReply {
                     const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         (cfg.clock ? cfg.clock() : std::chrono::system_clock::now()).time_since_epoch());
                     return sdk::LuaReply::values({LuaValue(static_cast<std::int64_t>(now.count()))});
                   }});
  (void)add_exports("", kBuiltinModule, std::move(specs));
}

// ---- LuaHostImpl ----------------------------------------------------------

LuaHostImpl::LuaHostImpl(LuaConfig config, sdk::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(config), log)) {
  impl_->timer = std::make_unique<TimerThread>();
  impl_->register_builtins();
}

LuaHostImpl::~LuaHostImpl() {
  stop();
  impl_->timer->stop();
}

const std::vector<std::filesystem::path>& LuaHostImpl::module_paths() const {
  return impl_->cfg.module_paths;
}

Status LuaHostImpl::start() {
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->running) return Error::conflict("lua: the dialplan host is already running");
  }
  return reload();
}

void LuaHostImpl::stop() {
  std::vector<std::shared_ptr<Worker>> all;
  {
    std::lock_guard lk(impl_->mu);
    impl_->running = false;
    all = std::move(impl_->workers);
    all.insert(all.end(), impl_->retired.begin(), impl_->retired.end());
    impl_->workers.clear();
    impl_->retired.clear();
  }
  for (auto& w : all) w->stop_and_join();
}

Status LuaHostImpl::reload() {
  std::lock_guard build_lock(impl_->reload_mu);
  std::uint64_t gen = 0;
  {
    std::lock_guard lk(impl_->mu);
    gen = ++impl_->generation;
  }
  std::vector<std::shared_ptr<Worker>> fresh;
  std::uint64_t version = 0;
  if (auto st = impl_->build(fresh, gen, &version); !st) {
    impl_->log.error(st.error().message + "; the running dialplan stays");
    return st;
  }
  {
    std::lock_guard lk(impl_->mu);
    // A module exported while the states were compiling is installed before
    // they take calls; exports after this point reach them by post.
    if (impl_->exports_version != version) {
      const auto all = impl_->exports_locked();
      for (auto& w : fresh) w->install(all);
    }
    for (auto& w : fresh) w->launch();
    for (auto& w : impl_->workers) {
      w->retire();  // finishes its in-flight calls, then its thread ends
      impl_->retired.push_back(w);
    }
    impl_->workers = std::move(fresh);
    impl_->running = true;
    impl_->reap_locked();
  }
  impl_->log.info("lua: dialplan " + impl_->cfg.script.string() + " loaded in " +
                  std::to_string(impl_->cfg.states) + " states");
  return {};
}

bool LuaHostImpl::running() const {
  std::lock_guard lk(impl_->mu);
  return impl_->running;
}

Status LuaHostImpl::export_module(std::string module, std::vector<sdk::LuaFunctionSpec> functions) {
  return export_module_as("", std::move(module), std::move(functions));
}

Status LuaHostImpl::export_module_as(std::string owner, std::string module,
                                     std::vector<sdk::LuaFunctionSpec> functions) {
  if (!valid_identifier(module) || is_reserved_global(module)) {
    return Error::invalid("lua: module name '" + module +
                          "' is not a free Lua identifier (letters, digits, _; not a standard library)");
  }
  if (module == kBuiltinModule) {
    return Error::conflict("lua: module 'dialtone' is reserved for the host's own functions");
  }
  for (const auto& f : functions) {
    if (!valid_identifier(f.name)) {
      return Error::invalid("lua: function name '" + module + "." + f.name +
                            "' is not a Lua identifier (letters, digits, _)");
    }
    if (!f.fn) return Error::invalid("lua: function " + module + "." + f.name + " has no implementation");
  }
  return impl_->add_exports(owner, module, std::move(functions));
}

std::size_t LuaHostImpl::withdraw(std::string_view owner, std::string_view reason) {
  if (owner.empty()) return 0;
  std::vector<std::weak_ptr<const sdk::LuaFunction>> running;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& ex : impl_->all_exports) {
      if (ex->owner != owner) continue;
      auto last = ex->withdraw(std::string(reason));
      if (!last.expired()) running.push_back(std::move(last));
    }
    ++impl_->exports_version;
  }
  // Host functions never block, so calls still inside one end quickly; the
  // owner's code must not be torn down under them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& w : running) {
    while (!w.expired() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!w.expired()) {
      impl_->log.error("lua: a function of " + std::string(owner) +
                       " is still running 10 s after it was withdrawn (a host function that blocks?)");
      break;
    }
  }
  return running.size();
}

void LuaHostImpl::call(std::string function, LuaValues args, Done done) {
  std::shared_ptr<Worker> w;
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->workers.empty()) {
      const std::size_t n = impl_->workers.size();
      const std::size_t first = impl_->round_robin++ % n;
      for (std::size_t k = 0; k < n; ++k) {
        auto& cand = impl_->workers[(first + k) % n];
        if (!w || cand->in_flight.load() < w->in_flight.load()) w = cand;
      }
      ++w->in_flight;
    }
    if (!impl_->retired.empty()) impl_->reap_locked();
  }
  if (!w) {
    done(Error::unavailable("lua: the dialplan is not running (start() it first)"));
    return;
  }
  // If the task is dropped unrun (the state stopped first), the guard still
  // answers the caller.
  auto guard = std::make_shared<PendingCall>(std::move(done));
  const bool posted = w->post([w, function = std::move(function), args = std::move(args), guard]() mutable {
    w->begin_call(std::move(function), std::move(args), std::move(guard->done));
    guard->done = nullptr;
  });
  if (!posted) --w->in_flight;
}

std::string LuaHostImpl::reference_markdown() const {
  std::vector<std::string> order;
  std::map<std::string, std::vector<Export*>> modules;
  {
    std::lock_guard lk(impl_->mu);
    order = impl_->module_order;
    modules = impl_->modules;
  }
  std::string out;
  for (const auto& m : order) {
    std::vector<sdk::LuaFunctionSpec> live;  // withdrawn functions are not documented
    for (Export* ex : modules[m])
      if (ex->current(nullptr)) live.push_back(ex->spec);
    if (live.empty()) continue;
    if (!out.empty()) out += "\n";
    out += sdk::lua_reference_markdown(m, live);
  }
  return out;
}

}  // namespace dialtone::kernel
