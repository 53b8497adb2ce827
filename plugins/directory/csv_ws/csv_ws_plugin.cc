// directory.csv_ws: one CsvWsSource per `[source.<name>]` section.
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "plugins/directory/csv_ws/csv_ws_source.h"

namespace dialtone::plugins::directory {
namespace {

class CsvWsPlugin final : public sdk::Plugin {
 public:
  explicit CsvWsPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    configs_.clear();
    for (auto& name : o.instances("source")) {
      auto sc = read_source_config(o, name);
      if (!sc) return sc.error();
      auto k = [&](const char* key) { return "source." + name + "." + key; };
      CsvWsConfig c;
      c.source = std::move(*sc);
      c.lookup_url = o.get(k("lookup_url"));
      if (c.lookup_url.rfind("http://", 0) != 0 && c.lookup_url.rfind("https://", 0) != 0)
        return sdk::Error::invalid("source " + name + ": lookup_url '" + c.lookup_url +
                                   "' must be an http:// or https:// URL");
      c.list_url = o.get(k("list_url"));
      auto d = o.get(k("delimiter"), ",");
      if (d == "\\t" || d == "tab") d = "\t";
      if (d.size() != 1)
        return sdk::Error::invalid("source " + name + ": delimiter '" + d +
                                   "' must be one character, e.g. `delimiter = |`");
      c.delimiter = d[0];
      c.timeout = o.get_duration(k("timeout"), std::chrono::seconds(10));
      auto v = o.get(k("verify_certificate"), "true");
      if (v == "false" || v == "no" || v == "off" || v == "0") c.verify_certificate = false;
      else if (v != "true" && v != "yes" && v != "on" && v != "1") c.ca_file = v;
      configs_.push_back(std::move(c));
    }
    return {};
  }

  sdk::Status start() override {
    for (auto& c : configs_) {
      auto name = c.source.name;
      auto s = host_.services().provide<sdk::DirectorySource>(name, std::make_shared<CsvWsSource>(c, host_.log()));
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
  std::vector<CsvWsConfig> configs_;
  std::vector<std::string> names_;
};

constexpr sdk::OptionSpec kOptions[] = {
    {"source.*.lookup_url", sdk::OptionType::string, nullptr, "URL queried for searches and reverse lookups"},
    {"source.*.list_url", sdk::OptionType::string, "", "URL listing every entry (favorites)"},
    {"source.*.delimiter", sdk::OptionType::string, ",", "field delimiter of the answer, one character"},
    {"source.*.timeout", sdk::OptionType::duration, "10s", "a request slower than this is aborted"},
    {"source.*.verify_certificate", sdk::OptionType::string, "true",
     "true, false, or the path of a CA bundle to verify the HTTPS server with"},
    DIALTONE_DIRECTORY_COMMON_OPTIONS,
    {}};

}  // namespace
}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::CsvWsPlugin, "directory.csv_ws", "directory", "1.0.0",
                "directory sources searched on web services answering CSV", "", "",
                dialtone::plugins::directory::kOptions)
