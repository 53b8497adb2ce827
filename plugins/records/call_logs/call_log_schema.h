// The call_log table (XiVO's columns plus the statistics basis), the SQL
// functions that build call logs from CEL as xivo-call-logd does, and the
// reporting view call_log_stats. docs/admin/call-logs.md describes them.
//
// call_logs_generate_for(linkedids text[]) rebuilds the call logs of those
// calls from their CEL rows; call_logs_generate(n) does it for the calls of
// the n last CEL rows not yet in a call log (`dialtoned --generate-call-logs n`).
#pragma once

#include <span>

#include <dialtone/store.h>

namespace dialtone::plugins::records {

std::span<const sdk::Migration> call_log_migrations();

}  // namespace dialtone::plugins::records
