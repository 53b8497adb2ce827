// Validation of option values against a plugin's OptionSpec table, and the
// `--describe` rendering of such a table. Used for plugins and for the
// kernel's own options alike.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/option_check.h>
#include <dialtone/options.h>
#include <dialtone/result.h>

namespace dialtone::kernel {

// One raw value as written in a conf.d file.
struct ConfValue {
  std::string value;
  std::filesystem::path file;
  int line = 0;
};

// Everything conf.d says about one plugin (or the kernel), merged over all
// files with the first file in lexical order winning.
struct PluginConf {
  std::string name;
  bool enabled = false;
  std::string log_level;
  std::filesystem::path file;  // the first file naming this plugin
  int line = 0;                // its `name =` line
  std::map<std::string, ConfValue> values;  // option name ("section.key") -> raw value
};

std::string_view type_name(sdk::OptionType type);

// Matching and checking single values is the SDK's (dialtone/option_check.h),
// shared with the fake host.
using sdk::closest_option;
using sdk::find_option;
using sdk::normalize_option;
using sdk::option_name_matches;

struct ValidatedOptions {
  sdk::Options options;
  std::vector<std::string> errors;  // "file:line: message", one line each
};

// Merges `conf` (may be null: defaults only) over the table's defaults.
// Relative path values resolve against the directory of the file they come
// from; relative path defaults resolve against `default_base`.
ValidatedOptions validate_options(std::string_view plugin_id, const sdk::OptionSpec* table,
                                  const PluginConf* conf,
                                  const std::filesystem::path& default_base);

// The `--describe` table: name, type, default, flags, help; secret defaults hidden.
std::string describe_options(const sdk::OptionSpec* table);

}  // namespace dialtone::kernel
