#include "plugins/records/cel/cel_writer.h"

#include <fstream>

#include <pthread.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dialtone::plugins::records {
namespace {

// XiVO's cel columns. Text rather than varchar(n): a long caller name must
// not make a whole batch fail.
constexpr sdk::Migration kCelMigrations[] = {
    {1, "create cel",
     "CREATE TABLE IF NOT EXISTS cel ("
     " id bigserial PRIMARY KEY,"
     " eventtype text NOT NULL,"
     " eventtime timestamptz NOT NULL,"
     " userdeftype text NOT NULL DEFAULT '',"
     " cid_name text NOT NULL DEFAULT '', cid_num text NOT NULL DEFAULT '', cid_ani text NOT NULL DEFAULT '',"
     " cid_rdnis text NOT NULL DEFAULT '', cid_dnid text NOT NULL DEFAULT '',"
     " exten text NOT NULL DEFAULT '', context text NOT NULL DEFAULT '', channame text NOT NULL DEFAULT '',"
     " appname text NOT NULL DEFAULT '', appdata text NOT NULL DEFAULT '',"
     " amaflags integer NOT NULL DEFAULT 3,"
     " accountcode text NOT NULL DEFAULT '', peeraccount text NOT NULL DEFAULT '',"
     " uniqueid text NOT NULL, linkedid text NOT NULL,"
     " userfield text NOT NULL DEFAULT '', peer text NOT NULL DEFAULT '',"
     " call_log_id integer,"
     " extra text);"
     "CREATE INDEX IF NOT EXISTS cel__idx__uniqueid ON cel (uniqueid);"
     "CREATE INDEX IF NOT EXISTS cel__idx__linkedid ON cel (linkedid);"
     "CREATE INDEX IF NOT EXISTS cel__idx__eventtime ON cel (eventtime);"
     "CREATE INDEX IF NOT EXISTS cel__idx__call_log_id ON cel (call_log_id);"
     // Progress of each writer (one per dialtoned), for crash recovery.
     "CREATE TABLE IF NOT EXISTS cel_writer (writer text PRIMARY KEY, last_seq bigint NOT NULL);"},
    // Call-log generation sets call_log_id on each row of a call once, soon
    // after the insert. Without an index on that column and with room left in
    // each page, PostgreSQL rewrites the row in its own page and touches no
    // index (a HOT update) instead of adding an entry to all five indexes:
    // about a third of the database's CPU per call (docs/performance.md).
    // A call's rows are found by linkedid (indexed), call_log.linkedid too.
    {2, "cel rows marked with their call log without index writes",
     "DROP INDEX IF EXISTS cel__idx__call_log_id;"
     "ALTER TABLE cel SET (fillfactor = 70);"},
};

// A backlog of more than kBacklogAfter batches is written kBacklogBatches
// batches at a time.
constexpr std::size_t kBacklogAfter = 4;
constexpr std::size_t kBacklogBatches = 8;

// One statement for the whole batch: the rows travel as one JSON array.
constexpr const char* kInsert =
    "INSERT INTO cel (eventtype, eventtime, userdeftype, cid_name, cid_num, cid_ani, cid_rdnis, cid_dnid, exten, "
    "context, channame, appname, appdata, amaflags, accountcode, peeraccount, uniqueid, linkedid, userfield, peer, "
    "extra) "
    "SELECT eventtype, to_timestamp(eventtime_ms / 1000.0), userdeftype, cid_name, cid_num, cid_ani, cid_rdnis, "
    "cid_dnid, exten, context, channame, appname, appdata, amaflags, accountcode, peeraccount, uniqueid, linkedid, "
    "userfield, peer, NULLIF(extra, '') "
    "FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, eventtype text, eventtime_ms bigint, userdeftype text, "
    "cid_name text, cid_num text, cid_ani text, cid_rdnis text, cid_dnid text, exten text, context text, "
    "channame text, appname text, appdata text, amaflags integer, accountcode text, peeraccount text, "
    "uniqueid text, linkedid text, userfield text, peer text, extra text) "
    "WHERE seq > $2::bigint ORDER BY seq";

constexpr const char* kProgress =
    "INSERT INTO cel_writer (writer, last_seq) VALUES ($1, $2::bigint) ON CONFLICT (writer) DO UPDATE "
    "SET last_seq = GREATEST(cel_writer.last_seq, EXCLUDED.last_seq)";

}  // namespace

std::span<const sdk::Migration> cel_migrations() { return kCelMigrations; }

namespace {

// Writes one row into `sb` (cleared first; its capacity is kept, so that a
// writer that reuses it allocates nothing past its first rows).
void write_row_json(const CelRow& r, rapidjson::StringBuffer& sb) {
  sb.Clear();
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto s = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("seq");
  w.Uint64(r.seq);
  s("eventtype", r.eventtype);
  w.Key("eventtime_ms");
  w.Int64(r.eventtime_ms);
  s("userdeftype", r.userdeftype);
  s("cid_name", r.cid_name);
  s("cid_num", r.cid_num);
  s("cid_ani", r.cid_ani);
  s("cid_rdnis", r.cid_rdnis);
  s("cid_dnid", r.cid_dnid);
  s("exten", r.exten);
  s("context", r.context);
  s("channame", r.channame);
  s("appname", r.appname);
  s("appdata", r.appdata);
  w.Key("amaflags");
  w.Int(r.amaflags);
  s("accountcode", r.accountcode);
  s("peeraccount", r.peeraccount);
  s("uniqueid", r.uniqueid);
  s("linkedid", r.linkedid);
  s("userfield", r.userfield);
  s("peer", r.peer);
  s("extra", r.extra);
  w.EndObject();
}

}  // namespace

std::string cel_row_json(const CelRow& r) {
  rapidjson::StringBuffer sb;
  write_row_json(r, sb);
  return std::string(sb.GetString(), sb.GetSize());
}

CelWriter::CelWriter(sdk::Store& store, sdk::Logger& log, CelWriterConfig config,
                     std::function<void(const std::vector<std::string>&)> on_written)
    : store_(store), log_(log), config_(std::move(config)), on_written_(std::move(on_written)) {}

CelWriter::~CelWriter() { stop(); }

sdk::Status CelWriter::start() {
  auto last = store_.exec("SELECT last_seq FROM cel_writer WHERE writer = $1", {config_.writer_key});
  if (!last) return sdk::Error::unavailable("records.cel: cannot read cel_writer: " + last.error().message);
  std::uint64_t last_seq = last->rows.empty() ? 0 : std::stoull(last->get(0, "last_seq", "0"));
  next_seq_ = last_seq + 1;

  if (!config_.spool.empty()) {
    // Rows spooled but never committed: the previous run stopped (or crashed)
    // before their batch was written.
    std::ifstream in(config_.spool);
    std::string line;
    rapidjson::StringBuffer rows;
    rapidjson::Writer<rapidjson::StringBuffer> w(rows);
    w.StartArray();
    std::size_t pending = 0, damaged = 0;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str(), line.size());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("seq") || !d["seq"].IsUint64()) {
        ++damaged;  // a line cut by the crash
        continue;
      }
      auto seq = d["seq"].GetUint64();
      if (seq >= next_seq_) next_seq_ = seq + 1;
      if (seq <= last_seq) continue;
      ++pending;
      w.RawValue(line.data(), line.size(), rapidjson::kObjectType);  // parsed above: a whole object
    }
    w.EndArray();
    const std::string array(rows.GetString(), rows.GetSize());
    if (pending) {
      auto s = store_.transaction([&](sdk::Transaction& tx) -> sdk::Status {
        auto r = tx.exec(kInsert, {array, std::to_string(last_seq)});
        if (!r) return r.error();
        if (auto p = tx.exec(kProgress, {config_.writer_key, std::to_string(next_seq_ - 1)}); !p) return p.error();
        return {};
      });
      if (!s)
        return sdk::Error::unavailable("records.cel: cannot write the " + std::to_string(pending) +
                                       " CEL row(s) left in " + config_.spool.string() + ": " + s.error().message);
      recovered_ = pending;
      log_.warn("records.cel: " + std::to_string(pending) +
                " CEL row(s) of the last batch were not written when dialtoned stopped; written now from " +
                config_.spool.string());
    }
    if (damaged)
      log_.warn("records.cel: " + std::to_string(damaged) + " damaged line(s) in " + config_.spool.string() +
                " skipped (cut by the stop); those CEL rows are lost");
    spool_ = std::fopen(config_.spool.c_str(), "w");
    if (!spool_)
      return sdk::Error::unavailable("records.cel: cannot open the spool " + config_.spool.string() +
                                     " for writing; check the data directory's permissions");
  }
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "cel-writer");
  return {};
}

void CelWriter::push(std::vector<CelRow> rows) {
  if (rows.empty()) return;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (queue_.size() + rows.size() > config_.queue_size) {
      dropped_ += rows.size();
      return;
    }
    for (auto& r : rows) {
      r.seq = next_seq_++;
      Queued q;
      q.seq = r.seq;
      // Serialised into the reused buffer, then copied once at its exact
      // size: a row's JSON is about 600 bytes, and growing a fresh buffer
      // (and the string again for the spool's newline) past 1 KiB per row
      // was most of this thread's time in malloc (docs/performance.md).
      write_row_json(r, json_buf_);
      q.json.assign(json_buf_.GetString(), json_buf_.GetSize());
      if (r.eventtype == "LINKEDID_END") q.ended = std::move(r.linkedid);
      if (spool_) {
        std::fwrite(q.json.data(), 1, q.json.size(), spool_);
        std::fputc('\n', spool_);
      }
      queue_.push_back(std::move(q));
    }
    // Handed to the kernel: a crash of the process no longer loses it.
    if (spool_) std::fflush(spool_);
    wake = queue_.size() >= config_.batch_size;
  }
  if (wake) cv_.notify_one();
}

void CelWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (spool_) {
    std::fclose(spool_);
    spool_ = nullptr;
  }
}

sdk::Status CelWriter::write(const std::vector<Queued>& batch) {
  std::size_t size = 2;
  for (auto& q : batch) size += q.json.size() + 1;
  rapidjson::StringBuffer rows(nullptr, size);
  rapidjson::Writer<rapidjson::StringBuffer> w(rows);
  w.StartArray();
  std::vector<std::string> ended;
  for (auto& q : batch) {
    w.RawValue(q.json.data(), q.json.size(), rapidjson::kObjectType);  // cel_row_json()'s object
    if (!q.ended.empty()) ended.push_back(q.ended);
  }
  w.EndArray();
  const std::string array(rows.GetString(), rows.GetSize());
  auto s = store_.transaction([&](sdk::Transaction& tx) -> sdk::Status {
    if (auto r = tx.exec(kInsert, {array, "0"}); !r) return r.error();
    if (auto p = tx.exec(kProgress, {config_.writer_key, std::to_string(batch.back().seq)}); !p) return p.error();
    return {};
  });
  if (!s) return s;
  written_ += batch.size();
  if (on_written_ && !ended.empty()) on_written_(ended);
  return {};
}

void CelWriter::truncate_spool_if_idle() {
  // Everything spooled is committed: start the file again so it stays small.
  std::lock_guard lock(mutex_);
  if (spool_ && queue_.empty()) {
    std::fflush(spool_);
    if (std::freopen(config_.spool.c_str(), "w", spool_) == nullptr) {
      spool_ = nullptr;
      log_.error("records.cel: cannot reopen the spool " + config_.spool.string() +
                 "; CEL rows queued at a crash will be lost until dialtoned restarts");
    }
  }
}

void CelWriter::run() {
  std::uint64_t reported_drops = 0;
  bool failing = false;
  std::vector<Queued> batch;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, config_.batch_interval,
                   [this] { return stopping_ || queue_.size() >= config_.batch_size; });
      stopping = stopping_;
      if (batch.empty()) {
        // Behind by more than a few batches (calls faster than the database
        // takes single batches): write bigger ones, up to kBacklogBatches
        // batches in one INSERT, rather than let the queue fill up and drop.
        std::size_t most = queue_.size() > kBacklogAfter * config_.batch_size
                               ? kBacklogBatches * config_.batch_size
                               : config_.batch_size;
        std::size_t n = std::min(queue_.size(), most);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
      }
    }
    if (auto d = dropped_.load(); d != reported_drops) {
      log_.warn("records.cel: " + std::to_string(d - reported_drops) + " CEL row(s) dropped: more than " +
                std::to_string(config_.queue_size) +
                " were waiting for the database (raise cel.queue_size or check the database)");
      reported_drops = d;
    }
    if (!batch.empty()) {
      auto s = write(batch);
      if (s) {
        if (failing) log_.info("records.cel: writing CEL again");
        failing = false;
        batch.clear();
      } else {
        // Kept and retried: the spool still holds these rows if we stop now.
        if (!failing)
          log_.error("records.cel: cannot write " + std::to_string(batch.size()) + " CEL row(s): " +
                     s.error().message + " (retrying; rows wait in memory and in the spool)");
        failing = true;
        if (stopping) return;
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, config_.batch_interval, [this] { return stopping_; });
        continue;
      }
    }
    {
      std::lock_guard lock(mutex_);
      if (!queue_.empty()) continue;  // more than one batch waiting
    }
    truncate_spool_if_idle();
    if (stopping) return;
  }
}

}  // namespace dialtone::plugins::records
