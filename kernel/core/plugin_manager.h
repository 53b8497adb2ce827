// Loads plugin shared objects, applies conf.d to them, orders them by
// `requires` + `optional`, and drives configure -> start -> stop / reload.
// A plugin that is refused or fails never takes the kernel down; plugins that
// require it are blocked.
//
//   PluginManager plugins(ctx, log);
//   plugins.load_dir(plugin_dir);
//   auto errors = plugins.resolve(conf, conf_root(conf.dir));
//   plugins.configure();
//   plugins.start();
//   ...
//   plugins.stop();
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/options.h>

#include "kernel/core/conf_dir.h"
#include "kernel/core/plugin_host.h"
#include "kernel/core/plugin_library.h"

namespace dialtone::kernel {

enum class PluginState { loaded, configured, started, stopped, disabled, refused, failed, blocked };
std::string_view to_string(PluginState s);

struct PluginStatus {
  std::string id;       // empty when the file was refused before its id was known
  std::string version;
  std::filesystem::path file;
  PluginState state = PluginState::loaded;
  std::string reason;   // why disabled/refused/failed/blocked
};

struct ReloadReport {
  std::vector<std::string> errors;          // conf.d problems: nothing was applied
  std::vector<std::string> applied;         // "directory.ldap: ldap.timeout"
  std::vector<std::string> restart_needed;  // one line per plugin, naming the options
  bool ok() const { return errors.empty(); }
};

class PluginManager {
 public:
  PluginManager(KernelContext ctx, sdk::Logger& log);
  ~PluginManager();
  PluginManager(const PluginManager&) = delete;
  PluginManager& operator=(const PluginManager&) = delete;

  // Every `*.so` in `dir`, in lexical order. A missing directory is logged.
  void load_dir(const std::filesystem::path& dir);
  // Opens one file and reads its manifest; a refusal is logged and recorded.
  void load_file(const std::filesystem::path& file);

  // Marks disabled plugins, validates options, resolves requires and cycles,
  // computes the start order. Returns the configuration errors (file:line),
  // including conf.d files naming a plugin that is not installed.
  std::vector<std::string> resolve(const ConfDir& conf, const std::filesystem::path& default_base);
  // Creates and configures the resolved plugins in start order.
  void configure();
  void start();
  // Stops started plugins in reverse start order, then destroys them all.
  void stop();

  // Applies a re-read conf.d to running plugins; on any error nothing changes.
  ReloadReport reload(const ConfDir& conf, const std::filesystem::path& default_base);

  std::vector<PluginStatus> status() const;
  // One line per refused/failed/blocked plugin, as logged.
  std::vector<std::string> problems() const;
  std::vector<std::string> start_order() const;
  // The options table of a loaded plugin, or null.
  const PluginLibrary* library(std::string_view id) const;
  const sdk::Options* options(std::string_view id) const;

 private:
  struct Record;
  Record* find(std::string_view id) const;
  void set_state(Record& r, PluginState s, std::string reason);
  void block_dependents();
  void withdraw_lua(Record& r, std::string_view why);
  void destroy(Record& r);

  KernelContext ctx_;
  sdk::Logger& log_;
  std::vector<std::unique_ptr<Record>> records_;  // load order
  std::vector<Record*> order_;                    // start order
  // Plugins conf.d enabled when resolve() ran: a reload reports only those
  // enabled since (the others were reported at start, e.g. not installed).
  std::set<std::string> enabled_at_resolve_;
  std::vector<std::string> problems_;
};

}  // namespace dialtone::kernel
