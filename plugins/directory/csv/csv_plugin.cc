// directory.csv: one CsvSource per `[source.<name>]` section.
#include "plugins/directory/common/source_plugin.h"

#include "plugins/directory/csv/csv_source.h"

namespace dialtone::plugins::directory {
namespace {

struct CsvTraits {
  using Config = CsvConfig;
  using Source = CsvSource;
  static sdk::Result<Config> parse(const SourceOptions& o, SourceConfig common) {
    CsvConfig c{std::move(common), o.get("file"), ','};
    if (c.file.empty())
      return sdk::Error::invalid("source " + o.name() + ": file is not set; add `file = /path/to.csv`");
    auto d = o.delimiter();
    if (!d) return d.error();
    c.delimiter = *d;
    return c;
  }
};

constexpr sdk::OptionSpec kOptions[] = {
    {"source.*.file", sdk::OptionType::path, nullptr, "the CSV file (UTF-8, first line is the header)"},
    {"source.*.delimiter", sdk::OptionType::string, ",", "field delimiter, one character (`\\t` for tab)"},
    DIALTONE_DIRECTORY_COMMON_OPTIONS,
    {}};

}  // namespace
}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::SourcePlugin<dialtone::plugins::directory::CsvTraits>, "directory.csv", "directory", "1.0.0",
                "directory sources read from CSV files", "", "",
                dialtone::plugins::directory::kOptions)
