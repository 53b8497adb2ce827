// Authenticated request throughput of the kernel HTTP server: one token route
// behind AuthService, loaded with wrk.
//
//   dialtone_bench_http [wrk arguments...]     default: -t2 -c64 -d10s --latency
//
// Database: $DIALTONE_TEST_DSN when set, else a throw-away private cluster.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench/support/bench_util.h"
#include "kernel/auth/auth_service.h"
#include "kernel/http/http_server.h"
#include "kernel/store/pg_store.h"
#include "kernel/store/private_cluster.h"

int main(int argc, char** argv) {
  using namespace dialtone;
  bench::WarnLog log;
  bench::NullBus bus;
  std::unique_ptr<kernel::PrivateCluster> cluster;
  std::string dsn = std::getenv("DIALTONE_TEST_DSN") ? std::getenv("DIALTONE_TEST_DSN") : "";
  std::filesystem::path dir;
  if (dsn.empty()) {
    dir = std::filesystem::temp_directory_path() / ("dialtone-bench-http-" + std::to_string(getpid()));
    auto c = kernel::PrivateCluster::start(dir, log, {{{"fsync", "off"}}});
    if (!c) {
      std::cerr << "bench: " << c.error().message << "\n";
      return 1;
    }
    cluster = std::move(*c);
    dsn = cluster->dsn();
  }
  int rc = 0;
  {
    auto store = kernel::PgStore::open({.dsn = dsn}, bus, log);
    if (!store) {
      std::cerr << "bench: " << store.error().message << "\n";
      return 1;
    }
    kernel::AuthService auth(**store, log, {});
    if (auto s = auth.migrate(); !s) {
      std::cerr << "bench: " << s.error().message << "\n";
      return 1;
    }
    kernel::ListenerConfig listener;
    listener.name = "bench";
    kernel::HttpServerImpl http({listener}, log);
    if (auto s = auth.mount(http, "bench"); !s) {
      std::cerr << "bench: " << s.error().message << "\n";
      return 1;
    }
    sdk::Route route;
    route.method = "GET";
    route.path = "/1.1/users/{id}";
    route.acl = "confd.users.{id}.read";
    route.handler = [](const sdk::HttpRequest& r) {
      return sdk::HttpResponse::json(200, sdk::json::object({{"uuid", r.params.at("id")}, {"firstname", "Bench"}}));
    };
    if (auto s = http.mount_as("bench", "bench", route); !s) return 1;
    if (auto s = http.start(); !s) {
      std::cerr << "bench: " << s.error().message << "\n";
      return 1;
    }
    std::string user = "bench-" + std::to_string(getpid());
    auto uuid = auth.create_user(user, "bench-password", {"confd.users.me.read"});
    auto token = uuid ? auth.create_token(user, "bench-password") : sdk::Result<sdk::TokenInfo>(uuid.error());
    if (!token) {
      std::cerr << "bench: " << token.error().message << "\n";
      return 1;
    }
    std::string args;
    for (int i = 1; i < argc; ++i) args += std::string(" ") + argv[i];
    if (args.empty()) args = " -t2 -c64 -d10s --latency";
    std::string cmd = "wrk" + args + " -H 'X-Auth-Token: " + token->token + "' http://127.0.0.1:" +
                      std::to_string(http.port("bench")) + "/1.1/users/" + *uuid;
    std::cout << "bench: wrk" << args << " -H 'X-Auth-Token: <token>' http://127.0.0.1:<port>/1.1/users/<own uuid>\n"
              << std::flush;
    rc = std::system(cmd.c_str()) == 0 ? 0 : 1;
    http.stop();
  }
  if (cluster) {
    cluster->stop();
    std::filesystem::remove_all(dir);
  }
  return rc;
}
