#include "plugins/records/purge/purger.h"

#include <algorithm>

namespace dialtone::plugins::records {

sdk::Result<PurgeReport> RecordsPurger::purge(int days_to_keep, std::int64_t batch_size,
                                              const std::atomic<bool>& stop) {
  PurgeReport report;
  // One cut-off for every table, so that a call's CEL and its call log go together.
  auto cutoff = store_.exec("SELECT (now() - make_interval(days => $1::int))::text AS t", {std::to_string(days_to_keep)});
  if (!cutoff) return cutoff.error();
  const std::string before = cutoff->get(0, "t");
  for (const auto& t : tables_) {
    auto exists = store_.exec("SELECT to_regclass($1) IS NOT NULL AS e", {std::string(t.table)});
    if (!exists) return exists.error();
    if (exists->get(0, "e") != "t") continue;
    PurgeReport::Table done;
    done.table = t.table;
    // Each statement removes at most batch_size rows and commits on its own:
    // locks are short and calls keep being recorded meanwhile.
    const std::string sql = std::string("DELETE FROM ") + t.table + " WHERE id IN (SELECT id FROM " + t.table +
                            " WHERE " + t.time_column + " < $1::timestamptz LIMIT $2::bigint)";
    for (;;) {
      if (stop.load()) {
        report.interrupted = true;
        break;
      }
      auto r = store_.exec(sql, {before, std::to_string(batch_size)});
      if (!r) return r.error();
      ++done.batches;
      done.deleted += r->affected;
      done.largest_batch = std::max<std::uint64_t>(done.largest_batch, r->affected);
      if (r->affected < static_cast<std::uint64_t>(batch_size)) break;
    }
    report.tables.push_back(done);
    if (report.interrupted) break;
  }
  return report;
}

}  // namespace dialtone::plugins::records
