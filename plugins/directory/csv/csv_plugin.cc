// directory.csv: one CsvSource per `[source.<name>]` section.
#include "plugins/directory/common/source_plugin.h"

#include "plugins/directory/csv/csv_source.h"

namespace dialtone::plugins::directory {
namespace {

struct CsvTraits {
  using Config = CsvConfig;
  static sdk::Result<Config> parse(const sdk::Options& o, SourceConfig common) {
    auto name = common.name;
    CsvConfig c{std::move(common), o.get(source_key(name, "file")), ','};
    if (c.file.empty())
      return sdk::Error::invalid("source " + name + ": file is not set; add `file = /path/to.csv`");
    auto d = read_delimiter(o, name);
    if (!d) return d.error();
    c.delimiter = *d;
    return c;
  }
  static sdk::Result<std::shared_ptr<sdk::DirectorySource>> make(const Config& c, sdk::Host& host) {
    return std::shared_ptr<sdk::DirectorySource>(std::make_shared<CsvSource>(c, host.log()));
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
