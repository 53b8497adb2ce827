// Reading conf.d: `*.conf` files in lexical order (dotfiles and other names
// ignored), each naming its plugin in `[plugin]`. For the same plugin in
// several files, or the same key twice, the first occurrence in lexical
// order wins and the later one gets a warning naming both places (XiVO's
// rule for its daemons' conf.d, seed "Configuration priority").
//
//   [plugin]
//   name = directory.ldap
//   enabled = true
//   log_level = debug        # optional
//
//   [source.corp]            # option source.corp.uri
//   uri = ldap://127.0.0.1
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/core/option_values.h"

namespace dialtone::kernel {

struct ConfDir {
  std::filesystem::path dir;
  std::vector<std::filesystem::path> files;   // the files read, in order
  std::map<std::string, PluginConf> plugins;  // by plugin id ("kernel" for the kernel)
  std::vector<std::string> errors;            // "file:line: message"
  std::vector<std::string> warnings;

  const PluginConf* find(std::string_view id) const {
    auto it = plugins.find(std::string(id));
    return it == plugins.end() ? nullptr : &it->second;
  }
};

// A missing directory is an error; an empty one is not.
ConfDir read_conf_dir(const std::filesystem::path& dir);

// The directory relative path defaults resolve against: the parent of the
// conf.d directory (the installation's configuration root).
std::filesystem::path conf_root(const std::filesystem::path& conf_dir);

}  // namespace dialtone::kernel
