// The zero-config database: a PostgreSQL cluster owned by dialtoned in its data
// directory, reachable only through a unix socket inside that directory.
//
// @code
//   auto cluster = dialtone::kernel::PrivateCluster::start(data_dir / "pg", log);
//   if (!cluster) { log.error(cluster.error().message); return 1; }
//   auto store = dialtone::kernel::PgStore::open({.dsn = (*cluster)->dsn()}, bus, log);
// @endcode
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/result.h>

namespace dialtone::kernel {

struct PrivateClusterOptions {
  // Extra postgresql.conf settings, e.g. {"fsync", "off"} for throw-away test clusters.
  std::vector<std::pair<std::string, std::string>> settings;
};

class PrivateCluster {
 public:
  // initdb when `dir`/PG_VERSION is absent, then pg_ctl start; waits (30 s at
  // most) until it accepts connections and creates the database "dialtone".
  // Runs PostgreSQL as the `postgres` user when the process is root.
  // A cluster already running in `dir` is reported as ErrorCode::conflict.
  static sdk::Result<std::unique_ptr<PrivateCluster>> start(const std::filesystem::path& dir, sdk::Logger& log);
  static sdk::Result<std::unique_ptr<PrivateCluster>> start(const std::filesystem::path& dir, sdk::Logger& log,
                                                            const PrivateClusterOptions& options);

  // "host=<dir> dbname=dialtone user=postgres"
  std::string dsn() const;
  // The same server, database "postgres" (for creating databases).
  std::string admin_dsn() const;
  const std::filesystem::path& dir() const { return dir_; }

  // pg_ctl stop -m fast. Idempotent.
  void stop();
  // Leaves the server running when this object goes away (shared test clusters).
  void detach() { running_ = false; }
  ~PrivateCluster();

  // The newest /usr/lib/postgresql/<n>/bin holding pg_ctl, or empty.
  static std::filesystem::path find_bin_dir();

 private:
  PrivateCluster(std::filesystem::path dir, std::filesystem::path bin, sdk::Logger& log)
      : dir_(std::move(dir)), bin_(std::move(bin)), log_(log) {}

  std::filesystem::path dir_;
  std::filesystem::path bin_;
  sdk::Logger& log_;
  bool running_ = false;
};

}  // namespace dialtone::kernel
