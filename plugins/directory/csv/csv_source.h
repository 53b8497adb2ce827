// A directory source reading a CSV file (seed 5.11.3, xivo-dird "csv"
// back-end). The file is re-read when its size or mtime changes, checked on
// each query.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {

struct CsvConfig {
  SourceConfig source;
  std::filesystem::path file;
  char delimiter = ',';
};

class CsvSource final : public sdk::DirectorySource {
 public:
  CsvSource(CsvConfig config, sdk::Logger& log);

  std::string_view name() const override { return config_.source.name; }
  std::string_view type() const override { return "csv"; }
  sdk::Result<std::vector<sdk::DirectoryEntry>> search(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::optional<sdk::DirectoryEntry>> first_match(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::vector<sdk::DirectoryEntry>> list(const std::vector<std::string>& ids,
                                                     const sdk::DirectoryQuery& q) override;

 private:
  sdk::Result<std::shared_ptr<const RowTable>> table();

  CsvConfig config_;
  sdk::Logger& log_;
  FailureLog failures_;
  std::mutex mu_;
  std::shared_ptr<const RowTable> table_;
  std::filesystem::file_time_type mtime_{};
  std::uintmax_t size_ = static_cast<std::uintmax_t>(-1);
};

}  // namespace dialtone::plugins::directory
