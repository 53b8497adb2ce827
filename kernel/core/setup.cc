#include "kernel/core/setup.h"

#include <set>

#include "kernel/core/dll.h"
#include "kernel/core/kernel_options.h"
#include "kernel/core/plugin_manager.h"

namespace dialtone::kernel {
namespace {

// --check-config and --describe print their own report; log lines would only
// repeat it.
class Silent final : public sdk::Logger {
 public:
  void log(sdk::LogLevel, std::string_view) override {}
  bool enabled(sdk::LogLevel) const override { return false; }
};

}  // namespace

std::filesystem::path default_plugin_dir() {
  std::error_code ec;
  auto bindir = boost::dll::program_location(ec).parent_path();
  auto build_tree = (bindir / ".." / "plugins").lexically_normal();
  if (std::filesystem::is_directory(build_tree, ec)) return build_tree;
  return (bindir / ".." / "lib" / "dialtone" / "plugins").lexically_normal();
}

KernelSetup load_setup(const CommandLine& cli) {
  KernelSetup s;
  s.cli = cli;
  s.conf = read_conf_dir(cli.config_dir);
  s.conf_root = conf_root(cli.config_dir);
  s.errors = s.conf.errors;
  auto v = validate_options(kKernelId, kKernelOptions, s.conf.find(kKernelId), s.conf_root);
  s.errors.insert(s.errors.end(), v.errors.begin(), v.errors.end());
  auto values = v.options.all();
  if (!cli.log_level.empty()) {
    auto* spec = find_option(kKernelOptions, "log.level");
    if (auto l = normalize_option(*spec, cli.log_level, {}); l) values["log.level"] = *l;
    else s.errors.push_back("--log-level " + cli.log_level + ": " + l.error().message);
  }
  if (!cli.data_dir.empty()) values["kernel.data_dir"] = std::filesystem::absolute(cli.data_dir).string();
  if (!cli.plugin_dir.empty())
    values["kernel.plugin_dir"] = std::filesystem::absolute(cli.plugin_dir).string();
  s.options = sdk::Options(std::move(values));
  s.data_dir = s.options.get("kernel.data_dir");
  s.plugin_dir = s.options.get("kernel.plugin_dir");
  if (s.plugin_dir.empty()) s.plugin_dir = default_plugin_dir();
  return s;
}

int check_config(const KernelSetup& setup, std::ostream& out) {
  Silent silent;
  PluginManager plugins(KernelContext{}, silent);
  plugins.load_dir(setup.plugin_dir);
  std::vector<std::string> problems = setup.errors;
  std::error_code ec;
  if (!std::filesystem::is_directory(setup.plugin_dir, ec))
    problems.push_back(setup.plugin_dir.string() +
                       ": plugin directory not found; set kernel.plugin_dir or pass --plugin-dir");
  auto errors = plugins.resolve(setup.conf, setup.conf_root);
  problems.insert(problems.end(), errors.begin(), errors.end());
  std::set<std::string> listed(problems.begin(), problems.end());
  for (auto& p : plugins.problems()) {
    // Option errors are already listed by file:line.
    if (p.find(": invalid configuration: ") != std::string::npos) continue;
    if (listed.insert(p).second) problems.push_back(p);
  }
  for (auto& w : setup.conf.warnings) out << "warning: " << w << "\n";
  for (auto& p : problems) out << p << "\n";
  std::size_t enabled = 0;
  for (auto& st : plugins.status())
    if (st.state == PluginState::loaded) ++enabled;
  if (problems.empty()) {
    out << "configuration OK: " << setup.conf.files.size() << " conf.d files, " << enabled
        << " plugins enabled, plugin directory " << setup.plugin_dir.string() << "\n";
    return 0;
  }
  out << problems.size() << (problems.size() == 1 ? " problem" : " problems") << " found\n";
  return 1;
}

int describe(const KernelSetup& setup, std::string_view id, std::ostream& out) {
  if (id == kKernelId) {
    out << "kernel: dialtoned's own options, [plugin] name = kernel (conf.d/00-kernel.conf)\n";
    out << describe_options(kKernelOptions);
    return 0;
  }
  Silent silent;
  PluginManager plugins(KernelContext{}, silent);
  plugins.load_dir(setup.plugin_dir);
  auto* lib = plugins.library(id);
  if (!lib) {
    out << "no plugin '" << id << "' in " << setup.plugin_dir.string()
        << "; --list-plugins shows the installed ones\n";
    return 1;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("-") : s;
  };
  out << lib->id << " " << lib->version << " (" << lib->kind << "): " << lib->description << "\n";
  out << "file: " << lib->file.string() << "\n";
  out << "requires: " << join(lib->requires_ids) << "; optional: " << join(lib->optional_ids) << "\n";
  out << describe_options(lib->options);
  return 0;
}

std::vector<std::string> changed_options(const sdk::Options& before, const sdk::Options& after) {
  std::set<std::string> keys;
  for (auto& [k, _] : before.all()) keys.insert(k);
  for (auto& [k, _] : after.all()) keys.insert(k);
  std::vector<std::string> out;
  for (auto& k : keys)
    if (before.has(k) != after.has(k) || before.get(k) != after.get(k)) out.push_back(k);
  return out;
}

}  // namespace dialtone::kernel
