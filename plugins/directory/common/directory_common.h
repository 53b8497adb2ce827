// Helpers shared by the directory source plugins (plugins/directory/*):
// the options every `[source.<name>]` section accepts, `format_columns`
// templating, accent folding for comparison and sorting, in-memory matching
// (CSV reading and writing: plugins/common/csv/csv.h).
#pragma once

#include <dialtone/directory.h>
#include <dialtone/host.h>
#include <dialtone/options.h>
#include <dialtone/result.h>

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugins/common/csv/csv.h"

namespace dialtone::plugins::directory {

// Option rows common to every source type; splice into a plugin's table with
// DIALTONE_DIRECTORY_COMMON_OPTIONS.
#define DIALTONE_DIRECTORY_COMMON_OPTIONS                                                       \
  {"source.*.searched_columns", ::dialtone::sdk::OptionType::list, "",                          \
   "columns searched for the lookup term"},                                                     \
      {"source.*.first_matched_columns", ::dialtone::sdk::OptionType::list, "",                 \
       "columns compared with a number for reverse lookups"},                                   \
      {"source.*.format_columns", ::dialtone::sdk::OptionType::list, "",                        \
       "added/replaced result fields: `field = template {column}`, comma-separated"},           \
      {"source.*.unique_column", ::dialtone::sdk::OptionType::string, "",                       \
       "column that identifies an entry (needed for favorites)"}

// One `col = template` of format_columns.
struct FormatColumn {
  std::string field;
  std::string templ;
};

struct SourceConfig {
  std::string name;
  std::vector<std::string> searched_columns;
  std::vector<std::string> first_matched_columns;
  std::vector<FormatColumn> format_columns;
  std::string unique_column;
};

// Reads the common keys of `[source.<name>]`. Fails on a malformed
// format_columns item, naming the source and the item.
sdk::Result<SourceConfig> read_source_config(const sdk::Options& options, const std::string& name);

// "{firstname} {lastname}" with the row's values; unknown columns become "".
// "{{" and "}}" are literal braces.
std::string render_template(std::string_view templ, const std::map<std::string, std::string>& row);

// The entry a source returns for one raw row: raw columns, then the
// format_columns applied over them, unique_id from unique_column.
sdk::DirectoryEntry make_entry(const SourceConfig& config,
                               std::map<std::string, std::string> row);

// Lower-cases and strips Latin accents (é -> e, ß -> ss) so that comparisons
// and sorting ignore case and accents. Other characters are kept as is.
std::string fold(std::string_view utf8);

// Relevance of `term` (already folded) in `text` (already folded), as the
// default_json view orders results: 0 whole word, 1 word prefix, 2 anywhere,
// 3 no match.
int match_rank(std::string_view folded_text, std::string_view folded_term);

// Phone numbers compare without spaces, dots, dashes and parentheses.
std::string normalize_number(std::string_view number);

// Rows with a header, searched in memory (CSV, CSV web service results).
class RowTable {
 public:
  RowTable() = default;
  // First row is the header. Rows shorter than the header get empty values.
  RowTable(std::vector<std::vector<std::string>> rows, const SourceConfig& config);

  std::vector<sdk::DirectoryEntry> search(const SourceConfig& config, std::string_view term) const;
  std::optional<sdk::DirectoryEntry> first_match(const SourceConfig& config,
                                                 std::string_view number) const;
  std::vector<sdk::DirectoryEntry> list(const SourceConfig& config,
                                        const std::vector<std::string>& ids) const;
  std::size_t size() const { return rows_.size(); }
  const std::vector<std::string>& header() const { return header_; }

 private:
  sdk::DirectoryEntry entry(const SourceConfig& config, std::size_t i) const;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::string> folded_;  // searched columns of each row, folded, '\x1f'-joined
  std::vector<int> searched_idx_;
  std::vector<int> first_idx_;
  std::unordered_map<std::string, std::size_t> by_number_;  // normalized number -> first row
  int unique_idx_ = -1;
};

// Logs a source's failure once per streak, and its recovery once: a dead
// server does not flood the log, yet the admin sees each change.
class FailureLog {
 public:
  void failed(sdk::Logger& log, const std::string& message);
  void succeeded(sdk::Logger& log, const std::string& source_name);

 private:
  std::mutex mu_;
  std::string last_;
};

}  // namespace dialtone::plugins::directory
