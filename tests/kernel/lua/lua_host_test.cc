#include "kernel/lua/lua_host.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace dialtone::kernel {
namespace {

using sdk::LuaReply;
using sdk::LuaResume;
using sdk::LuaTable;
using sdk::LuaValue;
using sdk::LuaValues;
using sdk::Result;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CaptureLogger final : public sdk::Logger {
 public:
  void log(sdk::LogLevel level, std::string_view m) override {
    std::lock_guard lk(mu_);
    lines_.emplace_back(m);
  }
  bool enabled(sdk::LogLevel) const override { return true; }
  std::vector<std::string> lines() {
    std::lock_guard lk(mu_);
    return lines_;
  }
  std::size_t count_containing(const std::string& s) {
    std::size_t n = 0;
    for (const auto& l : lines()) n += l.find(s) != std::string::npos;
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("dialtone-lua-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_ / "lib");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Result<LuaValues> call_sync(LuaHostImpl& host, const std::string& fn, LuaValues args = {}) {
  auto p = std::make_shared<std::promise<Result<LuaValues>>>();
  auto f = p->get_future();
  host.call(fn, std::move(args), [p](Result<LuaValues> r) { p->set_value(std::move(r)); });
  if (f.wait_for(30s) != std::future_status::ready) return sdk::Error::timeout("call " + fn + " never completed");
  return f.get();
}

struct Fixture : ::testing::Test {
  TempDir dir;
  CaptureLogger log;
  std::unique_ptr<LuaHostImpl> host;
  std::promise<void> entered_;

  // Exports test.entered(), which a script calls just before it suspends:
  // the future is ready once the call is in flight.
  std::future<void> export_entered() {
    EXPECT_TRUE(host->export_module("test", {{"entered", "", "", "The call is in flight.", [this](const LuaValues&) {
                                                entered_.set_value();
                                                return LuaReply::values({});
                                              }}})
                    .ok());
    return entered_.get_future();
  }

  void start(const std::string& script, std::size_t states = 2) {
    dir.write("extensions.lua", script);
    LuaConfig cfg;
    cfg.script = dir.path() / "extensions.lua";
    cfg.states = states;
    host = std::make_unique<LuaHostImpl>(cfg, log);
  }
  void start_ok(const std::string& script, std::size_t states = 2) {
    start(script, states);
    auto st = host->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
};

TEST_F(Fixture, ReturnsEveryValueTypeAndTakesArguments) {
  start_ok(R"(
function values(t)
  return nil, true, 42, 2.5, "text", { "a", "b", name = "alice", nested = { 7 } }, t.x + 1
end
)");
  auto arg = std::make_shared<LuaTable>();
  arg->fields["x"] = LuaValue(41);
  auto r = call_sync(*host, "values", {LuaValue(arg)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& v = *r;
  ASSERT_EQ(v.size(), 7u);
  EXPECT_TRUE(v[0].is_nil());
  EXPECT_EQ(std::get<bool>(v[1].v), true);
  EXPECT_EQ(std::get<std::int64_t>(v[2].v), 42);
  EXPECT_DOUBLE_EQ(std::get<double>(v[3].v), 2.5);
  EXPECT_EQ(*v[4].as_string(), "text");
  const LuaTable* t = v[5].as_table();
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->array.size(), 2u);
  EXPECT_EQ(*t->array[1].as_string(), "b");
  EXPECT_EQ(*t->fields.at("name").as_string(), "alice");
  EXPECT_EQ(*t->fields.at("nested").as_table()->array[0].as_int(), 7);
  EXPECT_EQ(*v[6].as_int(), 42);
}

TEST_F(Fixture, SelfReferencingTableFailsOnlyThatCall) {
  start_ok(R"(
function cyclic() local t = {} t.self = t return t end
function fine() return "ok" end
)");
  auto r = call_sync(*host, "cyclic");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("deeper than"), std::string::npos) << r.error().message;
  auto ok = call_sync(*host, "fine");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*(*ok)[0].as_string(), "ok");
}

TEST_F(Fixture, HostFunctionSyncAndAsync) {
  start(R"(
function route(n)
  local name = dir.lookup_sync(n)
  local later = dir.lookup_async(n)
  return name, later
end
function failing() return dir.refuse() end
)");
  std::thread::id lua_thread;
  std::vector<std::thread> workers;
  std::mutex mu;
  ASSERT_TRUE(host->export_module("dir", {
      {"lookup_sync", "number: string", "name: string", "Sync lookup.",
       [](const LuaValues& a) { return LuaReply::values({LuaValue("sync-" + *a[0].as_string())}); }},
      {"lookup_async", "number: string", "name: string", "Async lookup.",
       [&](const LuaValues& a) {
         std::string n = *a[0].as_string();
         return LuaReply::async([&, n](LuaResume resume) {
           std::lock_guard lk(mu);
           workers.emplace_back([resume, n] {
             std::this_thread::sleep_for(20ms);
             resume(LuaValues{LuaValue("async-" + n)});
           });
         });
       }},
      {"refuse", "", "", "Fails.", [](const LuaValues&) { return LuaReply::error("no directory configured"); }},
  }).ok());
  ASSERT_TRUE(host->start().ok());
  auto r = call_sync(*host, "route", {LuaValue("1001")});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*(*r)[0].as_string(), "sync-1001");
  EXPECT_EQ(*(*r)[1].as_string(), "async-1001");
  auto f = call_sync(*host, "failing");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("extensions.lua:7:"), std::string::npos) << f.error().message;
  EXPECT_NE(f.error().message.find("dir.refuse: no directory configured"), std::string::npos);
  std::lock_guard lk(mu);
  for (auto& t : workers) t.join();
}

// Each call sleeps on a timer, not on a Lua thread: with two states a blocking
// sleep would need 50 s and miss the deadline. The wall time is measured by
// bench/lua (lua_bench), not asserted here.
TEST_F(Fixture, ThousandSleepingCallsAllFinish) {
  start_ok(R"(
function wait(i) dialtone.sleep(100) return i end
)");
  constexpr int kCalls = 1000;
  std::atomic<int> ok{0}, failed{0};
  std::promise<void> all;
  std::atomic<int> left{kCalls};
  for (int i = 0; i < kCalls; ++i) {
    host->call("wait", {LuaValue(i)}, [&, i](Result<LuaValues> r) {
      if (r.ok() && (*r)[0].as_int() == i) ++ok; else ++failed;
      if (--left == 0) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ(ok.load(), kCalls);
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(Fixture, ScriptErrorFailsOnlyThatCallWithFileAndLine) {
  start_ok(R"(
local function helper(x)
  return x.missing.field
end
function broken() return helper({}) end
function raises() error("no route for this number") end
function calls_nothing() return not_defined_anywhere() end
function fine(a) return a * 2 end
)");
  std::promise<Result<LuaValues>> bad_p, good_p;
  host->call("broken", {}, [&](Result<LuaValues> r) { bad_p.set_value(std::move(r)); });
  host->call("fine", {LuaValue(21)}, [&](Result<LuaValues> r) { good_p.set_value(std::move(r)); });
  auto bad = bad_p.get_future().get();
  auto good = good_p.get_future().get();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("extensions.lua:3:"), std::string::npos) << bad.error().message;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*(*good)[0].as_int(), 42);

  auto e = call_sync(*host, "raises");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("extensions.lua:6: no route for this number"), std::string::npos)
      << e.error().message;
  auto n = call_sync(*host, "calls_nothing");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("extensions.lua:7:"), std::string::npos) << n.error().message;
  EXPECT_NE(n.error().message.find("not_defined_anywhere"), std::string::npos);
  auto missing = call_sync(*host, "no_such_entry_point");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, sdk::ErrorCode::not_found);
  EXPECT_NE(missing.error().message.find("extensions.lua defines no function no_such_entry_point"),
            std::string::npos);
  // One log line per failed call.
  EXPECT_EQ(log.count_containing("call broken failed"), 1u);
  EXPECT_EQ(log.count_containing("call raises failed"), 1u);
}

TEST_F(Fixture, AsyncErrorIsCatchableWithPcall) {
  start(R"(
function guarded()
  local ok, err = pcall(function() return slow.fail() end)
  return ok, err, "still running"
end
function unguarded() slow.fail() return "unreachable" end
)");
  std::thread resumer;
  std::mutex mu;
  std::vector<std::thread> threads;
  ASSERT_TRUE(host->export_module("slow", {{"fail", "", "", "Fails asynchronously.", [&](const LuaValues&) {
                                              return LuaReply::async([&](LuaResume resume) {
                                                std::lock_guard lk(mu);
                                                threads.emplace_back([resume] {
                                                  resume(sdk::Error::unavailable("directory timed out"));
                                                });
                                              });
                                            }}}).ok());
  ASSERT_TRUE(host->start().ok());
  auto r = call_sync(*host, "guarded");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<bool>((*r)[0].v), false);
  EXPECT_NE((*r)[1].as_string()->find("slow.fail: directory timed out"), std::string::npos) << *(*r)[1].as_string();
  EXPECT_NE((*r)[1].as_string()->find("extensions.lua:3:"), std::string::npos) << *(*r)[1].as_string();
  EXPECT_EQ(*(*r)[2].as_string(), "still running");
  auto u = call_sync(*host, "unguarded");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("extensions.lua:6: slow.fail: directory timed out"), std::string::npos)
      << u.error().message;
  std::lock_guard lk(mu);
  for (auto& t : threads) t.join();
}

TEST_F(Fixture, RunawayLoopIsAbortedAndStateKeepsServing) {
  start_ok(R"(
function spin() while true do end end
function spin_in_pcall() while true do pcall(function() while true do end end) end end
function answer() return 42 end
)", 1);
  auto r = call_sync(*host, "spin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("instruction budget exceeded"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("extensions.lua:2:"), std::string::npos) << r.error().message;
  auto p = call_sync(*host, "spin_in_pcall");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("instruction budget exceeded"), std::string::npos) << p.error().message;
  auto a = call_sync(*host, "answer");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(*(*a)[0].as_int(), 42);
}

TEST_F(Fixture, MemoryHogFailsOnlyItsCall) {
  dir.write("extensions.lua", R"(
function hog() local t = {} for i = 1, 1e8 do t[i] = string.rep("x", 1000) .. i end end
function answer() return 7 end
)");
  LuaConfig cfg;
  cfg.script = dir.path() / "extensions.lua";
  cfg.states = 1;
  cfg.memory_limit = 16u << 20;
  cfg.instruction_budget = 0;  // only the memory limit stops this one
  host = std::make_unique<LuaHostImpl>(cfg, log);
  ASSERT_TRUE(host->start().ok());
  auto r = call_sync(*host, "hog");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not enough memory"), std::string::npos) << r.error().message;
  auto a = call_sync(*host, "answer");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(*(*a)[0].as_int(), 7);
}

TEST_F(Fixture, ReloadWithSyntaxErrorIsRefusedAndOldScriptAnswers) {
  start_ok("function version() return 1 end\n");
  dir.write("extensions.lua", "function version()\n  return 2\nend end\n");
  auto st = host->reload();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("extensions.lua:3:"), std::string::npos) << st.error().message;
  auto r = call_sync(*host, "version");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*(*r)[0].as_int(), 1);

  dir.write("extensions.lua", "function version() return 1 end\nerror('missing setting')\n");
  st = host->reload();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("extensions.lua:2: missing setting"), std::string::npos) << st.error().message;
  EXPECT_EQ(*(*call_sync(*host, "version"))[0].as_int(), 1);
}

TEST_F(Fixture, ReloadSwitchesNewCallsAndInFlightCallCompletes) {
  start(R"(
function version() return 1 end
function slow() test.entered() dialtone.sleep(300) return "old finished" end
)");
  auto in_flight = export_entered();
  ASSERT_TRUE(host->start().ok());
  std::promise<Result<LuaValues>> slow_p;
  host->call("slow", {}, [&](Result<LuaValues> r) { slow_p.set_value(std::move(r)); });
  // Reload only once the call is in flight (about to sleep).
  ASSERT_EQ(in_flight.wait_for(30s), std::future_status::ready);
  dir.write("extensions.lua", "function version() return 2 end\n");
  auto st = host->reload();
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto v = call_sync(*host, "version");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*(*v)[0].as_int(), 2);
  auto old = slow_p.get_future().get();
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(*(*old)[0].as_string(), "old finished");
  auto gone = call_sync(*host, "slow");
  EXPECT_FALSE(gone.ok());
}

TEST_F(Fixture, ExportsReachStatesCreatedByReload) {
  start_ok("function f() return plug.value() end\n");
  ASSERT_TRUE(host->export_module("plug", {{"value", "", "n: integer", "A value.",
                                            [](const LuaValues&) { return LuaReply::values({LuaValue(5)}); }}}).ok());
  EXPECT_EQ(*(*call_sync(*host, "f"))[0].as_int(), 5);
  dir.write("extensions.lua", "function f() return plug.value() + 1 end\n");
  ASSERT_TRUE(host->reload().ok());
  auto r = call_sync(*host, "f");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*(*r)[0].as_int(), 6);
  EXPECT_FALSE(host->export_module("dialtone", {}).ok());
  EXPECT_FALSE(host->export_module("string", {}).ok());
}

TEST_F(Fixture, SandboxRemovesProcessAndFileAccess) {
  dir.write("lib/routing.lua", "local M = {} function M.prefix() return '0' end return M\n");
  start_ok(R"(
function probe()
  return io == nil, os.execute == nil, os.getenv == nil, debug == nil, loadfile == nil,
         dofile == nil, type(os.time()) == "number", package.loadlib == nil
end
function uses_lib() return require("routing").prefix() end
function escapes() return require("..etc.passwd") end
function binary_chunk() return load(string.dump(function() return 1 end)) end
)");
  auto r = call_sync(*host, "probe");
  ASSERT_TRUE(r.ok()) << r.error().message;
  for (std::size_t i = 0; i < r->size(); ++i) EXPECT_TRUE(std::get<bool>((*r)[i].v)) << "probe #" << i + 1;
  auto lib = call_sync(*host, "uses_lib");
  ASSERT_TRUE(lib.ok()) << lib.error().message;
  EXPECT_EQ(*(*lib)[0].as_string(), "0");
  EXPECT_FALSE(call_sync(*host, "escapes").ok());
  auto b = call_sync(*host, "binary_chunk");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE((*b)[0].is_nil());  // load refuses binary chunks
}

TEST_F(Fixture, ResumeFromForeignThreadAndSuspendOutsideCallRefused) {
  start(R"(
function ask() return remote.get() end
function nested() return coroutine.wrap(function() return remote.get() end)() end
)");
  std::promise<LuaResume> pending;
  ASSERT_TRUE(host->export_module("remote", {{"get", "", "v: string", "Waits for a foreign thread.", [&](const LuaValues&) {
                                                return LuaReply::async([&](LuaResume r) { pending.set_value(r); });
                                              }}}).ok());
  ASSERT_TRUE(host->start().ok());
  std::promise<Result<LuaValues>> done;
  host->call("ask", {}, [&](Result<LuaValues> r) { done.set_value(std::move(r)); });
  LuaResume resume = pending.get_future().get();
  std::thread foreign([resume] {
    resume(LuaValues{LuaValue("from another thread")});
    resume(LuaValues{LuaValue("second resume is ignored")});
  });
  foreign.join();
  auto r = done.get_future().get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*(*r)[0].as_string(), "from another thread");
  auto n = call_sync(*host, "nested");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("remote.get suspends the call"), std::string::npos) << n.error().message;
}

TEST_F(Fixture, StopFailsSuspendedCalls) {
  start("function wait() test.entered() dialtone.sleep(60000) end\n");
  auto in_flight = export_entered();
  ASSERT_TRUE(host->start().ok());
  std::promise<Result<LuaValues>> done;
  host->call("wait", {}, [&](Result<LuaValues> r) { done.set_value(std::move(r)); });
  ASSERT_EQ(in_flight.wait_for(30s), std::future_status::ready);
  host->stop();
  auto r = done.get_future().get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
  auto after = call_sync(*host, "wait");
  EXPECT_EQ(after.error().code, sdk::ErrorCode::unavailable);
}

TEST(LuaDialplan, ShippedExtensionsRouteAnInternalCall) {
  CaptureLogger log;
  LuaConfig cfg;
  cfg.script = fs::path(DIALTONE_SOURCE_DIR) / "lua-dialplan" / "extensions.lua";
  cfg.states = 1;
  LuaHostImpl host(cfg, log);
  // The functions api.confd and the call core export, answering as a store
  // with one user (extension 1002, line "bob") and a phone that answers.
  std::vector<std::string> dialed;
  ASSERT_TRUE(host.export_module("config", {
      {"user_by_exten", "...: any", "", "", [](const LuaValues& a) {
         if (a.empty() || !a[0].as_string() || *a[0].as_string() != "1002") return LuaReply(LuaValues{LuaValue()});
         auto u = std::make_shared<LuaTable>();
         auto lines = std::make_shared<LuaTable>();
         lines->array.push_back(LuaValue("bob"));
         u->fields["id"] = LuaValue(2);
         u->fields["lines"] = LuaValue(lines);
         u->fields["ring_seconds"] = LuaValue(30);
         u->fields["simultaneous_calls"] = LuaValue(5);
         u->fields["context"] = LuaValue("default");
         return LuaReply(LuaValues{LuaValue(u)});
       }},
      {"user", "...: any", "", "", [](const LuaValues&) { return LuaReply(LuaValues{LuaValue()}); }},
      {"group_by_exten", "...: any", "", "", [](const LuaValues&) { return LuaReply(LuaValues{LuaValue()}); }},
      {"conference_by_exten", "...: any", "", "", [](const LuaValues&) { return LuaReply(LuaValues{LuaValue()}); }},
      {"callfilter_of_boss", "...: any", "", "", [](const LuaValues&) { return LuaReply(LuaValues{LuaValue()}); }},
      {"callpermissions", "...: any", "", "", [](const LuaValues&) {
         return LuaReply(LuaValues{LuaValue(std::make_shared<LuaTable>())});
       }},
      {"outcalls", "...: any", "", "", [](const LuaValues&) {
         return LuaReply(LuaValues{LuaValue(std::make_shared<LuaTable>())});
       }}}).ok());
  ASSERT_TRUE(host.export_module("channel", {
      {"active_calls", "...: any", "", "", [](const LuaValues&) { return LuaReply(LuaValues{LuaValue(0)}); }},
      {"dial", "...: any", "", "", [&dialed](const LuaValues& a) {
         if (a.size() > 1 && a[1].as_table())
           for (auto& t : a[1].as_table()->array) dialed.push_back(*t.as_string());
         auto r = std::make_shared<LuaTable>();
         r->fields["status"] = LuaValue("answered");
         r->fields["code"] = LuaValue(200);
         return LuaReply(LuaValues{LuaValue(r)});
       }}}).ok());
  auto st = host.start();
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto call = std::make_shared<LuaTable>();
  call->fields["id"] = LuaValue("c1");
  call->fields["caller_number"] = LuaValue("1001");
  call->fields["called_number"] = LuaValue("1002");
  call->fields["context"] = LuaValue("default");
  auto r = call_sync(host, "route_call", {LuaValue(call)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const LuaTable* d = (*r)[0].as_table();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(*d->fields.at("action").as_string(), "done");
  EXPECT_EQ(dialed, std::vector<std::string>{"sip/bob"});

  auto unknown = std::make_shared<LuaTable>();
  unknown->fields["id"] = LuaValue("c3");
  unknown->fields["called_number"] = LuaValue("1999");
  unknown->fields["context"] = LuaValue("default");
  auto ru = call_sync(host, "route_call", {LuaValue(unknown)});
  ASSERT_TRUE(ru.ok()) << ru.error().message;
  EXPECT_EQ(*(*ru)[0].as_table()->fields.at("status").as_int(), 404);

  auto bad = std::make_shared<LuaTable>();
  bad->fields["id"] = LuaValue("c2");
  bad->fields["called_number"] = LuaValue("");
  auto rb = call_sync(host, "route_call", {LuaValue(bad)});
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  const LuaTable* rej = (*rb)[0].as_table();
  ASSERT_NE(rej, nullptr);
  EXPECT_EQ(*rej->fields.at("action").as_string(), "reject");
  EXPECT_EQ(*rej->fields.at("status").as_int(), 484);
}

TEST(LuaDialplan, DocsReferenceMatchesGenerator) {
  std::ifstream in(fs::path(DIALTONE_SOURCE_DIR) / "docs" / "lua-dialplan.md");
  ASSERT_TRUE(in) << "docs/lua-dialplan.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- BEGIN GENERATED -->\n", end = "<!-- END GENERATED -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  std::string section = doc.substr(b + begin.size(), e - b - begin.size());
  while (!section.empty() && section.back() == '\n') section.pop_back();
  // The generator's own output, as a user would paste it.
  std::string generated;
  FILE* gen = ::popen(DIALTONE_LUA_REFERENCE, "r");
  ASSERT_NE(gen, nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, gen)) > 0;) generated.append(buf, n);
  ASSERT_EQ(::pclose(gen), 0);
  ASSERT_FALSE(generated.empty());
  while (!generated.empty() && generated.back() == '\n') generated.pop_back();
  EXPECT_EQ(section, generated)
      << "docs/lua-dialplan.md is out of date: run build/bin/dialtone-lua-reference --update docs/lua-dialplan.md";
}

// The declared arguments are checked by the host before the function runs:
// a wrong type is a Lua error naming the function, the argument and the type.
TEST_F(Fixture, ArgumentsAreCheckedAgainstTheDeclaredTypes) {
  std::atomic<int> ran{0};
  start_ok(R"(
function call_with(kind)
  if kind == "ok" then return typed.greet("alice", 3, { loud = true }) end
  if kind == "float_integer" then return typed.greet("alice", 3.0) end
  if kind == "wrong_type" then return typed.greet("alice", "three") end
  if kind == "missing" then return typed.greet() end
  if kind == "fraction" then return typed.greet("alice", 2.5) end
  if kind == "too_many" then return typed.greet("alice", 1, {}, "extra") end
  if kind == "trailing_nil" then return typed.greet("alice", 1, nil, nil) end
  if kind == "variadic" then return typed.sum(1, 2, 3.5) end
  if kind == "variadic_bad" then return typed.sum(1, "2") end
end
)");
  ASSERT_TRUE(host->export_module("typed", {
      {"greet", "name: string, times: integer, opts?: table", "text: string", "Greets.",
       [&](const LuaValues& a) {
         ++ran;
         return LuaReply(LuaValues{LuaValue(*a[0].as_string() + " x" + std::to_string(*a[1].as_int()))});
       }},
      {"sum", "...: number", "total: number", "Adds.", [&](const LuaValues& a) {
         ++ran;
         double t = 0;
         for (auto& v : a) t += v.as_int() && !std::get_if<double>(&v.v) ? static_cast<double>(*v.as_int()) : std::get<double>(v.v);
         return LuaReply(LuaValues{LuaValue(t)});
       }}}).ok());
  auto ok = call_sync(*host, "call_with", {LuaValue("ok")});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*(*ok)[0].as_string(), "alice x3");
  ASSERT_TRUE(call_sync(*host, "call_with", {LuaValue("float_integer")}).ok());
  ASSERT_TRUE(call_sync(*host, "call_with", {LuaValue("trailing_nil")}).ok());
  ASSERT_TRUE(call_sync(*host, "call_with", {LuaValue("variadic")}).ok());
  EXPECT_EQ(ran.load(), 4);

  auto message = [&](const char* kind) {
    auto r = call_sync(*host, "call_with", {LuaValue(kind)});
    EXPECT_FALSE(r.ok()) << kind;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(message("wrong_type").find("typed.greet: argument 2 (times) must be an integer, got a string"),
            std::string::npos);
  EXPECT_NE(message("missing").find("typed.greet: argument 1 (name) must be a string, got no value"),
            std::string::npos);
  EXPECT_NE(message("fraction").find("typed.greet: argument 2 (times) must be an integer, got a number"),
            std::string::npos);
  EXPECT_NE(message("too_many").find("typed.greet: takes 3 arguments, got 4"), std::string::npos);
  EXPECT_NE(message("variadic_bad").find("typed.sum: argument 2 (...) must be a number, got a string"),
            std::string::npos);
  // The error points at the script line that made the call.
  EXPECT_NE(message("wrong_type").find("extensions.lua:5:"), std::string::npos);
  EXPECT_EQ(ran.load(), 4) << "a refused call reached the function";
}

TEST_F(Fixture, UnreadableArgumentDeclarationRefusesTheModule) {
  start_ok("function f() end");
  auto unknown = host->export_module("bad", {{"f", "x: strnig", "", "", [](const LuaValues&) { return LuaReply(); }}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "lua: bad.f: argument 'x' has unknown type 'strnig' (use nil, boolean, integer, number, string, "
            "table or any)");
  auto untyped = host->export_module("bad", {{"f", "x", "", "", [](const LuaValues&) { return LuaReply(); }}});
  ASSERT_FALSE(untyped.ok());
  EXPECT_NE(untyped.error().message.find("argument 'x' has no type"), std::string::npos);
  EXPECT_EQ(host->reference_markdown().find("bad.f"), std::string::npos);
}

}  // namespace
}  // namespace dialtone::kernel
