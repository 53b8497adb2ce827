#include "kernel/store/pg_store.h"

#include <poll.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "kernel/store/pg_util.h"

namespace dialtone::kernel {

using sdk::Error;
using sdk::Params;
using sdk::QueryResult;
using sdk::Result;
using sdk::Status;

// ---------------------------------------------------------------- pool

class PgStore::Pool {
 public:
  class Lease {
   public:
    Lease(Pool* pool, PGconn* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::exchange(o.conn_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->release(conn_);
    }
    PGconn* get() const { return conn_; }

   private:
    Pool* pool_;
    PGconn* conn_;
  };

  Pool(const StoreConfig& config, sdk::Logger& log) : config_(config), log_(log) {}
  ~Pool() { close(); }

  // Hands over a connection opened by open() to validate the DSN.
  void adopt(pg::ConnPtr conn) {
    std::lock_guard lk(m_);
    idle_.push_back(conn.release());
    ++total_;
  }

  Result<Lease> acquire() {
    std::unique_lock lk(m_);
    auto deadline = std::chrono::steady_clock::now() + config_.acquire_timeout;
    PGconn* conn = nullptr;
    for (;;) {
      if (closed_) return Error::unavailable("store: the store is closed");
      if (!idle_.empty()) {
        conn = idle_.back();
        idle_.pop_back();
        break;
      }
      if (total_ < config_.pool_size) {
        ++total_;
        lk.unlock();
        pg::ConnPtr fresh = pg::connect(config_.dsn);
        if (PQstatus(fresh.get()) != CONNECTION_OK) {
          std::string msg = pg::connect_error(config_.dsn, fresh.get(), {});
          forget();
          return Error::unavailable(std::move(msg));
        }
        return Lease(this, fresh.release());
      }
      if (cv_.wait_until(lk, deadline) == std::cv_status::timeout && idle_.empty() &&
          total_ >= config_.pool_size && !closed_)
        return Error::timeout("store: no database connection became free within " +
                              std::to_string(config_.acquire_timeout.count()) + " ms (store.pool_size is " +
                              std::to_string(config_.pool_size) +
                              ") — raise store.pool_size or look for slow queries");
    }
    lk.unlock();
    if (!healthy(conn)) {
      // The server closed it (restart, failover, idle timeout): try once to re-open.
      PQreset(conn);
      if (PQstatus(conn) != CONNECTION_OK) {
        std::string msg = pg::connect_error(config_.dsn, conn, {});
        PQfinish(conn);
        forget();
        return Error::unavailable(std::move(msg));
      }
      log_.warn("store: database connection was lost and has been re-established");
    }
    return Lease(this, conn);
  }

  void close() {
    std::vector<PGconn*> idle;
    {
      std::lock_guard lk(m_);
      closed_ = true;
      idle.swap(idle_);
      total_ -= idle.size();
    }
    for (PGconn* c : idle) PQfinish(c);
    cv_.notify_all();
  }

 private:
  // An idle pooled connection is never sent anything unasked except the
  // server's goodbye (terminated backend, shutdown): any readable input, or a
  // dead socket, means it must be re-opened before use.
  static bool healthy(PGconn* conn) {
    if (PQstatus(conn) != CONNECTION_OK) return false;
    pollfd p{PQsocket(conn), POLLIN, 0};
    if (p.fd < 0) return false;
    return ::poll(&p, 1, 0) == 0;
  }

  void forget() {
    {
      std::lock_guard lk(m_);
      --total_;
    }
    cv_.notify_one();
  }

  void release(PGconn* conn) {
    bool keep = PQstatus(conn) == CONNECTION_OK;
    if (keep) {
      switch (PQtransactionStatus(conn)) {
        case PQTRANS_IDLE: break;
        case PQTRANS_INTRANS:
        case PQTRANS_INERROR: {
          pg::ResultPtr r(PQexec(conn, "ROLLBACK"));
          keep = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
          break;
        }
        default: keep = false;
      }
    }
    {
      std::lock_guard lk(m_);
      if (keep && !closed_) {
        idle_.push_back(conn);
        conn = nullptr;
      } else {
        --total_;
      }
    }
    if (conn) PQfinish(conn);
    cv_.notify_one();
  }

  const StoreConfig& config_;
  sdk::Logger& log_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<PGconn*> idle_;
  std::size_t total_ = 0;
  bool closed_ = false;
};

// ---------------------------------------------------------------- async workers

class PgStore::Workers {
 public:
  Workers(std::size_t n, sdk::Logger& log) : log_(log) {
    for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i) threads_.emplace_back([this] { run(); });
  }
  ~Workers() { stop(); }

  bool post(std::function<void()> task) {
    {
      std::lock_guard lk(m_);
      if (stopping_) return false;
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }

  // Runs what is queued, then joins.
  void stop() {
    {
      std::lock_guard lk(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lk(m_);
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        task();
      } catch (const std::exception& e) {
        log_.error(std::string("store: an exec_async callback threw: ") + e.what());
      } catch (...) {
        log_.error("store: an exec_async callback threw a non-standard exception");
      }
    }
  }

  sdk::Logger& log_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// ---------------------------------------------------------------- listener

// One connection and one thread for every LISTEN of the store.
class PgStore::Listener : public std::enable_shared_from_this<PgStore::Listener> {
 public:
  using Callback = std::function<void(const std::string&)>;

  struct Entry {
    std::string channel;
    Callback callback;
    std::atomic<std::uint64_t> delivered{0};
  };

  Listener(std::string dsn, sdk::EventBus& bus, sdk::Logger& log)
      : dsn_(std::move(dsn)), bus_(bus), log_(log) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
  }
  ~Listener() {
    stop();
    if (wake_[0] >= 0) ::close(wake_[0]);
    if (wake_[1] >= 0) ::close(wake_[1]);
  }

  void start() { thread_ = std::thread([this] { run(); }); }

  void stop() {
    {
      std::lock_guard lk(m_);
      if (stop_) return;
      stop_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lk(m_);
    entries_.clear();
    cv_.notify_all();
  }

  std::uint64_t add(std::string channel, Callback cb, std::shared_ptr<Entry>& out) {
    auto e = std::make_shared<Entry>();
    e->channel = std::move(channel);
    e->callback = std::move(cb);
    out = e;
    std::unique_lock lk(m_);
    std::uint64_t id = ++next_id_;
    if (stop_) return id;
    entries_[id] = e;
    std::uint64_t gen = ++requested_gen_;
    lk.unlock();
    wake();
    lk.lock();
    // Once listen() returns, a NOTIFY sent afterwards must reach the callback.
    if (std::this_thread::get_id() != thread_.get_id())
      cv_.wait_for(lk, std::chrono::seconds(15), [&] { return stop_ || applied_gen_ >= gen || !connected_; });
    return id;
  }

  void remove(std::uint64_t id) {
    {
      std::lock_guard lk(m_);
      if (entries_.erase(id) == 0) return;
      ++requested_gen_;
    }
    wake();
    // Wait out a callback in flight so none runs after the subscription is gone.
    if (std::this_thread::get_id() != thread_.get_id()) std::lock_guard dl(dispatch_m_);
  }

 private:
  void wake() {
    if (wake_[1] >= 0) {
      char c = 1;
      [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    }
  }

  void drain_wake() {
    char buf[64];
    while (::read(wake_[0], buf, sizeof buf) > 0) {
    }
  }

  void set_connected(bool up) {
    std::lock_guard lk(m_);
    connected_ = up;
    cv_.notify_all();
  }

  bool sync_channels(PGconn* conn) {
    std::set<std::string> wanted;
    std::uint64_t gen;
    {
      std::lock_guard lk(m_);
      for (auto& [id, e] : entries_) wanted.insert(e->channel);
      gen = requested_gen_;
    }
    for (const auto& c : wanted) {
      if (listening_.count(c)) continue;
      if (!run_command(conn, "LISTEN", c)) return false;
      listening_.insert(c);
    }
    for (auto it = listening_.begin(); it != listening_.end();) {
      if (wanted.count(*it)) {
        ++it;
        continue;
      }
      if (!run_command(conn, "UNLISTEN", *it)) return false;
      it = listening_.erase(it);
    }
    std::lock_guard lk(m_);
    applied_gen_ = std::max(applied_gen_, gen);
    connected_ = true;
    cv_.notify_all();
    return true;
  }

  bool run_command(PGconn* conn, const char* verb, const std::string& channel) {
    char* ident = PQescapeIdentifier(conn, channel.data(), channel.size());
    if (!ident) return false;
    std::string sql = std::string(verb) + " " + ident;
    PQfreemem(ident);
    pg::ResultPtr r(PQexec(conn, sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      // A lost connection is reported once, by the caller, as any other loss.
      if (PQstatus(conn) == CONNECTION_OK)
        log_.warn("store: " + sql + " failed: " + pg::result_error(conn, r.get()).message);
      return false;
    }
    return true;
  }

  void dispatch(PGconn* conn) {
    while (PGnotify* n = PQnotifies(conn)) {
      std::string channel = n->relname;
      std::string payload = n->extra ? n->extra : "";
      PQfreemem(n);
      std::vector<std::shared_ptr<Entry>> targets;
      {
        std::lock_guard lk(m_);
        for (auto& [id, e] : entries_)
          if (e->channel == channel) targets.push_back(e);
      }
      {
        std::lock_guard dl(dispatch_m_);
        for (auto& e : targets) {
          {
            // Skip entries removed since the copy above.
            std::lock_guard lk(m_);
            bool live = false;
            for (auto& [id, x] : entries_) live = live || x == e;
            if (!live) continue;
          }
          try {
            e->callback(payload);
          } catch (const std::exception& ex) {
            log_.error("store: a LISTEN callback for channel \"" + channel + "\" threw: " + ex.what());
          } catch (...) {
            log_.error("store: a LISTEN callback for channel \"" + channel + "\" threw");
          }
          e->delivered.fetch_add(1, std::memory_order_relaxed);
        }
      }
      bus_.publish("store.notify." + channel, payload);
    }
  }

  void run() {
    pg::ConnPtr conn;
    bool was_down = false;
    auto backoff = std::chrono::milliseconds(200);
    for (;;) {
      {
        std::lock_guard lk(m_);
        if (stop_) break;
      }
      if (!conn) {
        listening_.clear();
        conn = pg::connect(dsn_);
        if (PQstatus(conn.get()) != CONNECTION_OK) {
          if (!was_down)
            log_.warn(pg::connect_error(dsn_, conn.get(), "LISTEN paused, retrying"));
          was_down = true;
          conn.reset();
          set_connected(false);
          pollfd p{wake_[0], POLLIN, 0};
          ::poll(&p, 1, static_cast<int>(backoff.count()));
          drain_wake();
          backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
          continue;
        }
        if (was_down) log_.info("store: LISTEN connection re-established");
        was_down = false;
        backoff = std::chrono::milliseconds(200);
      }
      if (!sync_channels(conn.get())) {
        if (PQstatus(conn.get()) != CONNECTION_OK)
          log_.warn("store: LISTEN connection lost (" + pg::one_line(PQerrorMessage(conn.get())) +
                    "); reconnecting");
        conn.reset();
        was_down = true;
        set_connected(false);
        continue;
      }
      dispatch(conn.get());
      pollfd fds[2] = {{PQsocket(conn.get()), POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int rc = ::poll(fds, 2, 30000);
      if (rc < 0 && errno != EINTR) {
        conn.reset();
        continue;
      }
      if (fds[1].revents) drain_wake();
      if (fds[0].revents) {
        if (!PQconsumeInput(conn.get()) || PQstatus(conn.get()) != CONNECTION_OK) {
          log_.warn("store: LISTEN connection lost (" + pg::one_line(PQerrorMessage(conn.get())) +
                    "); reconnecting");
          dispatch(conn.get());
          conn.reset();
          was_down = true;
          set_connected(false);
          continue;
        }
        dispatch(conn.get());
      }
    }
  }

  std::string dsn_;
  sdk::EventBus& bus_;
  sdk::Logger& log_;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::mutex m_;
  std::mutex dispatch_m_;
  std::condition_variable cv_;
  std::map<std::uint64_t, std::shared_ptr<Entry>> entries_;
  std::set<std::string> listening_;  // listener thread only
  std::uint64_t next_id_ = 0;
  std::uint64_t requested_gen_ = 0;
  std::uint64_t applied_gen_ = 0;
  bool connected_ = true;
  bool stop_ = false;
};

namespace {

class ListenSubscription final : public sdk::Subscription {
 public:
  ListenSubscription(std::shared_ptr<PgStore::Listener> listener, std::uint64_t id,
                     std::shared_ptr<PgStore::Listener::Entry> entry)
      : listener_(std::move(listener)), id_(id), entry_(std::move(entry)) {}
  ~ListenSubscription() override {
    if (listener_) listener_->remove(id_);
  }
  std::uint64_t delivered() const override { return entry_->delivered.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const override { return 0; }

 private:
  std::shared_ptr<PgStore::Listener> listener_;
  std::uint64_t id_;
  std::shared_ptr<PgStore::Listener::Entry> entry_;
};

class PgTransaction final : public sdk::Transaction {
 public:
  explicit PgTransaction(PGconn* conn) : conn_(conn) {}
  Result<QueryResult> exec(std::string_view sql, const Params& params) override {
    return pg::exec(conn_, sql, params);
  }
  // Several statements at once, for migrations.
  Result<QueryResult> script(const char* sql) { return pg::exec_script(conn_, sql); }

 private:
  PGconn* conn_;
};

Status run_simple(PGconn* conn, const char* sql) {
  auto r = pg::exec_script(conn, sql);
  if (!r) return r.error();
  return {};
}

}  // namespace

// ---------------------------------------------------------------- store

PgStore::PgStore(const StoreConfig& config, sdk::EventBus& bus, sdk::Logger& log)
    : config_(config), display_dsn_(pg::redact_dsn(config.dsn)), bus_(bus), log_(log) {
  if (config_.pool_size == 0) config_.pool_size = 1;
  pool_ = std::make_unique<Pool>(config_, log_);
  workers_ = std::make_unique<Workers>(config_.async_threads, log_);
}

Result<std::unique_ptr<PgStore>> PgStore::open(const StoreConfig& config, sdk::EventBus& bus, sdk::Logger& log) {
  bool had_password = false;
  std::string shown = pg::redact_dsn(config.dsn, &had_password);
  if (auto parsed = pg::with_param(config.dsn, "application_name", "dialtoned"); !parsed)
    return Error::invalid("store: store.dsn is " + parsed.error().message + " — " + config.fix_hint);
  pg::ConnPtr conn = pg::connect(config.dsn);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return Error::unavailable(pg::connect_error(config.dsn, conn.get(), config.fix_hint));
  std::unique_ptr<PgStore> store(new PgStore(config, bus, log));
  store->pool_->adopt(std::move(conn));
  log.info("store: connected to \"" + shown + "\" (pool of " + std::to_string(store->config_.pool_size) + ")");
  return store;
}

PgStore::~PgStore() { close(); }

void PgStore::close() {
  std::shared_ptr<Listener> listener;
  {
    std::lock_guard lk(listener_mutex_);
    if (closed_) return;
    closed_ = true;
    listener = listener_;
  }
  if (listener) listener->stop();
  workers_->stop();
  pool_->close();
}

Result<QueryResult> PgStore::exec(std::string_view sql, const Params& params) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  return pg::exec(lease->get(), sql, params);
}

Status PgStore::transaction(const std::function<Status(sdk::Transaction&)>& body) {
  auto lease = pool_->acquire();
  if (!lease) return lease.error();
  PGconn* conn = lease->get();
  if (auto s = run_simple(conn, "BEGIN"); !s) return s;
  PgTransaction tx(conn);
  Status result;
  try {
    result = body(tx);
  } catch (const std::exception& e) {
    result = Error::internal(std::string("transaction rolled back: the body threw: ") + e.what());
  } catch (...) {
    result = Error::internal("transaction rolled back: the body threw a non-standard exception");
  }
  if (result && PQtransactionStatus(conn) == PQTRANS_INERROR)
    result = Error::internal("transaction rolled back: a statement in it failed and the error was ignored");
  if (!result) {
    // The lease's release rolls back too if this fails (e.g. the connection dropped).
    (void)run_simple(conn, "ROLLBACK");
    return result;
  }
  return run_simple(conn, "COMMIT");
}

void PgStore::exec_async(std::string sql, Params params, std::function<void(Result<QueryResult>)> done) {
  auto task = [this, sql = std::move(sql), params = std::move(params), done] {
    auto r = exec(sql, params);
    if (done) done(std::move(r));
  };
  if (!workers_->post(std::move(task)) && done) done(Error::unavailable("store: the store is closed"));
}

namespace {

// Key space of the migration advisory locks: ASCII "DTMG".
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(1146375495, hashtext($1))";
constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS dialtone_migrations ("
    " owner text NOT NULL,"
    " version integer NOT NULL,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (owner, version))";

}  // namespace

Status PgStore::migrate(std::string_view owner, std::span<const sdk::Migration> migrations) {
  std::string who(owner);
  if (who.empty()) return Error::invalid("store: migrate() needs an owner name");
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    const auto& m = migrations[i];
    if (m.version <= 0)
      return Error::invalid("store: migrations of \"" + who + "\": version " + std::to_string(m.version) +
                            " must be positive");
    if (!m.sql || !m.name)
      return Error::invalid("store: migrations of \"" + who + "\": version " + std::to_string(m.version) +
                            " has no name or SQL");
    if (i > 0 && m.version <= migrations[i - 1].version)
      return Error::invalid("store: migrations of \"" + who + "\": version " + std::to_string(m.version) +
                            " follows version " + std::to_string(migrations[i - 1].version) +
                            " — versions must be unique and listed in increasing order");
  }
  // The table itself is created under a lock so concurrent first starts do not race.
  Status created = transaction([&](sdk::Transaction& tx) -> Status {
    if (auto r = tx.exec("SELECT pg_advisory_xact_lock(1146375495, 0)"); !r) return r.error();
    if (auto r = tx.exec(kCreateTable); !r) return r.error();
    return {};
  });
  if (!created)
    return Error{created.error().code, "store: cannot create dialtone_migrations: " + created.error().message};

  auto applied = exec("SELECT version FROM dialtone_migrations WHERE owner = $1", {who});
  if (!applied)
    return Error{applied.error().code, "store: cannot read dialtone_migrations: " + applied.error().message};
  std::set<int> done;
  for (auto& row : applied->rows) done.insert(std::stoi(row[0].value_or("0")));
  for (const auto& m : migrations) {
    if (done.count(m.version)) continue;
    if (auto s = migrate_one(who, m); !s) return s;
  }
  return {};
}

Status PgStore::migrate_one(std::string_view owner, const sdk::Migration& m) {
  std::string who(owner);
  std::string label = "store: migration " + who + " v" + std::to_string(m.version) + " \"" + m.name + "\"";
  bool skipped = false;
  bool refused = false;
  Status s = transaction([&](sdk::Transaction& tx) -> Status {
    if (auto r = tx.exec(kLockSql, {who}); !r) return r.error();
    // Re-read under the lock: another process may have applied it meanwhile.
    auto applied = tx.exec("SELECT max(version), bool_or(version = $2) FROM dialtone_migrations WHERE owner = $1",
                           {who, std::to_string(m.version)});
    if (!applied) return applied.error();
    if (applied->rows[0][1].value_or("f") == "t") {
      skipped = true;
      return {};
    }
    int highest = std::stoi(applied->rows[0][0].value_or("0"));
    if (highest > m.version) {
      refused = true;
      return Error::invalid("version " + std::to_string(highest) +
                            " is already applied — a new migration needs a version above it");
    }
    if (auto r = static_cast<PgTransaction&>(tx).script(m.sql); !r) return r.error();
    if (auto r = tx.exec("INSERT INTO dialtone_migrations (owner, version, name) VALUES ($1, $2, $3)",
                         {who, std::to_string(m.version), std::string(m.name)});
        !r)
      return r.error();
    return {};
  });
  if (!s) return Error{s.error().code, label + (refused ? " refused: " : " failed: ") + s.error().message};
  if (!skipped) log_.info(label + " applied");
  return {};
}

std::unique_ptr<sdk::Subscription> PgStore::listen(std::string channel,
                                                   std::function<void(const std::string&)> on_notify) {
  std::shared_ptr<Listener> listener;
  {
    std::lock_guard lk(listener_mutex_);
    if (!listener_) {
      listener_ = std::make_shared<Listener>(config_.dsn, bus_, log_);
      if (!closed_) listener_->start();
      else listener_->stop();
    }
    listener = listener_;
  }
  std::shared_ptr<Listener::Entry> entry;
  std::uint64_t id = listener->add(std::move(channel), std::move(on_notify), entry);
  return std::make_unique<ListenSubscription>(std::move(listener), id, std::move(entry));
}

}  // namespace dialtone::kernel
