// directory.csv: one CsvSource per `[source.<name>]` section.
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "plugins/directory/csv/csv_source.h"

namespace dialtone::plugins::directory {
namespace {

class CsvPlugin final : public sdk::Plugin {
 public:
  explicit CsvPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    configs_.clear();
    for (auto& name : o.instances("source")) {
      auto sc = read_source_config(o, name);
      if (!sc) return sc.error();
      CsvConfig c{std::move(*sc), o.get("source." + name + ".file"), ','};
      if (c.file.empty())
        return sdk::Error::invalid("source " + name + ": file is not set; add `file = /path/to.csv`");
      auto d = o.get("source." + name + ".delimiter", ",");
      if (d == "\\t" || d == "tab") d = "\t";
      if (d.size() != 1)
        return sdk::Error::invalid("source " + name + ": delimiter '" + d +
                                   "' must be one character, e.g. `delimiter = |`");
      c.delimiter = d[0];
      configs_.push_back(std::move(c));
    }
    return {};
  }

  sdk::Status start() override {
    for (auto& c : configs_) {
      auto name = c.source.name;
      auto s = host_.services().provide<sdk::DirectorySource>(name, std::make_shared<CsvSource>(c, host_.log()));
      if (!s) return s;
      names_.push_back(name);
    }
    return {};
  }

  void stop() override {
    for (auto& n : names_) host_.services().withdraw<sdk::DirectorySource>(n);
    names_.clear();
  }

 private:
  sdk::Host& host_;
  std::vector<CsvConfig> configs_;
  std::vector<std::string> names_;
};

constexpr sdk::OptionSpec kOptions[] = {
    {"source.*.file", sdk::OptionType::path, nullptr, "the CSV file (UTF-8, first line is the header)"},
    {"source.*.delimiter", sdk::OptionType::string, ",", "field delimiter, one character (`\\t` for tab)"},
    DIALTONE_DIRECTORY_COMMON_OPTIONS,
    {}};

}  // namespace
}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::CsvPlugin, "directory.csv", "directory", "1.0.0",
                "directory sources read from CSV files", "", "",
                dialtone::plugins::directory::kOptions)
