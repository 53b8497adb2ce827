// Validation of option values against a plugin's OptionSpec table, and the
// `--describe` rendering of such a table. Used for plugins and for the
// kernel's own options alike.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

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

// `name` matches `pattern` where each `*` segment of the pattern stands for
// exactly one segment of the name.
bool option_name_matches(std::string_view pattern, std::string_view name);
const sdk::OptionSpec* find_option(const sdk::OptionSpec* table, std::string_view name);

// Checks one value and returns its canonical form: booleans as true/false,
// durations as whole milliseconds, relative paths made absolute against
// `base`. The error message says what was expected, without file:line.
sdk::Result<std::string> normalize_option(const sdk::OptionSpec& spec, std::string_view raw,
                                          const std::filesystem::path& base);

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

// Closest known option name for an unknown one (wildcards filled in from the
// unknown name where they line up), or empty when the table is empty.
std::string closest_option(const sdk::OptionSpec* table, std::string_view unknown);

// The `--describe` table: name, type, default, flags, help; secret defaults hidden.
std::string describe_options(const sdk::OptionSpec* table);

}  // namespace dialtone::kernel
