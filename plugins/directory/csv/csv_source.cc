#include "plugins/directory/csv/csv_source.h"

#include <dialtone/files.h>

namespace dialtone::plugins::directory {

CsvSource::CsvSource(CsvConfig config, sdk::Logger& log) : config_(std::move(config)), log_(log) {}

sdk::Result<std::shared_ptr<const RowTable>> CsvSource::table() {
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(config_.file, ec);
  auto size = ec ? 0 : std::filesystem::file_size(config_.file, ec);
  std::lock_guard lock(mu_);
  if (ec) {
    auto msg = "directory source " + config_.source.name + ": cannot read " +
               config_.file.string() + " (" + ec.message() +
               "); fix source." + config_.source.name + ".file";
    failures_.failed(log_, msg);
    if (table_) return table_;  // keep answering from the last good copy
    return sdk::Error::unavailable(msg);
  }
  if (table_ && mtime == mtime_ && size == size_) return table_;
  auto text = sdk::read_file(config_.file);
  if (!text) {
    auto msg = "directory source " + config_.source.name + ": cannot read " + config_.file.string() +
               "; check its permissions";
    failures_.failed(log_, msg);
    if (table_) return table_;
    return sdk::Error::unavailable(msg);
  }
  table_ = std::make_shared<const RowTable>(common::csv::read_rows(*text, config_.delimiter), config_.source);
  mtime_ = mtime;
  size_ = size;
  failures_.succeeded(log_, config_.source.name);
  return table_;
}

sdk::Result<std::vector<sdk::DirectoryEntry>> CsvSource::search(const sdk::DirectoryQuery& q) {
  auto t = table();
  if (!t) return t.error();
  return (*t)->search(config_.source, q.term);
}

sdk::Result<std::optional<sdk::DirectoryEntry>> CsvSource::first_match(const sdk::DirectoryQuery& q) {
  auto t = table();
  if (!t) return t.error();
  return (*t)->first_match(config_.source, q.term);
}

sdk::Result<std::vector<sdk::DirectoryEntry>> CsvSource::list(const std::vector<std::string>& ids,
                                                              const sdk::DirectoryQuery&) {
  if (config_.source.unique_column.empty())
    return sdk::Error::unsupported("directory source " + config_.source.name +
                                   " has no unique_column; set one to use favorites");
  auto t = table();
  if (!t) return t.error();
  return (*t)->list(config_.source, ids);
}

}  // namespace dialtone::plugins::directory
