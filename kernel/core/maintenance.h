// One-shot database commands of dialtoned that need the store but no running
// PBX: `dialtoned --generate-call-logs N` (XiVO's `xivo-call-logs -c N`).
// They reach the database as the daemon does (store.dsn, or the private
// cluster under the data dir, started for the command when it is not
// running) and call a SQL function that a plugin installed.
#pragma once

#include <ostream>

#include "kernel/core/setup.h"

namespace dialtone::kernel {

// Builds the call logs of the calls among the `cel_count` last CEL rows not
// yet in a call log (records.call_logs' call_logs_generate()). Prints how
// many; returns the exit code (0 on success).
int generate_call_logs(const KernelSetup& setup, long cel_count, std::ostream& out, std::ostream& err);

}  // namespace dialtone::kernel
