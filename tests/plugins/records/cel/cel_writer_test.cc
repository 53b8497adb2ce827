// CelWriter against a real PostgreSQL: rows land in `cel` in order with
// XiVO's columns, the calls a batch closes are reported, and rows a crashed
// process had queued are written by the next start from the spool, which
// says how many.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include <gtest/gtest.h>

#include "kernel/store/pg_store.h"
#include "plugins/records/cel/cel_writer.h"
#include "tests/support/eventually.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace {

namespace fs = std::filesystem;
using dialtone::plugins::records::CelRow;
using dialtone::plugins::records::CelWriter;
using dialtone::plugins::records::cel_migrations;

CelRow row(const std::string& type, const std::string& uniqueid, const std::string& linkedid, std::int64_t at) {
  CelRow r;
  r.eventtype = type;
  r.eventtime_ms = at;
  r.uniqueid = uniqueid;
  r.linkedid = linkedid;
  r.cid_name = "Zoë, \"the\" caller";
  r.cid_num = "1001";
  r.channame = "SIP/alice-00000001";
  return r;
}

std::unique_ptr<dialtone::kernel::PgStore> open(const std::string& dsn, dialtone::testing::TestBus& bus,
                                                dialtone::testing::TestLogger& log) {
  auto s = dialtone::kernel::PgStore::open({.dsn = dsn}, bus, log);
  if (!s) return nullptr;
  auto store = std::move(*s);
  if (!store->migrate("records.cel", cel_migrations())) return nullptr;
  return store;
}

std::string join(const dialtone::testing::TestLogger& log) {
  std::string out;
  for (auto& l : log.lines()) out += l + "\n";
  return out;
}

fs::path temp_spool() {
  auto p = fs::temp_directory_path() / ("dt-cel-spool-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::rand()));
  fs::remove(p);
  return p;
}

using dialtone::testing::eventually;

// A fresh database with the cel schema, its bus and log.
class CelWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open(dsn_, bus_, log_);
    ASSERT_TRUE(store_) << join(log_);
  }

  // One value of `sql` (a count), "" when the query fails.
  std::string value(const std::string& sql) {
    auto r = store_->exec(sql);
    EXPECT_TRUE(r) << r.error().message;
    return r && !r->rows.empty() ? r->get(0, r->columns.at(0)) : std::string();
  }

  const std::string dsn_ = dialtone::testing::test_dsn();
  dialtone::testing::TestBus bus_;
  dialtone::testing::TestLogger log_;
  std::unique_ptr<dialtone::kernel::PgStore> store_;
};

TEST_F(CelWriterTest, WritesRowsInOrderAndReportsEndedCalls) {
  auto spool = temp_spool();
  std::vector<std::string> ended;
  {
    CelWriter w(*store_, log_, {.batch_size = 10, .spool = spool, .writer_key = "t"},
                [&](const std::vector<std::string>& ids) { ended.insert(ended.end(), ids.begin(), ids.end()); });
    ASSERT_TRUE(w.start());
    for (int i = 0; i < 25; ++i) {
      std::string call = "call-" + std::to_string(i / 5);
      w.push({row(i % 5 == 4 ? "LINKEDID_END" : "CHAN_START", call + "-" + std::to_string(i), call,
                  1700000000000 + i)});
    }
    w.stop();
    EXPECT_EQ(w.written(), 25u);
    EXPECT_EQ(w.dropped(), 0u);
  }
  auto r = store_->exec("SELECT eventtype, uniqueid, linkedid, cid_name, amaflags, "
                        "extract(epoch FROM eventtime)*1000 AS ms, call_log_id FROM cel ORDER BY id");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rows.size(), 25u);
  for (std::size_t i = 0; i < 25; ++i) {
    EXPECT_EQ(r->get(i, "uniqueid"), "call-" + std::to_string(i / 5) + "-" + std::to_string(i)) << i;
    EXPECT_EQ(std::stoll(r->get(i, "ms")), 1700000000000 + static_cast<long long>(i)) << i;
  }
  EXPECT_EQ(r->get(0, "cid_name"), "Zoë, \"the\" caller");
  EXPECT_EQ(r->get(0, "amaflags"), "3");
  EXPECT_FALSE(r->rows[0][r->column("call_log_id")].has_value());
  EXPECT_EQ(ended, (std::vector<std::string>{"call-0", "call-1", "call-2", "call-3", "call-4"}));
  EXPECT_EQ(value("SELECT last_seq FROM cel_writer WHERE writer = 't'"), "25");
  EXPECT_EQ(fs::file_size(spool), 0u) << "the spool is emptied once its rows are committed";
  fs::remove(spool);
}

// A child process queues rows and dies without writing them (its batch would
// only be written after an hour, and seven rows stay under the batch size of
// eight, so nothing wakes the writer before the crash); the next writer on the
// same spool writes them and logs how many.
TEST_F(CelWriterTest, RowsQueuedAtACrashAreWrittenByTheNextStart) {
  auto spool = temp_spool();
  store_.reset();  // no connection or thread of this process crosses the fork
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dialtone::testing::TestBus bus;
    dialtone::testing::TestLogger log;
    auto store = open(dsn_, bus, log);
    if (!store) _exit(2);
    // Eight rows committed by a first batch, seven more queued at the crash.
    auto* w = new CelWriter(*store, log, {.batch_size = 8, .batch_interval = std::chrono::hours(1),
                                          .spool = spool, .writer_key = "crash"});
    if (!w->start()) _exit(3);
    std::vector<CelRow> first;
    for (int i = 0; i < 8; ++i) first.push_back(row("CHAN_START", "a" + std::to_string(i), "a", 1 + i));
    w->push(std::move(first));
    if (!eventually([&] { return w->written() == 8; })) _exit(4);
    std::vector<CelRow> rest;
    for (int i = 0; i < 7; ++i) rest.push_back(row("CHAN_START", "b" + std::to_string(i), "b", 10 + i));
    for (auto& r : rest) w->push({r});
    _exit(0);  // no stop(), no destructor: the process is gone
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child could not queue its rows";
  // A line half-written by the crash.
  std::ofstream(spool, std::ios::app) << "{\"seq\":99,\"eventtype\":\"CHAN_";

  store_ = open(dsn_, bus_, log_);
  ASSERT_TRUE(store_);
  EXPECT_EQ(value("SELECT count(*) FROM cel"), "8");
  CelWriter w(*store_, log_, {.spool = spool, .writer_key = "crash"});
  ASSERT_TRUE(w.start());
  EXPECT_EQ(w.recovered(), 7u);
  EXPECT_TRUE(log_.contains("7 CEL row(s) of the last batch were not written")) << join(log_);
  EXPECT_TRUE(log_.contains("1 damaged line(s)")) << join(log_);
  w.push({row("CHAN_START", "c", "c", 100)});
  w.stop();
  auto after = store_->exec("SELECT uniqueid FROM cel ORDER BY id");
  ASSERT_TRUE(after);
  ASSERT_EQ(after->rows.size(), 16u);
  EXPECT_EQ(after->get(8, "uniqueid"), "b0");
  EXPECT_EQ(after->get(14, "uniqueid"), "b6");
  EXPECT_EQ(after->get(15, "uniqueid"), "c");
  // A second start finds nothing left to write.
  CelWriter again(*store_, log_, {.spool = spool, .writer_key = "crash"});
  ASSERT_TRUE(again.start());
  EXPECT_EQ(again.recovered(), 0u);
  again.stop();
  fs::remove(spool);
}

// The database refuses the inserts for a while (the table is renamed away):
// the writer logs one line, keeps the rows and writes them once it can;
// rows beyond the queue's bound are dropped, counted and logged, never
// blocking push().
TEST_F(CelWriterTest, AFailingDatabaseKeepsRowsUpToTheBoundAndRecovers) {
  ASSERT_TRUE(store_->exec("ALTER TABLE cel RENAME TO cel_away"));
  CelWriter w(*store_, log_, {.batch_size = 10, .batch_interval = std::chrono::milliseconds(50), .queue_size = 100,
                            .spool = {}, .writer_key = "failing"});
  ASSERT_TRUE(w.start());
  for (int i = 0; i < 30; ++i) w.push({row("CHAN_START", "f" + std::to_string(i), "f", i + 1)});
  ASSERT_TRUE(eventually([&] { return log_.contains("cannot write"); })) << join(log_);
  // The failing batch (10 rows at most) is held apart; the queue takes 100
  // more at most, whatever comes: the rest is dropped and counted.
  for (int i = 30; i < 200; ++i) w.push({row("CHAN_START", "f" + std::to_string(i), "f", i + 1)});
  const auto dropped = w.dropped();
  EXPECT_GE(dropped, 90u);
  EXPECT_LE(dropped, 100u);
  ASSERT_TRUE(store_->exec("ALTER TABLE cel_away RENAME TO cel"));
  EXPECT_TRUE(eventually([&] { return w.written() >= 200 - dropped; }));
  EXPECT_EQ(w.written(), 200 - dropped);
  w.stop();
  EXPECT_TRUE(log_.contains("writing CEL again")) << join(log_);
  std::uint64_t logged_drops = 0;  // one line per burst of drops
  for (auto& l : log_.lines())
    if (auto at = l.find(" CEL row(s) dropped"); at != std::string::npos) {
      auto from = l.rfind(' ', at - 1) + 1;
      logged_drops += std::stoull(l.substr(from, at - from));
    }
  EXPECT_EQ(logged_drops, dropped) << join(log_);
  std::size_t errors = 0;
  for (auto& l : log_.lines()) errors += l.find("cannot write") != std::string::npos;
  EXPECT_EQ(errors, 1u) << "one line per outage, not one per retry:\n" << join(log_);
  EXPECT_EQ(value("SELECT count(*) FROM cel"), std::to_string(200 - dropped));
}

// A backlog (here 100 rows queued at once, batch_size 10) is written in
// bigger INSERTs, up to eight batches each, and none of it is dropped: the
// first INSERT carries 80 rows, the 20 left (two batches) go 10 at a time.
TEST_F(CelWriterTest, ABacklogIsWrittenInBiggerBatches) {
  std::mutex m;
  std::vector<std::size_t> batches;  // rows per committed INSERT (each row ends a call)
  {
    CelWriter w(*store_, log_, {.batch_size = 10, .batch_interval = std::chrono::milliseconds(50), .queue_size = 1000,
                              .spool = {}, .writer_key = "backlog"},
                [&](const std::vector<std::string>& ids) {
                  std::lock_guard lock(m);
                  batches.push_back(ids.size());
                });
    ASSERT_TRUE(w.start());
    std::vector<CelRow> rows;
    for (int i = 0; i < 100; ++i) {
      auto call = "backlog-" + std::to_string(i);
      rows.push_back(row("LINKEDID_END", call, call, 1700000000000 + i));
    }
    w.push(std::move(rows));  // queued under one lock: the writer sees all 100
    EXPECT_TRUE(eventually([&] { return w.written() >= 100; }));
    w.stop();
    EXPECT_EQ(w.written(), 100u);
    EXPECT_EQ(w.dropped(), 0u);
  }
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], 80u);
  EXPECT_EQ(batches[1], 10u);
  EXPECT_EQ(batches[2], 10u);
  EXPECT_EQ(value("SELECT count(*) FROM cel WHERE linkedid LIKE 'backlog-%'"), "100");
}

}  // namespace
