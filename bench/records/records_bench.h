// The records benchmarks' database: a fresh test database (test_dsn) with
// the CEL and call log tables of records.cel and records.call_logs.
//
// @code
//   dialtone::bench::RecordsDb db;
//   if (!db.store) return 1;   // db.error says why
//   db.store->exec("INSERT INTO cel ...");
// @endcode
#pragma once

#include <memory>
#include <string>

#include "kernel/store/pg_store.h"
#include "plugins/records/call_logs/call_log_schema.h"
#include "plugins/records/cel/cel_writer.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::bench {

struct RecordsDb {
  dialtone::testing::TestBus bus;
  dialtone::testing::TestLogger log;
  std::unique_ptr<dialtone::kernel::PgStore> store;
  std::string error;

  RecordsDb() {
    auto opened = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, bus, log);
    if (!opened) {
      error = opened.error().message;
      return;
    }
    if (!(*opened)->migrate("records.cel", dialtone::plugins::records::cel_migrations()) ||
        !(*opened)->migrate("records.call_logs", dialtone::plugins::records::call_log_migrations())) {
      error = "migrations failed";
      return;
    }
    store = std::move(*opened);
  }
  ~RecordsDb() {
    if (store) store->close();
  }
};

}  // namespace dialtone::bench
