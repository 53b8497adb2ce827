#include "kernel/core/plugin_manager.h"

#include <dialtone/text.h>

#include <algorithm>
#include <functional>
#include <set>

#include "kernel/core/dll.h"
#include "kernel/core/option_values.h"

namespace dialtone::kernel {

struct PluginManager::Record {
  std::filesystem::path file;
  PluginLibrary lib;  // library null when refused at load
  PluginState state = PluginState::loaded;
  std::string reason;
  std::string log_level;
  sdk::Options options;
  std::unique_ptr<PluginHost> host;
  const dialtone_plugin_vtable* vt = nullptr;
  void* instance = nullptr;
  bool active() const {
    return state == PluginState::loaded || state == PluginState::configured ||
           state == PluginState::started;
  }
};

std::string_view to_string(PluginState s) {
  switch (s) {
    case PluginState::loaded: return "loaded";
    case PluginState::configured: return "configured";
    case PluginState::started: return "started";
    case PluginState::stopped: return "stopped";
    case PluginState::disabled: return "disabled";
    case PluginState::refused: return "refused";
    case PluginState::failed: return "failed";
    case PluginState::blocked: return "blocked";
  }
  return "loaded";
}

namespace {
using sdk::text::join;

// One UDP port range a plugin binds from: an integer option pair
// `<section>.port_min` / `<section>.port_max` (the SIP relay's and the media
// engine's rtp.*).
struct PortRange {
  std::string plugin, section, file;
  std::int64_t min = 0, max = 0;
};

std::vector<PortRange> port_ranges(const std::string& plugin, const sdk::OptionSpec* table,
                                   const sdk::Options& values, const std::string& file) {
  std::vector<PortRange> out;
  constexpr std::string_view kMin = ".port_min";
  for (auto* o = table; o && o->name; ++o) {
    std::string_view name = o->name;
    if (o->type != sdk::OptionType::integer || !name.ends_with(kMin)) continue;
    std::string section(name.substr(0, name.size() - kMin.size()));
    if (!find_option(table, section + ".port_max")) continue;
    out.push_back({plugin, section, file, values.get_int(section + ".port_min"),
                   values.get_int(section + ".port_max")});
  }
  return out;
}
}  // namespace

PluginManager::PluginManager(KernelContext ctx, sdk::Logger& log) : ctx_(std::move(ctx)), log_(log) {}

PluginManager::~PluginManager() { stop(); }

PluginManager::Record* PluginManager::find(std::string_view id) const {
  for (auto& r : records_)
    if (r->lib.library && r->lib.id == id && r->state != PluginState::refused) return r.get();
  for (auto& r : records_)
    if (r->lib.library && r->lib.id == id) return r.get();
  return nullptr;
}

void PluginManager::set_state(Record& r, PluginState s, std::string reason) {
  r.state = s;
  r.reason = std::move(reason);
  if (s != PluginState::refused && s != PluginState::failed && s != PluginState::blocked) return;
  std::string line = std::string(to_string(s)) + " " + r.file.string();
  if (!r.lib.id.empty()) line += " (" + r.lib.id + ")";
  line += ": " + r.reason;
  problems_.push_back(line);
  log_.error(line);
}

void PluginManager::load_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    log_.error("plugin directory " + dir.string() + " not found; set kernel.plugin_dir or pass --plugin-dir");
    return;
  }
  std::vector<std::filesystem::path> files;
  for (auto& de : std::filesystem::directory_iterator(dir, ec))
    if (de.path().extension() == ".so" && de.path().filename().string()[0] != '.')
      files.push_back(de.path());
  std::sort(files.begin(), files.end());
  for (auto& f : files) load_file(f);
}

void PluginManager::load_file(const std::filesystem::path& file) {
  auto rec = std::make_unique<Record>();
  rec->file = file;
  auto lib = open_plugin_library(file);
  if (!lib) {
    set_state(*rec, PluginState::refused, lib.error().message);
    records_.push_back(std::move(rec));
    return;
  }
  if (auto* other = find(lib->id)) {
    rec->lib.id = lib->id;
    set_state(*rec, PluginState::refused,
              "duplicate plugin id '" + lib->id + "', already loaded from " + other->file.string());
    records_.push_back(std::move(rec));  // the library is released with `lib`
    return;
  }
  rec->lib = std::move(*lib);
  log_.debug("loaded " + file.string() + " (" + rec->lib.id + " " + rec->lib.version + ", ABI " +
             std::to_string(rec->lib.abi_major) + "." + std::to_string(rec->lib.abi_minor) + ")");
  records_.push_back(std::move(rec));
}

std::vector<std::string> PluginManager::resolve(const ConfDir& conf,
                                                const std::filesystem::path& default_base) {
  std::vector<std::string> errors;
  for (auto& [id, pc] : conf.plugins)
    if (pc.enabled) enabled_at_resolve_.insert(id);
  for (auto& [id, pc] : conf.plugins) {
    if (id == "kernel" || find(id)) continue;
    errors.push_back(pc.file.string() + ":" + std::to_string(pc.line) + ": plugin '" + id +
                     "' is not installed (no loadable .so in the plugin directory declares it)");
  }

  for (auto& r : records_) {
    if (r->state != PluginState::loaded) continue;
    const PluginConf* pc = conf.find(r->lib.id);
    if (!pc) {
      set_state(*r, PluginState::disabled, "no conf.d file enables it");
      continue;
    }
    if (!pc->enabled) {
      set_state(*r, PluginState::disabled,
                "enabled = false in " + pc->file.string());
      continue;
    }
    auto v = validate_options(r->lib.id, r->lib.options, pc, default_base);
    if (!v.errors.empty()) {
      errors.insert(errors.end(), v.errors.begin(), v.errors.end());
      set_state(*r, PluginState::refused, "invalid configuration: " + v.errors.front() +
                (v.errors.size() > 1 ? " (and " + std::to_string(v.errors.size() - 1) + " more)" : ""));
      continue;
    }
    r->options = std::move(v.options);
    r->log_level = pc->log_level;
  }

  // Two plugins binding from overlapping port ranges take each other's ports
  // at random (a call then fails to get one): refused here, not found later.
  {
    std::vector<PortRange> ranges;
    for (auto& r : records_) {
      if (r->state != PluginState::loaded) continue;
      auto mine = port_ranges(r->lib.id, r->lib.options, r->options, conf.find(r->lib.id)->file.string());
      ranges.insert(ranges.end(), mine.begin(), mine.end());
    }
    for (std::size_t i = 0; i < ranges.size(); ++i)
      for (std::size_t j = i + 1; j < ranges.size(); ++j) {
        const auto &a = ranges[i], &b = ranges[j];
        if (a.plugin == b.plugin || a.max < b.min || b.max < a.min) continue;
        auto range = [](const PortRange& p) {
          return p.plugin + " " + p.section + ".port_min-" + p.section + ".port_max (" + std::to_string(p.min) +
                 "-" + std::to_string(p.max) + ")";
        };
        errors.push_back(b.file + ": " + range(b) + " overlaps " + range(a) + " of " + a.file +
                         ": both bind UDP ports from their range, so calls would fail at random; "
                         "make the two ranges disjoint");
      }
  }

  // Unmet requires: a missing or disabled plugin refuses its dependents.
  for (auto& r : records_) {
    if (r->state != PluginState::loaded) continue;
    for (auto& req : r->lib.requires_ids) {
      auto* dep = find(req);
      if (!dep) {
        set_state(*r, PluginState::refused, "requires " + req + " which is not installed");
        break;
      }
      if (dep->state == PluginState::disabled) {
        set_state(*r, PluginState::refused, "requires " + req + " which is disabled (" + dep->reason + ")");
        break;
      }
    }
  }

  // Cycles over `requires`: every member is refused, naming the cycle.
  {
    std::map<Record*, int> mark;  // 0 new, 1 on stack, 2 done
    std::vector<Record*> stack;
    std::function<void(Record*)> visit = [&](Record* r) {
      mark[r] = 1;
      stack.push_back(r);
      for (auto& req : r->lib.requires_ids) {
        auto* dep = find(req);
        if (!dep || dep->state != PluginState::loaded) continue;
        if (mark[dep] == 1) {
          auto from = std::find(stack.begin(), stack.end(), dep);
          std::vector<std::string> ids;
          for (auto it = from; it != stack.end(); ++it) ids.push_back((*it)->lib.id);
          ids.push_back(dep->lib.id);
          auto text = "cyclic requires: " + join(ids, " -> ");
          for (auto it = from; it != stack.end(); ++it)
            if ((*it)->state == PluginState::loaded) set_state(**it, PluginState::refused, text);
        } else if (mark[dep] == 0) {
          visit(dep);
        }
      }
      stack.pop_back();
      mark[r] = 2;
    };
    for (auto& r : records_)
      if (r->state == PluginState::loaded && mark[r.get()] == 0) visit(r.get());
  }
  block_dependents();

  // Start order: topological over requires + optional, ties broken by id so
  // the order is the same on every run.
  order_.clear();
  std::set<Record*> placed;
  std::vector<Record*> pending;
  for (auto& r : records_)
    if (r->state == PluginState::loaded) pending.push_back(r.get());
  std::sort(pending.begin(), pending.end(), [](auto* a, auto* b) { return a->lib.id < b->lib.id; });
  auto ready = [&](Record* r) {
    for (auto* list : {&r->lib.requires_ids, &r->lib.optional_ids})
      for (auto& d : *list) {
        auto* dep = find(d);
        if (dep && dep->state == PluginState::loaded && !placed.count(dep)) return false;
      }
    return true;
  };
  while (!pending.empty()) {
    auto it = std::find_if(pending.begin(), pending.end(), ready);
    // Only `optional` edges can still form a cycle here; they merely order
    // start-up, so break it at the smallest id.
    if (it == pending.end()) it = pending.begin();
    placed.insert(*it);
    order_.push_back(*it);
    pending.erase(it);
  }
  return errors;
}

void PluginManager::block_dependents() {
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto& r : records_) {
      if (!r->active()) continue;
      for (auto& req : r->lib.requires_ids) {
        auto* dep = find(req);
        if (!dep || dep->active()) continue;
        if (dep->state == PluginState::stopped) continue;
        set_state(*r, PluginState::blocked,
                  "requires " + req + " which " +
                      (dep->state == PluginState::failed ? std::string("failed")
                                                         : "was " + std::string(to_string(dep->state))));
        changed = true;
        break;
      }
    }
  }
}

void PluginManager::withdraw_lua(Record& r, std::string_view why) {
  if (ctx_.withdraw_lua) ctx_.withdraw_lua(r.lib.id, std::string(r.lib.id) + " " + std::string(why));
}

void PluginManager::destroy(Record& r) {
  // Before the object goes: its Lua functions capture it.
  withdraw_lua(r, "is gone");
  if (r.instance) {
    r.vt->destroy(r.instance);
    r.instance = nullptr;
  }
  if (ctx_.services) ctx_.services->withdraw_all(r.lib.id);
  if (ctx_.http) ctx_.http->unmount_all(r.lib.id);
}

void PluginManager::configure() {
  for (auto* r : order_) {
    if (r->state != PluginState::loaded) continue;
    block_dependents();
    if (r->state != PluginState::loaded) continue;
    auto vt = plugin_vtable(r->lib);
    if (!vt) {
      set_state(*r, PluginState::failed, vt.error().message);
      continue;
    }
    r->vt = *vt;
    if (!r->log_level.empty() && ctx_.set_log_level) {
      static const char* names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      for (int i = 0; i < 7; ++i)
        if (r->log_level == names[i]) ctx_.set_log_level(r->lib.id, static_cast<sdk::LogLevel>(i));
    }
    r->host = std::make_unique<PluginHost>(ctx_, r->lib.id, r->lib.library);
    sdk::Error err;
    r->instance = r->vt->create(r->host.get(), &err);
    if (!r->instance) {
      set_state(*r, PluginState::failed, "create: " + err.message);
      continue;
    }
    if (!r->vt->configure(r->instance, &r->options, &err)) {
      withdraw_lua(*r, "failed to configure");
      destroy(*r);
      set_state(*r, PluginState::failed, "configure: " + err.message);
      continue;
    }
    r->state = PluginState::configured;
  }
  block_dependents();
}

void PluginManager::start() {
  for (auto* r : order_) {
    block_dependents();
    if (r->state != PluginState::configured) continue;
    sdk::Error err;
    if (!r->vt->start(r->instance, &err)) {
      withdraw_lua(*r, "failed to start");
      destroy(*r);
      set_state(*r, PluginState::failed, "start: " + err.message);
      continue;
    }
    r->state = PluginState::started;
    log_.info("started " + r->lib.id + " " + r->lib.version);
  }
  block_dependents();
}

void PluginManager::stop() {
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    Record& r = **it;
    if (r.state != PluginState::started) continue;
    // First, so no script reaches what stop() releases.
    withdraw_lua(r, "stopped");
    sdk::Error err;
    if (!r.vt->stop(r.instance, &err))
      log_.error("stop " + r.lib.id + ": " + err.message);
    r.state = PluginState::stopped;
    if (ctx_.services) ctx_.services->withdraw_all(r.lib.id);
    if (ctx_.http) ctx_.http->unmount_all(r.lib.id);
    log_.info("stopped " + r.lib.id);
  }
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    Record& r = **it;
    destroy(r);
    if (r.state == PluginState::configured) r.state = PluginState::stopped;
    r.host.reset();
  }
}

ReloadReport PluginManager::reload(const ConfDir& conf, const std::filesystem::path& default_base) {
  ReloadReport report;
  report.errors = conf.errors;
  struct Change {
    Record* r;
    sdk::Options merged;
    std::vector<std::string> reloadable, fixed;
    std::string log_level;
  };
  std::vector<Change> changes;
  for (auto* r : order_) {
    if (r->state != PluginState::started) continue;
    const PluginConf* pc = conf.find(r->lib.id);
    if (!pc || !pc->enabled) {
      report.restart_needed.push_back(r->lib.id + ": disabled in conf.d; restart dialtoned to stop it");
      continue;
    }
    auto v = validate_options(r->lib.id, r->lib.options, pc, default_base);
    if (!v.errors.empty()) {
      report.errors.insert(report.errors.end(), v.errors.begin(), v.errors.end());
      continue;
    }
    Change c{r, r->options, {}, {}, pc->log_level};
    auto merged = r->options.all();
    std::set<std::string> keys;
    for (auto& [k, _] : r->options.all()) keys.insert(k);
    for (auto& [k, _] : v.options.all()) keys.insert(k);
    for (auto& k : keys) {
      if (r->options.get(k) == v.options.get(k) && r->options.has(k) == v.options.has(k)) continue;
      auto* spec = find_option(r->lib.options, k);
      if (spec && (spec->flags & sdk::kReloadable) && r->vt->supports_reload(r->instance)) {
        c.reloadable.push_back(k);
        if (v.options.has(k)) merged[k] = v.options.get(k);
        else merged.erase(k);
      } else {
        c.fixed.push_back(k);
      }
    }
    c.merged = sdk::Options(std::move(merged));
    changes.push_back(std::move(c));
  }
  for (auto& [id, pc] : conf.plugins) {
    auto* r = find(id);
    if (id != "kernel" && pc.enabled && !enabled_at_resolve_.count(id) && (!r || r->state == PluginState::disabled))
      report.restart_needed.push_back(id + ": newly enabled in conf.d; restart dialtoned to start it");
  }
  if (!report.errors.empty()) {
    for (auto& e : report.errors) log_.error("reload refused, running configuration kept: " + e);
    return report;
  }
  for (auto& c : changes) {
    std::string failure;  // the plugin's own reason, so the admin sees it in the reply too
    if (c.log_level != c.r->log_level && ctx_.set_log_level && !c.log_level.empty()) {
      static const char* names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      for (int i = 0; i < 7; ++i)
        if (c.log_level == names[i]) ctx_.set_log_level(c.r->lib.id, static_cast<sdk::LogLevel>(i));
      c.r->log_level = c.log_level;
    }
    if (!c.reloadable.empty()) {
      sdk::Error err;
      if (c.r->vt->reload(c.r->instance, &c.merged, &err)) {
        c.r->options = c.merged;
        report.applied.push_back(c.r->lib.id + ": " + join(c.reloadable, ", "));
        log_.info("reloaded " + c.r->lib.id + ": " + join(c.reloadable, ", "));
      } else {
        c.fixed.insert(c.fixed.end(), c.reloadable.begin(), c.reloadable.end());
        log_.error("reload of " + c.r->lib.id + " failed, it keeps its options: " + err.message);
        failure = "reload failed (" + err.message + "), ";
      }
    }
    if (!c.fixed.empty()) {
      std::sort(c.fixed.begin(), c.fixed.end());
      auto line = c.r->lib.id + ": " + failure + "restart needed for " + join(c.fixed, ", ");
      report.restart_needed.push_back(line);
      log_.warn(line);
    }
  }
  return report;
}

std::vector<PluginStatus> PluginManager::status() const {
  std::vector<PluginStatus> out;
  for (auto& r : records_)
    out.push_back({r->lib.id, r->lib.version, r->file, r->state, r->reason});
  return out;
}

std::vector<std::string> PluginManager::problems() const { return problems_; }

std::vector<std::string> PluginManager::start_order() const {
  std::vector<std::string> out;
  for (auto* r : order_) out.push_back(r->lib.id);
  return out;
}

const PluginLibrary* PluginManager::library(std::string_view id) const {
  auto* r = find(id);
  return r ? &r->lib : nullptr;
}

const sdk::Options* PluginManager::options(std::string_view id) const {
  auto* r = find(id);
  return r ? &r->options : nullptr;
}

}  // namespace dialtone::kernel
