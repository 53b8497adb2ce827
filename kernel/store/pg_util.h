// libpq helpers shared by the store, the private cluster and the test support:
// RAII handles, DSN redaction, error mapping and result conversion.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

#include <dialtone/result.h>
#include <dialtone/store.h>

namespace dialtone::kernel::pg {

struct ConnDeleter {
  void operator()(PGconn* c) const {
    if (c) PQfinish(c);
  }
};
struct ResultDeleter {
  void operator()(PGresult* r) const {
    if (r) PQclear(r);
  }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// `dsn` without its password, for messages. `had_password` tells whether one was removed.
std::string redact_dsn(std::string_view dsn, bool* had_password = nullptr);

// `dsn` with `key` set to `value` (added or replaced); used to point a DSN at another database.
sdk::Result<std::string> with_param(std::string_view dsn, std::string_view key, std::string_view value);

// A conninfo value quoted when needed: host='/tmp/my dir'.
std::string quote_value(std::string_view value);

// libpq's multi-line messages folded into one trimmed line.
std::string one_line(std::string_view text);

// Connects with a default connect_timeout (10 s) unless the DSN sets one.
ConnPtr connect(const std::string& dsn);

// The one-line message for a failed connection attempt on `conn`, e.g.
//   store: cannot connect to "host=db dbname=x" (password omitted): FATAL: ... — <hint>
std::string connect_error(std::string_view dsn, PGconn* conn, std::string_view hint);

// Maps a failed result (or a lost connection) to an sdk::Error by SQLSTATE.
sdk::Error result_error(PGconn* conn, const PGresult* res);

// One statement with text parameters.
sdk::Result<sdk::QueryResult> exec(PGconn* conn, std::string_view sql, const sdk::Params& params);

// Several statements without parameters (migrations, BEGIN/COMMIT).
sdk::Result<sdk::QueryResult> exec_script(PGconn* conn, const char* sql);

}  // namespace dialtone::kernel::pg
