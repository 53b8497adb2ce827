// PostgreSQL for tests: each call to test_dsn() returns a DSN to a new, empty
// database that is dropped when the test process exits.
//
// @code
//   #include "tests/support/pg_fixture.h"
//   auto store = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, bus, log);
// @endcode
//
// Server: $DIALTONE_TEST_DSN when set (any role allowed to CREATE DATABASE);
// otherwise one private cluster shared by every test process of the run, in
// $DIALTONE_TEST_PGDIR or /tmp/dialtone-test-pg, started on first use (under a
// file lock) and left running for the next processes. Failure to get a server
// aborts the process with one line on stderr: tests cannot run without it.
#pragma once

#include <string>

namespace dialtone::testing {

// A DSN (libpq key=value form) to a fresh empty database "dt_test_<pid>_<random>".
std::string test_dsn();

// The DSN of the server's maintenance database ("postgres"), for tests that
// need to create roles or inspect pg_stat_activity. Starts the server if needed.
std::string test_admin_dsn();

}  // namespace dialtone::testing
