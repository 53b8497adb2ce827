// A directory source querying a web service that answers CSV (seed 4.1.1
// "csv_ws", 5.11.4): a search sends the term as one query parameter per
// searched column to lookup_url; a reverse lookup sends the number as one
// parameter per first-matched column and keeps rows whose column equals it;
// favorites read list_url.
#pragma once

#include <chrono>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {

struct CsvWsConfig {
  SourceConfig source;
  std::string lookup_url;
  std::string list_url;  // empty: favorites unsupported
  char delimiter = ',';
  std::chrono::milliseconds timeout{10000};
  bool verify_certificate = true;
  std::string ca_file;  // verify_certificate given as a CA bundle path
};

class CsvWsSource final : public sdk::DirectorySource {
 public:
  CsvWsSource(CsvWsConfig config, sdk::Logger& log);

  std::string_view name() const override { return config_.source.name; }
  std::string_view type() const override { return "csv_ws"; }
  sdk::Result<std::vector<sdk::DirectoryEntry>> search(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::optional<sdk::DirectoryEntry>> first_match(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::vector<sdk::DirectoryEntry>> list(const std::vector<std::string>& ids,
                                                     const sdk::DirectoryQuery& q) override;

 private:
  // GET `url` with `params`; the body's CSV rows (header first).
  sdk::Result<std::vector<std::vector<std::string>>> fetch(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& params,
      std::chrono::steady_clock::time_point deadline);

  CsvWsConfig config_;
  sdk::Logger& log_;
  FailureLog failures_;
};

}  // namespace dialtone::plugins::directory
