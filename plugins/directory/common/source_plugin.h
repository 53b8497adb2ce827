// The plugin shell every directory source type shares: one source per
// `[source.<name>]` section, provided under its name while the plugin runs.
//
// A source type supplies only its traits:
//   struct CsvTraits {
//     using Config = CsvConfig;
//     using Source = CsvSource;  // built as CsvSource(config, host.log())
//     static sdk::Result<Config> parse(const SourceOptions& o, SourceConfig common);
//   };
//   DIALTONE_PLUGIN(SourcePlugin<CsvTraits>, "directory.csv", ...)
// A source that needs more of the host than its log declares
//   static sdk::Result<std::shared_ptr<sdk::DirectorySource>> make(const Config&, sdk::Host&);
// instead of Source.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <dialtone/directory.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {

// `source.<name>.<key>`
inline std::string source_key(const std::string& name, const char* key) {
  return "source." + name + "." + key;
}

// The options of one `[source.<name>]` section, read by key ("uri" reads
// `source.<name>.uri`).
class SourceOptions {
 public:
  SourceOptions(const sdk::Options& o, std::string name) : o_(o), name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  std::string get(const char* key, std::string_view fallback = {}) const { return o_.get(source_key(name_, key), fallback); }
  bool get_bool(const char* key, bool fallback = false) const { return o_.get_bool(source_key(name_, key), fallback); }
  std::int64_t get_int(const char* key, std::int64_t fallback = 0) const { return o_.get_int(source_key(name_, key), fallback); }
  std::chrono::milliseconds get_duration(const char* key, std::chrono::milliseconds fallback = {}) const {
    return o_.get_duration(source_key(name_, key), fallback);
  }
  // A one-character field delimiter; `\t` or `tab` for a tab.
  sdk::Result<char> delimiter() const {
    auto d = get("delimiter", ",");
    if (d == "\\t" || d == "tab") return '\t';
    if (d.size() != 1)
      return sdk::Error::invalid("source " + name_ + ": delimiter '" + d + "' must be one character, e.g. `delimiter = |`");
    return d[0];
  }

 private:
  const sdk::Options& o_;
  std::string name_;
};

template <class Traits>
class SourcePlugin final : public sdk::Plugin {
 public:
  explicit SourcePlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    configs_.clear();
    for (auto& name : o.instances("source")) {
      auto common = read_source_config(o, name);
      if (!common) return common.error();
      auto c = Traits::parse(SourceOptions(o, name), std::move(*common));
      if (!c) return c.error();
      configs_.push_back(std::move(*c));
    }
    return {};
  }

  sdk::Status start() override {
    for (auto& c : configs_) {
      auto src = make(c);
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
  sdk::Result<std::shared_ptr<sdk::DirectorySource>> make(const typename Traits::Config& c) {
    if constexpr (requires { typename Traits::Source; })
      return std::shared_ptr<sdk::DirectorySource>(std::make_shared<typename Traits::Source>(c, host_.log()));
    else
      return Traits::make(c, host_);
  }

  sdk::Host& host_;
  std::vector<typename Traits::Config> configs_;
  std::vector<std::string> names_;
};

}  // namespace dialtone::plugins::directory
