// api.confd handler throughput through the fake host on a real PostgreSQL
// (no HTTP stack): CSV import of 10,000 users, then GET /1.1/users?limit=100.
//   build/bin/confd_bench [users=10000] [requests=2000]
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include <dialtone/testing/fake_host.h>

#include "kernel/store/pg_store.h"
#include "plugins/api/confd/confd_api.h"
#include "tests/support/pg_fixture.h"

int main(int argc, char** argv) {
  int users = argc > 1 ? std::atoi(argv[1]) : 10000;
  int requests = argc > 2 ? std::atoi(argv[2]) : 2000;
  dialtone::testing::FakeHost host("api.confd");
  auto store = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, host.bus(), host.log());
  if (!store) { std::fprintf(stderr, "%s\n", store.error().message.c_str()); return 1; }
  host.set_store(store->get());
  dialtone::testing::PluginHarness<dialtone::plugins::api::confd::ConfdApi> p(host);
  if (!p.run()) return 1;
  auto* http = host.http();
  http->call("POST", "/1.1/contexts", R"({"name":"default","user_ranges":[{"start":"10000","end":"99999"}]})");
  std::ostringstream csv;
  csv << "firstname,lastname,exten,context,line_protocol\n";
  for (int i = 0; i < users; ++i) csv << "First" << i << ",Last" << i << "," << (10000 + i) << ",default,sip\n";
  auto t0 = std::chrono::steady_clock::now();
  auto r = http->call("POST", "/1.1/users/import", csv.str());
  double import_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.status != 201) { std::fprintf(stderr, "import failed: %s\n", r.body.substr(0, 300).c_str()); return 1; }
  std::printf("import %d users (user+line+sip endpoint+extension): %.2f s\n", users, import_s);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < requests; ++i) {
    auto l = http->call("GET", "/1.1/users?limit=100&offset=" + std::to_string((i * 100) % users));
    if (l.status != 200) return 1;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("GET /1.1/users?limit=100 over %d users: %d requests in %.2f s = %.0f req/s (1 thread)\n", users,
              requests, s, requests / s);
  (*store)->close();
}
