// What dialtoned knows before starting anything: the command line, conf.d
// read and the kernel's own options validated. Also the two commands that
// need nothing running: --check-config and --describe.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/options.h>

#include "kernel/core/conf_dir.h"

namespace dialtone::kernel {

struct CommandLine {
  std::filesystem::path config_dir = "conf.d";
  std::filesystem::path plugin_dir;  // overrides kernel.plugin_dir
  std::filesystem::path data_dir;    // overrides kernel.data_dir
  std::string log_level;             // overrides log.level
};

struct KernelSetup {
  CommandLine cli;
  ConfDir conf;
  sdk::Options options;             // the kernel's options, command line applied
  std::vector<std::string> errors;  // conf.d and kernel option errors, file:line each
  std::filesystem::path conf_root;  // relative path defaults resolve here
  std::filesystem::path plugin_dir;
  std::filesystem::path data_dir;
};

KernelSetup load_setup(const CommandLine& cli);

// <bindir>/../plugins (a build tree), else <bindir>/../lib/dialtone/plugins.
std::filesystem::path default_plugin_dir();

// Prints every problem (conf.d, kernel options, plugin manifests, plugin
// options, requires) and returns the exit code: 0 when there is none.
int check_config(const KernelSetup& setup, std::ostream& out);

// Prints a plugin's (or "kernel"'s) options table; 1 if no such plugin.
int describe(const KernelSetup& setup, std::string_view id, std::ostream& out);

// Kernel options that differ between two validated sets.
std::vector<std::string> changed_options(const sdk::Options& before, const sdk::Options& after);

}  // namespace dialtone::kernel
