#include "kernel/core/maintenance.h"

#include <memory>

#include "kernel/log/logging.h"
#include "kernel/store/pg_util.h"
#include "kernel/store/private_cluster.h"

namespace dialtone::kernel {
namespace {

// A maintenance function a plugin's migrations create.
struct SqlCommand {
  const char* option;  // the command line option
  const char* sql;     // one parameter: the option's value
  const char* owner;   // the plugin whose schema holds the function
  const char* conf;    // its shipped conf.d file
};

constexpr SqlCommand kGenerateCallLogs = {"--generate-call-logs", "SELECT call_logs_generate($1::int) AS n",
                                          "records.call_logs", "conf.d/71-records-call-logs.conf"};

int run_sql(const KernelSetup& setup, const SqlCommand& cmd, const std::string& value, std::string* result,
            std::ostream& err) {
  for (auto& e : setup.errors) err << "dialtoned: " << e << "\n";
  if (!setup.errors.empty()) return 1;
  Logging logging(LoggingConfig{setup.options.get("log.level", "warn"), setup.options.get("log.file")});
  auto log = logging.logger("kernel");
  std::string dsn = setup.options.get("store.dsn");
  std::unique_ptr<PrivateCluster> cluster;
  if (dsn.empty()) {
    auto dir = setup.data_dir / "pg";
    auto started = PrivateCluster::start(dir, *log);
    if (started) {
      cluster = std::move(*started);
      dsn = cluster->dsn();
    } else if (started.error().code == sdk::ErrorCode::conflict) {
      // dialtoned runs: use its cluster through the socket in the data dir.
      dsn = "host=" + pg::quote_value(dir.string()) + " dbname=dialtone user=postgres";
    } else {
      err << "dialtoned: " << started.error().message << "\n";
      return 1;
    }
  }
  int rc = 0;
  {
    auto conn = pg::connect(dsn);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      err << "dialtoned: " << pg::connect_error(dsn, conn.get(), "check store.dsn") << "\n";
      rc = 1;
    } else if (auto r = pg::exec(conn.get(), cmd.sql, {value}); !r) {
      const bool missing = r.error().message.find("does not exist") != std::string::npos;
      err << "dialtoned: " << cmd.option << ": " << r.error().message;
      if (missing)
        err << " (the schema of " << cmd.owner << " is missing: enable it in " << cmd.conf
            << " and start dialtoned once)";
      err << "\n";
      rc = 1;
    } else {
      *result = r->get(0, "n", "0");
    }
  }
  if (cluster) cluster->stop();
  logging.flush();
  return rc;
}

}  // namespace

int generate_call_logs(const KernelSetup& setup, long cel_count, std::ostream& out, std::ostream& err) {
  if (cel_count <= 0) {
    err << "dialtoned: --generate-call-logs expects a positive number of CEL entries (xivo-call-logs -c N)\n";
    return 2;
  }
  std::string made;
  int rc = run_sql(setup, kGenerateCallLogs, std::to_string(cel_count), &made, err);
  if (rc == 0) out << made << " call log(s) generated from the last " << cel_count << " unprocessed CEL entries\n";
  return rc;
}

}  // namespace dialtone::kernel
