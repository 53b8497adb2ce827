#include <dialtone/testing/fake_host.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace sdk = dialtone::sdk;
using dialtone::testing::FakeHost;
using dialtone::testing::PluginHarness;
using namespace std::chrono_literals;

// A plugin that records what the harness called, in order.
class Recorder final : public sdk::Plugin {
 public:
  explicit Recorder(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& o) override {
    if (o.get("recorder.mode") == "fail") return sdk::Error::invalid("recorder.mode=fail");
    timeout_ms = o.get_duration("recorder.timeout").count();
    verbose = o.get_bool("recorder.verbose");
    host_.log().info("configure");
    return {};
  }
  sdk::Status start() override {
    if (timeout_ms == 999) throw std::runtime_error("start exploded");
    host_.log().info("start");
    sub_ = host_.bus().subscribe("config.#", [this](const sdk::Event& e) { seen.push_back(e.topic); });
    return {};
  }
  void stop() override {
    sub_.reset();
    host_.log().info("stop");
  }
  long long timeout_ms = 0;
  bool verbose = false;
  std::vector<std::string> seen;

 private:
  sdk::Host& host_;
  std::unique_ptr<sdk::Subscription> sub_;
};

constexpr sdk::OptionSpec kRecorderOptions[] = {
    {"recorder.mode", sdk::OptionType::choice, "normal", "mode", sdk::kNone, "normal|fail"},
    {"recorder.timeout", sdk::OptionType::duration, "1.5s", "timeout"},
    {"recorder.verbose", sdk::OptionType::boolean, "no", "verbose"},
    {"recorder.count", sdk::OptionType::integer, "1", "count", sdk::kNone, nullptr, 1, 10},
    {"source.*.uri", sdk::OptionType::string, nullptr, "per-source uri"},
    {}};

TEST(PluginHarness, DrivesTheLifecycleThroughTheShim) {
  FakeHost host("test.recorder");
  {
    PluginHarness<Recorder> h(host, kRecorderOptions);
    ASSERT_TRUE(h.run({{"recorder.verbose", "on"}, {"source.corp.uri", "ldap://127.0.0.1"}}));
    EXPECT_EQ(h.plugin()->timeout_ms, 1500);  // default normalized to ms
    EXPECT_TRUE(h.plugin()->verbose);
    host.bus().publish("config.user.created", "{}");
    EXPECT_EQ(h.plugin()->seen, std::vector<std::string>{"config.user.created"});
    EXPECT_FALSE(h.supports_reload());
    auto r = h.reload({});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, sdk::ErrorCode::unsupported);
  }  // the harness stops and destroys the plugin
  std::vector<std::string> msgs;
  for (auto& l : host.log().lines()) msgs.push_back(l.message);
  EXPECT_EQ(msgs, (std::vector<std::string>{"configure", "start", "stop"}));
  EXPECT_TRUE(host.bus().subscriptions().empty());
}

TEST(PluginHarness, ValidatesOptionsLikeTheKernel) {
  FakeHost host;
  auto expect_refused = [&](std::map<std::string, std::string> opts, std::string_view naming) {
    PluginHarness<Recorder> h(host, kRecorderOptions);
    auto s = h.run(opts);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, sdk::ErrorCode::invalid);
    EXPECT_NE(s.error().message.find(naming), std::string::npos) << s.error().message;
  };
  expect_refused({{"recorder.unknown", "1"}}, "recorder.unknown");
  expect_refused({{"recorder.count", "11"}}, "recorder.count");
  expect_refused({{"recorder.count", "two"}}, "recorder.count");
  expect_refused({{"recorder.timeout", "soon"}}, "recorder.timeout");
  expect_refused({{"recorder.mode", "other"}}, "expected one of normal, fail");
  expect_refused({{"recorder.mode", "fail"}}, "recorder.mode=fail");  // the plugin's own refusal
}

TEST(PluginHarness, ExceptionInStartBecomesAnError) {
  FakeHost host;
  PluginHarness<Recorder> h(host, kRecorderOptions);
  auto s = h.run({{"recorder.timeout", "999ms"}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, sdk::ErrorCode::internal);
  EXPECT_NE(s.error().message.find("start exploded"), std::string::npos);
  EXPECT_FALSE(h.started());
}

TEST(FakeBus, DeliversSynchronouslyOrDeferred) {
  FakeHost host;
  std::vector<std::string> got;
  auto sub = host.bus().subscribe("call.*.answered", [&](const sdk::Event& e) { got.push_back(e.body); });
  host.bus().publish("call.1.answered", "a");
  host.bus().publish("call.1.ringing", "b");
  EXPECT_EQ(got, std::vector<std::string>{"a"});
  host.bus().set_synchronous(false);
  host.bus().publish("call.2.answered", "c");
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(host.bus().deliver_pending(), 1u);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(host.bus().published().size(), 3u);
  EXPECT_EQ(host.bus().published("call.#.answered").size(), 2u);
  EXPECT_EQ(sub->delivered(), 2u);
}

TEST(FakeBus, UnsubscribeInsideHandlerAndThrowingHandler) {
  FakeHost host;
  std::unique_ptr<sdk::Subscription> sub;
  int calls = 0;
  sub = host.bus().subscribe("#", [&](const sdk::Event&) {
    ++calls;
    sub.reset();
  });
  auto thrower = host.bus().subscribe("x", [](const sdk::Event&) { throw std::runtime_error("bad body"); },
                                      {.name = "parser"});
  host.bus().publish("x", "");
  host.bus().publish("x", "");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(host.log().count(sdk::LogLevel::error), 2u);
  EXPECT_TRUE(host.log().contains("'parser'"));
  EXPECT_TRUE(host.log().contains("bad body"));
}

TEST(FakeExecutor, InlineDeferredAndVirtualTimers) {
  FakeHost host;
  auto& ex = host.executor();
  int n = 0;
  ex.post([&] { ++n; });
  EXPECT_EQ(n, 1);
  ex.set_inline(false);
  ex.post([&] { ++n; ex.post([&] { ++n; }); });
  EXPECT_EQ(n, 1);
  EXPECT_EQ(ex.run_pending(), 2u);
  EXPECT_EQ(n, 3);

  std::vector<int> order;
  ex.after(300ms, [&] { order.push_back(3); });
  auto cancelled = ex.after(200ms, [&] { order.push_back(2); });
  ex.after(100ms, [&] { order.push_back(1); });
  EXPECT_TRUE(ex.cancel(cancelled));
  EXPECT_EQ(ex.advance(150ms), 1u);
  EXPECT_EQ(order, std::vector<int>{1});
  ex.advance(1s);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_FALSE(ex.cancel(cancelled));
  EXPECT_EQ(ex.pending_timers(), 0u);
}

TEST(FakeHttp, MatchesParamsQueryAndMethods) {
  FakeHost host;
  auto* http = host.http();
  ASSERT_TRUE(http->mount("confd", {.method = "GET",
                                    .path = "/1.1/users/{id}/lines/{line}",
                                    .acl = "confd.users.{id}.lines.{line}.read",
                                    .handler = [](const sdk::HttpRequest& r) {
                                      return sdk::HttpResponse::json(
                                          200, r.params.at("id") + "/" + r.params.at("line") + "/" +
                                                   r.query.at("x") + "/" + r.header("x-trace") + "/" +
                                                   r.token->username);
                                    }}));
  auto dup = http->mount("confd", {.method = "GET", .path = "/1.1/users/{id}/lines/{line}"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, sdk::ErrorCode::conflict);

  auto r = http->call("GET", "/1.1/users/42/lines/7?x=a%20b", "", {{"X-Trace", "t1"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "42/7/a b/t1/tester");
  // Decoded as dialtoned decodes: + is a space in the query only.
  EXPECT_EQ(http->call("GET", "/1.1/users/4+2/lines/7?x=a+b", "", {{"X-Trace", "t1"}}).body, "4+2/7/a b/t1/tester");
  EXPECT_EQ(http->call("DELETE", "/1.1/users/42/lines/7").status, 405);
  EXPECT_EQ(http->call("GET", "/1.1/users/42").status, 404);
  EXPECT_EQ(http->required_acl("GET", "/1.1/users/42/lines/7"), "confd.users.42.lines.7.read");

  http->set_token(std::nullopt);
  EXPECT_EQ(http->call("GET", "/1.1/users/42/lines/7?x=1").status, 401);

  http->set_listeners({"auth"});
  EXPECT_FALSE(http->mount("confd", {.method = "GET", .path = "/other"}));
}

TEST(FakeHttp, ListRoutesGetParsedListQuery) {
  FakeHost host;
  ASSERT_TRUE(host.http()->mount("confd", {.method = "GET",
                                           .path = "/1.1/users",
                                           .sort_columns = {"firstname", "lastname"},
                                           .handler = [](const sdk::HttpRequest& r) {
                                             auto& l = *r.list;
                                             return sdk::HttpResponse::text(
                                                 200, l.order + (l.descending ? " desc " : " asc ") +
                                                          std::to_string(l.limit.value_or(-1)) + " " +
                                                          l.search + " " + l.filters.at("context"));
                                           }}));
  EXPECT_EQ(host.http()->call("GET", "/1.1/users?direction=desc&limit=5&search=bob&context=default").body,
            "firstname desc 5 bob default");
}

TEST(FakeLua, CallsExportedFunctionsIncludingAsyncOnes) {
  FakeHost host;
  host.executor().set_inline(false);
  auto& ex = host.executor();
  ASSERT_TRUE(host.lua()->export_module(
      "dird", {{"reverse", "number: string", "name: string|nil", "Caller-ID name.",
                [&ex](const sdk::LuaValues& args) {
                  std::string number = *args.at(0).as_string();
                  return sdk::LuaReply::async([&ex, number](sdk::LuaResume resume) {
                    ex.post([resume, number] {
                      resume(sdk::LuaValues{number == "1000" ? sdk::LuaValue("Alice") : sdk::LuaValue()});
                    });
                  });
                }},
               {"fail", "", "", "Always fails.",
                [](const sdk::LuaValues&) { return sdk::LuaReply::error("no such thing"); }}}));
  auto r = host.lua()->call_function("dird", "reverse", {"1000"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*(*r)[0].as_string(), "Alice");
  auto nil = host.lua()->call_function("dird", "reverse", {"2000"});
  ASSERT_TRUE(nil);
  EXPECT_TRUE((*nil)[0].is_nil());
  auto f = host.lua()->call_function("dird", "fail");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "no such thing");
  EXPECT_FALSE(host.lua()->call_function("dird", "nope"));
  EXPECT_FALSE(host.lua()->export_module("dird", {}));
  EXPECT_EQ(host.lua()->modules(), std::vector<std::string>{"dird"});
}

struct Greeter {
  static constexpr std::string_view kServiceName = "test.greeter";
  static constexpr int kServiceVersion = 2;
  std::string word;
};

TEST(FakeHost, ServicesStoreAndDataDir) {
  std::filesystem::path dir;
  {
    FakeHost host("test.services");
    EXPECT_EQ(host.plugin_id(), "test.services");
    EXPECT_EQ(host.store(), nullptr);
    auto& reg = host.services();
    ASSERT_TRUE(reg.provide<Greeter>("a", std::make_shared<Greeter>(Greeter{"hi"})));
    ASSERT_TRUE(reg.provide<Greeter>("b", std::make_shared<Greeter>(Greeter{"yo"})));
    EXPECT_FALSE(reg.provide<Greeter>("a", std::make_shared<Greeter>()));
    EXPECT_EQ(reg.find<Greeter>()->word, "hi");
    EXPECT_EQ(reg.find<Greeter>("b")->word, "yo");
    EXPECT_EQ(reg.all<Greeter>().size(), 2u);
    reg.withdraw<Greeter>("a");
    EXPECT_EQ(reg.find<Greeter>()->word, "yo");
    dir = host.data_dir();
    EXPECT_TRUE(std::filesystem::is_directory(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
