// Removes records older than a number of days, table by table, in bounded
// batches (one short DELETE each), as xivo-purge-db does nightly.
//
// @code
//   RecordsPurger purger(store, kPurgedTables);
//   auto report = purger.purge(365, 10000, stop_flag);   // blocking: a thread of its own
// @endcode
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <dialtone/result.h>
#include <dialtone/store.h>

namespace dialtone::plugins::records {

// A purged table and the column that dates its rows.
struct PurgedTable {
  const char* table;
  const char* time_column;
};

// Seed "Purge Logs": call_log and cel (queue_log and the stat_* tables join
// this list when they exist here).
inline constexpr PurgedTable kPurgedTables[] = {{"cel", "eventtime"}, {"call_log", "date"}};

struct PurgeReport {
  struct Table {
    std::string table;
    std::uint64_t deleted = 0;
    std::uint64_t batches = 0;          // DELETE statements run
    std::uint64_t largest_batch = 0;    // rows removed by the largest one
  };
  std::vector<Table> tables;
  bool interrupted = false;  // `stop` was raised: the rest waits for the next run
};

class RecordsPurger {
 public:
  RecordsPurger(sdk::Store& store, std::span<const PurgedTable> tables) : store_(store), tables_(tables) {}

  // Deletes rows older than `days_to_keep` days (0: every row, as XiVO),
  // `batch_size` rows per statement, until none is left or `stop` is raised.
  // A table that does not exist (its plugin is off) is skipped.
  sdk::Result<PurgeReport> purge(int days_to_keep, std::int64_t batch_size, const std::atomic<bool>& stop);

 private:
  sdk::Store& store_;
  std::span<const PurgedTable> tables_;
};

}  // namespace dialtone::plugins::records
