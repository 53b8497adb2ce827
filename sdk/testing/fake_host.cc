#include "dialtone/testing/fake_host.h"

#include <dialtone/lua_signature.h>
#include <dialtone/option_check.h>
#include <dialtone/text.h>
#include <dialtone/url.h>
#include <dialtone/topic.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <exception>

namespace dialtone::testing {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  sdk::text::split_into(s, sep, out);
  return out;
}

}  // namespace

bool topic_matches(std::string_view pattern, std::string_view topic) { return sdk::topic_matches(pattern, topic); }

// ---- FakeLogger

void FakeLogger::log(sdk::LogLevel level, std::string_view message) {
  std::lock_guard l(mutex_);
  if (level < level_ || level == sdk::LogLevel::off) return;
  lines_.push_back({level, std::string(message)});
}

bool FakeLogger::enabled(sdk::LogLevel level) const {
  std::lock_guard l(mutex_);
  return level != sdk::LogLevel::off && level >= level_;
}

void FakeLogger::set_level(sdk::LogLevel level) {
  std::lock_guard l(mutex_);
  level_ = level;
}

std::vector<FakeLogger::Line> FakeLogger::lines() const {
  std::lock_guard l(mutex_);
  return lines_;
}

bool FakeLogger::contains(std::string_view text) const {
  std::lock_guard l(mutex_);
  return std::any_of(lines_.begin(), lines_.end(),
                     [&](const Line& x) { return x.message.find(text) != std::string::npos; });
}

std::size_t FakeLogger::count(sdk::LogLevel level) const {
  std::lock_guard l(mutex_);
  return std::count_if(lines_.begin(), lines_.end(), [&](const Line& x) { return x.level == level; });
}

void FakeLogger::clear() {
  std::lock_guard l(mutex_);
  lines_.clear();
}

// ---- FakeBus

struct FakeBus::Entry {
  std::string pattern;
  std::string name;
  sdk::EventHandler handler;
  std::function<void()> after_batch;
  std::atomic<bool> active{true};
  std::atomic<std::uint64_t> delivered{0};
};

namespace {

class FakeSubscription final : public sdk::Subscription {
 public:
  FakeSubscription(std::function<void()> remove, std::shared_ptr<FakeBus::Entry> e)
      : remove_(std::move(remove)), entry_(std::move(e)) {}
  ~FakeSubscription() override { remove_(); }
  std::uint64_t delivered() const override;
  std::uint64_t dropped() const override { return 0; }

 private:
  std::function<void()> remove_;
  std::shared_ptr<FakeBus::Entry> entry_;
};

}  // namespace

std::uint64_t FakeSubscription::delivered() const { return entry_->delivered.load(); }

void FakeBus::deliver(const std::shared_ptr<Entry>& e, const sdk::Event& ev) {
  if (!e->active) return;
  try {
    e->handler(ev);
  } catch (const std::exception& ex) {
    log_.error("bus subscriber '" + e->name + "' handler threw on topic '" + ev.topic +
               "': " + ex.what());
  } catch (...) {
    log_.error("bus subscriber '" + e->name + "' handler threw on topic '" + ev.topic + "'");
  }
  ++e->delivered;
  // Each delivery is a batch of one.
  if (e->after_batch) e->after_batch();
}

void FakeBus::publish(std::shared_ptr<const sdk::Event> event) {
  if (!event) return;
  std::vector<std::shared_ptr<Entry>> targets;
  {
    std::lock_guard l(mutex_);
    published_.push_back(event);
    for (auto& e : entries_)
      if (topic_matches(e->pattern, event->topic)) targets.push_back(e);
    if (!synchronous_) {
      for (auto& t : targets) pending_.emplace_back(t, event);
      return;
    }
  }
  for (auto& t : targets) deliver(t, *event);
}

std::unique_ptr<sdk::Subscription> FakeBus::subscribe(std::string pattern,
                                                      sdk::EventHandler handler,
                                                      sdk::SubscribeOptions options) {
  auto e = std::make_shared<Entry>();
  e->pattern = std::move(pattern);
  e->name = options.name.empty() ? e->pattern : options.name;
  e->handler = std::move(handler);
  e->after_batch = std::move(options.after_batch);
  {
    std::lock_guard l(mutex_);
    entries_.push_back(e);
  }
  Entry* raw = e.get();
  return std::make_unique<FakeSubscription>(
      [this, raw, alive = std::weak_ptr<int>(alive_)] {
        // A plugin may drop its subscription after the host is gone.
        if (alive.expired()) return;
        std::lock_guard l(mutex_);
        raw->active = false;
        std::erase_if(entries_, [raw](const auto& p) { return p.get() == raw; });
      },
      e);
}

void FakeBus::set_synchronous(bool synchronous) {
  std::lock_guard l(mutex_);
  synchronous_ = synchronous;
}

std::size_t FakeBus::deliver_pending() {
  std::size_t n = 0;
  for (;;) {
    decltype(pending_) batch;
    {
      std::lock_guard l(mutex_);
      batch.swap(pending_);
    }
    if (batch.empty()) return n;
    for (auto& [w, ev] : batch) {
      if (auto e = w.lock(); e && e->active) {
        deliver(e, *ev);
        ++n;
      }
    }
  }
}

namespace {
// A copy with its JSON text in `body` too: a test reads `body` whichever way
// the event was published.
sdk::Event with_text(const sdk::Event& e) {
  sdk::Event copy = e;
  if (copy.body.empty()) copy.body = e.json();
  return copy;
}
}  // namespace

std::vector<sdk::Event> FakeBus::published() const {
  std::lock_guard l(mutex_);
  std::vector<sdk::Event> out;
  for (auto& e : published_) out.push_back(with_text(*e));
  return out;
}

std::vector<sdk::Event> FakeBus::published(std::string_view pattern) const {
  std::lock_guard l(mutex_);
  std::vector<sdk::Event> out;
  for (auto& e : published_)
    if (topic_matches(pattern, e->topic)) out.push_back(with_text(*e));
  return out;
}

void FakeBus::clear_published() {
  std::lock_guard l(mutex_);
  published_.clear();
}

std::vector<std::string> FakeBus::subscriptions() const {
  std::lock_guard l(mutex_);
  std::vector<std::string> out;
  for (auto& e : entries_) out.push_back(e->pattern);
  return out;
}

// ---- FakeExecutor

void FakeExecutor::post(std::function<void()> task) {
  {
    std::lock_guard l(mutex_);
    if (!inline_) {
      tasks_.push_back(std::move(task));
      return;
    }
  }
  task();
}

std::uint64_t FakeExecutor::after(std::chrono::milliseconds delay, std::function<void()> task) {
  std::lock_guard l(mutex_);
  auto id = next_id_++;
  timers_.push_back({now_ + delay, id, std::move(task)});
  return id;
}

bool FakeExecutor::cancel(std::uint64_t timer_id) {
  std::lock_guard l(mutex_);
  return std::erase_if(timers_, [&](const Timer& t) { return t.id == timer_id; }) != 0;
}

void FakeExecutor::set_inline(bool run_inline) {
  std::lock_guard l(mutex_);
  inline_ = run_inline;
}

std::size_t FakeExecutor::run_pending() {
  std::size_t n = 0;
  for (;;) {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard l(mutex_);
      batch.swap(tasks_);
    }
    if (batch.empty()) return n;
    for (auto& t : batch) {
      t();
      ++n;
    }
  }
}

std::size_t FakeExecutor::advance(std::chrono::milliseconds by) {
  std::size_t n = 0;
  std::chrono::milliseconds target;
  {
    std::lock_guard l(mutex_);
    target = now_ + by;
  }
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard l(mutex_);
      auto it = std::min_element(timers_.begin(), timers_.end(), [](const Timer& a, const Timer& b) {
        return a.due < b.due || (a.due == b.due && a.id < b.id);
      });
      if (it == timers_.end() || it->due > target) {
        now_ = target;
        break;
      }
      now_ = it->due;
      task = std::move(it->task);
      timers_.erase(it);
    }
    task();
    ++n;
  }
  return n + run_pending();
}

std::size_t FakeExecutor::pending_tasks() const {
  std::lock_guard l(mutex_);
  return tasks_.size();
}

std::size_t FakeExecutor::pending_timers() const {
  std::lock_guard l(mutex_);
  return timers_.size();
}

// ---- FakeHttp

sdk::Status FakeHttp::mount(std::string_view listener, sdk::Route route) {
  std::lock_guard l(mutex_);
  if (!listeners_.empty() &&
      std::find(listeners_.begin(), listeners_.end(), listener) == listeners_.end())
    return sdk::Error::invalid("unknown HTTP listener '" + std::string(listener) + "'");
  for (auto& m : routes_)
    if (m.listener == listener && m.route.method == route.method && m.route.path == route.path)
      return sdk::Error::conflict(route.method + " " + route.path + " is already mounted on " +
                                  std::string(listener));
  routes_.push_back({std::string(listener), std::move(route)});
  return {};
}

void FakeHttp::unmount_all(std::string_view) {
  std::lock_guard l(mutex_);
  routes_.clear();
}

void FakeHttp::set_listeners(std::vector<std::string> names) {
  std::lock_guard l(mutex_);
  listeners_ = std::move(names);
}

void FakeHttp::set_token(std::optional<sdk::TokenInfo> token) {
  std::lock_guard l(mutex_);
  token_ = std::move(token);
  token_set_ = true;
}

const FakeHttp::Mounted* FakeHttp::match(std::string_view method, std::string_view path,
                                         std::map<std::string, std::string>* params,
                                         bool* path_matched) const {
  auto segs = split(path, '/');
  for (auto& m : routes_) {
    auto pat = split(m.route.path, '/');
    if (pat.size() != segs.size()) continue;
    std::map<std::string, std::string> found;
    bool ok = true;
    for (std::size_t i = 0; i < pat.size() && ok; ++i) {
      if (pat[i].size() > 2 && pat[i].front() == '{' && pat[i].back() == '}') {
        if (segs[i].empty()) ok = false;
        else found[std::string(pat[i].substr(1, pat[i].size() - 2))] = sdk::percent_decode(segs[i], false);
      } else if (pat[i] != segs[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    *path_matched = true;
    if (m.route.method != method) continue;
    if (params) *params = std::move(found);
    return &m;
  }
  return nullptr;
}

sdk::HttpResponse FakeHttp::call(std::string_view method, std::string_view target,
                                 std::string body, std::map<std::string, std::string> headers) {
  sdk::HttpRequest req;
  req.method = std::string(method);
  auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    for (auto kv : split(target.substr(q + 1), '&')) {
      auto eq = kv.find('=');
      if (eq == std::string_view::npos) req.query[sdk::percent_decode(kv, true)] = "";
      else req.query[sdk::percent_decode(kv.substr(0, eq), true)] = sdk::percent_decode(kv.substr(eq + 1), true);
    }
  }
  for (auto& [k, v] : headers) req.headers[sdk::text::to_lower(k)] = v;
  req.body = std::move(body);
  req.remote_address = "127.0.0.1";

  std::function<sdk::HttpResponse(const sdk::HttpRequest&)> handler;
  {
    std::lock_guard l(mutex_);
    bool path_matched = false;
    auto* m = match(method, req.path, &req.params, &path_matched);
    if (!m)
      return path_matched ? sdk::HttpResponse::error(405, {"Method not allowed"})
                          : sdk::HttpResponse::error(404, {"No route for " + req.path});
    if (m->route.auth == sdk::RouteAuth::token) {
      if (token_set_ && !token_) return sdk::HttpResponse::error(401, {"Unauthorized"});
      if (token_) {
        req.token = token_;
      } else {
        sdk::TokenInfo t;
        t.token = "fake-token";
        t.auth_id = "00000000-0000-4000-8000-000000000001";
        t.username = "tester";
        t.backend = "dialtone_user";
        t.acls = {"#"};
        req.token = t;
      }
    }
    if (!m->route.sort_columns.empty()) {
      sdk::ListQuery lq;
      for (auto& [k, v] : req.query) {
        if (k == "search") lq.search = v;
        else if (k == "order") lq.order = v;
        else if (k == "direction") lq.descending = v == "desc";
        else if (k == "limit") lq.limit = std::stol(v);
        else if (k == "offset") lq.offset = std::stol(v);
        else lq.filters[k] = v;
      }
      if (lq.order.empty()) lq.order = m->route.sort_columns.front();
      req.list = lq;
    }
    handler = m->route.handler;
  }
  if (!handler) return sdk::HttpResponse::error(500, {"route has no handler"});
  try {
    return handler(req);
  } catch (const std::exception& e) {
    return sdk::HttpResponse::error(500, {std::string("handler threw: ") + e.what()});
  }
}

const sdk::Route* FakeHttp::route(std::string_view method, std::string_view path) const {
  std::lock_guard l(mutex_);
  for (auto& m : routes_)
    if (m.route.method == method && m.route.path == path) return &m.route;
  return nullptr;
}

std::string FakeHttp::required_acl(std::string_view method, std::string_view target) const {
  std::lock_guard l(mutex_);
  std::map<std::string, std::string> params;
  bool path_matched = false;
  auto* m = match(method, target.substr(0, target.find('?')), &params, &path_matched);
  if (!m) return {};
  std::string acl = m->route.acl;
  for (auto& [k, v] : params) {
    std::string key = "{" + k + "}";
    for (auto p = acl.find(key); p != std::string::npos; p = acl.find(key, p + v.size()))
      acl.replace(p, key.size(), v);
  }
  return acl;
}

std::vector<FakeHttp::Mounted> FakeHttp::routes() const {
  std::lock_guard l(mutex_);
  return routes_;
}

// ---- FakeLua

sdk::Status FakeLua::export_module(std::string module, std::vector<sdk::LuaFunctionSpec> functions) {
  // Declarations dialtoned cannot read are refused here too.
  for (auto& f : functions)
    if (auto p = sdk::parse_lua_args(f.args, module + "." + f.name); !p) return sdk::Error::invalid("lua: " + p.error().message);
  std::lock_guard l(mutex_);
  if (modules_.count(module))
    return sdk::Error::conflict("Lua module '" + module + "' is already exported");
  modules_[std::move(module)] = std::move(functions);
  return {};
}

void FakeLua::call(std::string function, sdk::LuaValues args,
                   std::function<void(sdk::Result<sdk::LuaValues>)> done) {
  std::function<sdk::Result<sdk::LuaValues>(const std::string&, const sdk::LuaValues&)> f;
  {
    std::lock_guard l(mutex_);
    calls_.push_back(function);
    f = on_call_;
  }
  if (done) done(f ? f(function, args) : sdk::Result<sdk::LuaValues>(sdk::LuaValues{}));
}

sdk::Status FakeLua::reload() {
  std::lock_guard l(mutex_);
  ++reloads_;
  return {};
}

sdk::Result<sdk::LuaValues> FakeLua::call_function(std::string_view module,
                                                   std::string_view function, sdk::LuaValues args) {
  sdk::LuaFunction fn;
  std::string declared;
  {
    std::lock_guard l(mutex_);
    auto m = modules_.find(module);
    if (m == modules_.end())
      return sdk::Error::not_found("no Lua module '" + std::string(module) + "'");
    for (auto& spec : m->second)
      if (spec.name == function) {
        fn = spec.fn;
        declared = spec.args;
      }
    if (!fn)
      return sdk::Error::not_found("no Lua function '" + std::string(module) + "." +
                                   std::string(function) + "'");
  }
  // The arguments are checked against the declaration as dialtoned does.
  const std::string qualified = std::string(module) + "." + std::string(function);
  auto params = sdk::parse_lua_args(declared, qualified);
  if (!params) return params.error();
  if (auto wrong = sdk::check_lua_args(qualified, *params, args)) return sdk::Error::invalid(*wrong);
  auto reply = fn(args);
  if (reply.failure()) return sdk::Error::invalid(*reply.failure());
  if (!reply.starter()) return reply.result();
  auto result = std::make_shared<std::optional<sdk::Result<sdk::LuaValues>>>();
  reply.starter()([result](sdk::Result<sdk::LuaValues> r) { *result = std::move(r); });
  while (!*result && executor_.run_pending() > 0) {
  }
  if (!*result)
    return sdk::Error::timeout(std::string(module) + "." + std::string(function) +
                               " suspended and was not resumed by any pending executor task");
  return std::move(**result);
}

std::vector<std::string> FakeLua::modules() const {
  std::lock_guard l(mutex_);
  std::vector<std::string> out;
  for (auto& [k, _] : modules_) out.push_back(k);
  return out;
}

const std::vector<sdk::LuaFunctionSpec>* FakeLua::functions(std::string_view module) const {
  std::lock_guard l(mutex_);
  auto m = modules_.find(module);
  return m == modules_.end() ? nullptr : &m->second;
}

void FakeLua::on_call(
    std::function<sdk::Result<sdk::LuaValues>(const std::string&, const sdk::LuaValues&)> f) {
  std::lock_guard l(mutex_);
  on_call_ = std::move(f);
}

std::vector<std::string> FakeLua::calls() const {
  std::lock_guard l(mutex_);
  return calls_;
}

// ---- FakeHost

FakeHost::FakeHost(std::string plugin_id) : plugin_id_(std::move(plugin_id)) {
  static std::atomic<int> counter{0};
  data_dir_ = std::filesystem::temp_directory_path() /
              ("dialtone-fake-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  std::filesystem::create_directories(data_dir_);
}

FakeHost::~FakeHost() {
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

// ---- options

sdk::Result<sdk::Options> validate_options(const sdk::OptionSpec* specs,
                                           const std::map<std::string, std::string>& values,
                                           std::string_view plugin_id) {
  // dialtoned's own validator: conf.d locations aside, the same checks and
  // the same messages. Relative paths resolve against the working directory,
  // where dialtoned would use the conf.d file's folder.
  std::error_code ec;
  auto base = std::filesystem::current_path(ec);
  std::map<std::string, sdk::OptionValue> given;
  for (auto& [name, raw] : values) given[name] = {raw, "", base};
  auto checked = sdk::check_options(plugin_id, specs, given, "", base);
  if (!checked.errors.empty()) return sdk::Error::invalid(checked.errors.front());
  return std::move(checked.options);
}

}  // namespace dialtone::testing
