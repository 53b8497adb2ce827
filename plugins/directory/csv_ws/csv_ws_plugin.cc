// directory.csv_ws: one CsvWsSource per `[source.<name>]` section.
#include "plugins/directory/common/source_plugin.h"

#include "plugins/directory/csv_ws/csv_ws_source.h"

namespace dialtone::plugins::directory {
namespace {

struct CsvWsTraits {
  using Config = CsvWsConfig;
  using Source = CsvWsSource;
  static sdk::Result<Config> parse(const SourceOptions& o, SourceConfig common) {
    CsvWsConfig c;
    c.source = std::move(common);
    c.lookup_url = o.get("lookup_url");
    if (c.lookup_url.rfind("http://", 0) != 0 && c.lookup_url.rfind("https://", 0) != 0)
      return sdk::Error::invalid("source " + o.name() + ": lookup_url '" + c.lookup_url +
                                 "' must be an http:// or https:// URL");
    c.list_url = o.get("list_url");
    auto d = o.delimiter();
    if (!d) return d.error();
    c.delimiter = *d;
    c.timeout = o.get_duration("timeout", std::chrono::seconds(10));
    auto v = o.get("verify_certificate", "true");
    if (v == "false" || v == "no" || v == "off" || v == "0") c.verify_certificate = false;
    else if (v != "true" && v != "yes" && v != "on" && v != "1") c.ca_file = v;
    return c;
  }
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

DIALTONE_PLUGIN(dialtone::plugins::directory::SourcePlugin<dialtone::plugins::directory::CsvWsTraits>, "directory.csv_ws", "directory", "1.0.0",
                "directory sources searched on web services answering CSV", "", "",
                dialtone::plugins::directory::kOptions)
