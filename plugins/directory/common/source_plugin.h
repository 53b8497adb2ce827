// The plugin shell every directory source type shares: one source per
// `[source.<name>]` section, provided under its name while the plugin runs.
//
// A source type supplies only its traits:
//   struct CsvTraits {
//     using Config = CsvConfig;
//     static sdk::Result<Config> parse(const sdk::Options&, SourceConfig common);
//     static sdk::Result<std::shared_ptr<sdk::DirectorySource>> make(const Config&, sdk::Host&);
//   };
//   DIALTONE_PLUGIN(SourcePlugin<CsvTraits>, "directory.csv", ...)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <dialtone/directory.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {

template <class Traits>
class SourcePlugin final : public sdk::Plugin {
 public:
  explicit SourcePlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    configs_.clear();
    for (auto& name : o.instances("source")) {
      auto common = read_source_config(o, name);
      if (!common) return common.error();
      auto c = Traits::parse(o, std::move(*common));
      if (!c) return c.error();
      configs_.push_back(std::move(*c));
    }
    return {};
  }

  sdk::Status start() override {
    for (auto& c : configs_) {
      auto src = Traits::make(c, host_);
      if (!src) return src.error();
      std::string name((*src)->name());
      if (auto s = host_.services().provide<sdk::DirectorySource>(name, *src); !s) return s;
      names_.push_back(std::move(name));
    }
    return {};
  }

  void stop() override {
    for (auto& n : names_) host_.services().withdraw<sdk::DirectorySource>(n);
    names_.clear();
  }

 private:
  sdk::Host& host_;
  std::vector<typename Traits::Config> configs_;
  std::vector<std::string> names_;
};

// `source.<name>.<key>`
inline std::string source_key(const std::string& name, const char* key) {
  return "source." + name + "." + key;
}

// A one-character field delimiter; `\t` or `tab` for a tab.
inline sdk::Result<char> read_delimiter(const sdk::Options& o, const std::string& name) {
  auto d = o.get(source_key(name, "delimiter"), ",");
  if (d == "\\t" || d == "tab") d = "\t";
  if (d.size() != 1)
    return sdk::Error::invalid("source " + name + ": delimiter '" + d +
                               "' must be one character, e.g. `delimiter = |`");
  return d[0];
}

}  // namespace dialtone::plugins::directory
