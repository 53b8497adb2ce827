#include "tests/plugins/backend/sip/sip_host.h"

#include "plugins/backend/sip/sip_stack.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "plugins/api/confd/schema.h"
#include "tests/support/pg_fixture.h"

namespace dialtone::testing {

sdk::Status TestServiceRegistry::provide_erased(std::string name, int version, std::string instance,
                                                std::shared_ptr<void> impl) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase_if(entries_, [&](const Entry& e) { return e.name == name && e.instance == instance; });
  entries_.push_back({std::move(name), version, std::move(instance), std::move(impl)});
  return {};
}

std::shared_ptr<void> TestServiceRegistry::find_erased(std::string_view name, int version,
                                                       std::string_view instance) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& e : entries_)
    if (e.name == name && e.version == version && (instance.empty() || e.instance == instance)) return e.impl;
  return nullptr;
}

std::vector<std::pair<std::string, std::shared_ptr<void>>> TestServiceRegistry::all_erased(
    std::string_view name, int version) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::pair<std::string, std::shared_ptr<void>>> out;
  for (auto& e : entries_)
    if (e.name == name && e.version == version) out.emplace_back(e.instance, e.impl);
  return out;
}

void TestServiceRegistry::withdraw_erased(std::string_view name, std::string_view instance) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase_if(entries_, [&](const Entry& e) { return e.name == name && e.instance == instance; });
}

SipTestHost::SipTestHost(std::filesystem::path script) {
  calls_ = std::make_shared<kernel::CallCoreImpl>(bus_, log_);
  (void)services_.provide<sdk::CallCore>("", calls_);
  pool_ = std::make_unique<kernel::ThreadPool>(2, &log_);
  dsn_ = test_dsn();
  auto store = kernel::PgStore::open(kernel::StoreConfig{dsn_}, bus_, log_);
  if (!store) throw std::runtime_error("store: " + store.error().message);
  store_ = std::move(*store);
  if (auto s = store_->migrate(plugins::api::confd::kOwner, plugins::api::confd::migrations()); !s)
    throw std::runtime_error("confd schema: " + s.error().message);
  if (auto r = store_->exec("INSERT INTO confd_contexts (name) VALUES ('default')"); !r)
    throw std::runtime_error(r.error().message);
  // api.confd's configuration service, as the kernel would have it.
  config_ = std::make_shared<plugins::api::confd::ConfigServiceImpl>(*store_, bus_, *pool_, log_);
  if (auto s = config_->start(); !s) throw std::runtime_error("config: " + s.error().message);
  (void)services_.provide<sdk::ConfigService>("", config_);
  presence_ = std::make_shared<kernel::PresenceServiceImpl>(bus_, log_, [c = config_] { return c; });
  presence_->attach_config();
  (void)services_.provide<sdk::PresenceService>("", presence_);
  kernel::LuaConfig cfg;
  cfg.script = script.empty() ? std::filesystem::path(sip_test_dir()) / "dialplan.lua" : script;
  cfg.states = 2;
  cfg.module_paths = {cfg.script.parent_path(), SIP_LUA_LIB_DIR};
  cfg.clock = [this] { return std::chrono::system_clock::now() + std::chrono::milliseconds(clock_shift_ms_.load()); };
  lua_ = std::make_unique<kernel::LuaHostImpl>(cfg, log_);
  if (auto s = lua_->start(); !s) throw std::runtime_error("lua: " + s.error().message);
  if (auto s = config_->export_lua(*lua_); !s) throw std::runtime_error("config lua: " + s.error().message);
  // The call API and `local` legs, as the kernel has them.
  if (auto s = calls_->export_lua(*lua_); !s) throw std::runtime_error("calls lua: " + s.error().message);
  completion_ = std::make_unique<kernel::CallCompletion>(*calls_, *presence_, log_, [c = config_] { return c->snapshot(); });
  if (auto s = completion_->export_lua(*lua_); !s) throw std::runtime_error("completion lua: " + s.error().message);
  local_ = std::make_shared<kernel::LocalDriver>(*calls_, *lua_, log_);
  if (auto s = calls_->register_driver("local", local_); !s) throw std::runtime_error(s.error().message);
}

SipTestHost::~SipTestHost() {
  completion_->stop();
  presence_->stop();
  calls_->unregister_driver("local");
  config_->stop();
  calls_->stop();
  lua_->stop();
  pool_->shutdown();
  store_->close();
}

std::string SipTestHost::sql(const std::string& statement, const std::vector<std::string>& params) {
  sdk::Params p;
  for (auto& v : params) p.emplace_back(v);
  auto r = store_->exec(statement, p);
  if (!r) throw std::runtime_error("sql: " + r.error().message + " in " + statement);
  refresh_config();
  return r->rows.empty() || r->rows[0].empty() || !r->rows[0][0] ? "" : *r->rows[0][0];
}

std::string SipTestHost::add_group(const std::string& name, const std::string& strategy,
                                   const std::vector<std::string>& members, const std::string& exten) {
  auto g = sql("INSERT INTO confd_groups (name, ring_strategy, timeout, user_timeout, retry_delay) "
               "VALUES ($1, $2, 20, 2, 0) RETURNING id", {name, strategy});
  for (std::size_t i = 0; i < members.size(); ++i)
    sql("INSERT INTO confd_group_members VALUES ($1::int, $2::int, $3::int)", {g, members[i], std::to_string(i + 1)});
  if (!exten.empty()) {
    auto x = sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'default') RETURNING id", {exten});
    sql("INSERT INTO confd_group_extensions VALUES ($1::int, $2::int)", {g, x});
  }
  return g;
}

std::string SipTestHost::add_line(const std::string& username, const std::string& secret,
                                  const std::string& exten) {
  std::string user_id;
  auto s = store_->transaction([&](sdk::Transaction& tx) -> sdk::Status {
    auto u = tx.exec("INSERT INTO confd_users (firstname) VALUES ($1) RETURNING id", {username});
    if (!u) return u.error();
    user_id = *u->rows[0][0];
    auto e = tx.exec("INSERT INTO confd_endpoints_sip (username, secret) VALUES ($1, $2) RETURNING id",
                     {username, secret});
    if (!e) return e.error();
    auto l = tx.exec(
        "INSERT INTO confd_lines (context, endpoint_sip_id) VALUES ('default', $1) RETURNING id",
        {e->rows[0][0]});
    if (!l) return l.error();
    auto x = tx.exec("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'default') RETURNING id",
                     {exten});
    if (!x) return x.error();
    if (auto r = tx.exec("INSERT INTO confd_user_lines VALUES ($1, $2, true, true)",
                         {u->rows[0][0], l->rows[0][0]});
        !r)
      return r.error();
    if (auto r = tx.exec("INSERT INTO confd_line_extensions VALUES ($1, $2)",
                         {l->rows[0][0], x->rows[0][0]});
        !r)
      return r.error();
    return {};
  });
  if (!s) throw std::runtime_error("add_line: " + s.error().message);
  refresh_config();
  return user_id;
}

void SipTestHost::refresh_config() {
  if (!config_->refresh(std::chrono::seconds(30))) throw std::runtime_error("config: refresh failed");
}

std::string scenario(const std::string& name) {
  if (!name.empty() && name.front() == '/') return name;  // a scenario a test wrote
  return std::string(sip_test_dir()) + "/scenarios/" + name;
}

int free_port() { return plugins::backend::sip::free_port("127.0.0.1"); }

// Taken below the kernel's ephemeral range (32768 and up) and above the RTP
// ranges dialtoned and the tests give it (up to 31003): a socket some other test binds to port 0
// can never land on p+2 between our check and SIPp's bind.
int free_media_port() {
  // SIPp binds its media port and the one two above it (RTP echo for audio
  // and video). Ports are handed out in aligned blocks of four, so that two
  // SIPp never share one (a random even base gave one SIPp p and the next
  // p + 2: the second bound the first's video port before the first had
  // started). A block is picked at random, so that processes running in
  // parallel rarely pick the same one, and never one of the last this process
  // handed out, whose SIPp may not have bound it yet; a block some process
  // holds is skipped. run_sipp() tries again on another block should SIPp
  // still find one taken.
  constexpr int kFirst = 31100, kBlocks = (32700 - kFirst) / 4, kRecent = 32;
  static std::mt19937 rng{std::random_device{}()};
  static std::deque<int> recent;
  static std::mutex m;
  std::lock_guard lock(m);
  std::uniform_int_distribution<int> pick(0, kBlocks - 1);
  for (int attempt = 0; attempt < 4 * kBlocks; ++attempt) {
    int p = kFirst + 4 * pick(rng);
    if (std::find(recent.begin(), recent.end(), p) != recent.end()) continue;
    bool all_free = true;
    for (int q = p; q < p + 4 && all_free; ++q) all_free = port_free(SOCK_DGRAM, q);
    if (!all_free) continue;
    recent.push_back(p);
    if (recent.size() > kRecent) recent.pop_front();
    return p;
  }
  throw std::runtime_error("no free UDP port quadruple between 31100 and 32700 for SIPp's media");
}

int run_sipp(const std::vector<std::string>& args, std::string* output) {
  // Tests run several SIPp at once from different threads: each run needs a
  // folder of its own, so the name comes from an atomic counter.
  static std::atomic<unsigned> runs{0};
  auto run = args;
  for (int attempt = 0;; ++attempt) {
    auto dir = std::filesystem::temp_directory_path() /
               ("dt-sipp-" + std::to_string(::getpid()) + "-" + std::to_string(runs.fetch_add(1)));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::ostringstream cmd;
    cmd << "cd '" << dir.string() << "' && timeout -k 5 40 " << SIPP_EXECUTABLE;
    for (auto& a : run) cmd << " '" << a << "'";
    cmd << " -nostdin -trace_err -trace_screen > sipp.out 2>&1";
    int rc = std::system(cmd.str().c_str());
    int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
    std::string text;
    for (auto& f : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(f.path());
      std::stringstream ss;
      ss << in.rdbuf();
      text += "== " + f.path().filename().string() + "\n" + ss.str().substr(0, 6000);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    // A media port taken by another process between free_media_port()'s
    // check and SIPp's bind: SIPp stopped before sending anything, so it
    // runs again on other ports.
    auto mp = std::find(run.begin(), run.end(), "-mp");
    if (status != 0 && attempt < 3 && mp != run.end() && mp + 1 != run.end() &&
        text.find("RTP socket") != std::string::npos && text.find("Address already in use") != std::string::npos) {
      *(mp + 1) = std::to_string(free_media_port());
      continue;
    }
    if (output) *output = std::move(text);
    return status;
  }
}

}  // namespace dialtone::testing
