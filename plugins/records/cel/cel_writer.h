// Writes CEL rows to PostgreSQL off the call path: rows queue in memory
// (bounded), a thread of its own inserts them in batches (one statement per
// batch), and every row is first appended to a spool file so that rows a
// crash left unwritten are written at the next start, which says how many.
//
// @code
//   CelWriter w(store, log, {.batch_size = 500, .spool = data_dir / "cel.spool"});
//   if (auto s = w.start(); !s) return s;     // recovers the spool first
//   w.push(rows);                             // any thread; never waits on the database
//   w.stop();                                 // writes what is queued
// @endcode
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/stringbuffer.h>

#include <dialtone/host.h>
#include <dialtone/result.h>
#include <dialtone/store.h>

#include "plugins/records/cel/cel_mapper.h"

namespace dialtone::plugins::records {

struct CelWriterConfig {
  std::size_t batch_size = 500;                       // rows per INSERT (a backlog: up to 8 times this)
  std::chrono::milliseconds batch_interval{1000};     // a partial batch waits this long at most
  std::size_t queue_size = 100000;                    // rows held in memory at most; more are dropped
  std::filesystem::path spool;                        // empty: no spool (rows queued at a crash are lost)
  std::string writer_key = "default";                 // names this writer's progress row in cel_writer
};

// The schema of `cel` and `cel_writer`, for Store::migrate("records.cel", ...).
std::span<const sdk::Migration> cel_migrations();

class CelWriter {
 public:
  // `on_written` runs on the writer thread after each committed batch with
  // the linked ids whose LINKEDID_END it held.
  CelWriter(sdk::Store& store, sdk::Logger& log, CelWriterConfig config,
            std::function<void(const std::vector<std::string>&)> on_written = {});
  ~CelWriter();

  // Writes the spooled rows a previous run left, then starts the thread.
  sdk::Status start();
  // Queues rows; drops them (counted, logged by the writer thread) when the
  // queue is full. Never touches the database.
  void push(std::vector<CelRow> rows);
  // Writes what is queued (retrying briefly if the database is down), then stops.
  void stop();

  std::uint64_t written() const { return written_.load(); }
  std::uint64_t dropped() const { return dropped_.load(); }
  std::uint64_t recovered() const { return recovered_; }

 private:
  // A queued row, serialised once as the JSON object that both the spool
  // and the INSERT take.
  struct Queued {
    std::uint64_t seq = 0;
    std::string json;
    std::string ended;  // the linked id of a LINKEDID_END row, else empty
  };
  void run();
  sdk::Status write(const std::vector<Queued>& batch);
  void truncate_spool_if_idle();

  sdk::Store& store_;
  sdk::Logger& log_;
  CelWriterConfig config_;
  std::function<void(const std::vector<std::string>&)> on_written_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  std::FILE* spool_ = nullptr;
  bool stopping_ = false;
  std::uint64_t next_seq_ = 1;
  rapidjson::StringBuffer json_buf_;  // push()'s, under mutex_
  std::thread thread_;
  std::atomic<std::uint64_t> written_{0}, dropped_{0};
  std::uint64_t recovered_ = 0;
};

// One row as the JSON object the spool and the INSERT use.
std::string cel_row_json(const CelRow& row);

}  // namespace dialtone::plugins::records
