// The internal phonebook at 100,000 contacts in PostgreSQL: one all-or-nothing
// CSV import, then search and reverse-lookup latency through the source.
// Usage: phonebook_bench [contacts=100000] [queries=2000]
// Database: a fresh one from tests/support (DIALTONE_TEST_DSN or a private cluster).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "kernel/store/pg_store.h"
#include "plugins/directory/phonebook/phonebook.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/test_bus.h"
#include "bench/support/bench_util.h"

using namespace dialtone;
using namespace dialtone::plugins::directory;

int main(int argc, char** argv) {
  int contacts = argc > 1 ? std::atoi(argv[1]) : 100000;
  int queries = argc > 2 ? std::atoi(argv[2]) : 2000;
  bench::StderrLog log;
  testing::TestBus bus;
  auto db = kernel::PgStore::open({.dsn = testing::test_dsn()}, bus, log);
  if (!db) return std::cerr << db.error().message << "\n", 1;
  auto store = std::make_shared<PhonebookStore>(**db);
  if (auto s = store->migrate(log); !s) return std::cerr << s.error().message << "\n", 1;
  auto pb = store->create("default", "main", "");
  if (!pb) return std::cerr << pb.error().message << "\n", 1;

  const char* first[] = {"Alice", "Bob", "Émile", "Jürgen", "François", "Gaëlle", "Hugo", "Inès"};
  std::string csv = "title|displayname|firstname|lastname|officenumbers|mobilenumbers\n";
  for (int i = 0; i < contacts; ++i) {
    auto f = std::string(first[i % 8]);
    auto l = "Name" + std::to_string(i);
    csv += "mr|" + f + " " + l + "|" + f + "|" + l + "|" + std::to_string(10000000 + i) + "|" +
           std::to_string(60000000 + i) + "\n";
  }
  auto t0 = std::chrono::steady_clock::now();
  auto imported = store->import("default", pb->id, csv);
  if (!imported) return std::cerr << imported.error().message << "\n", 1;
  double import_ms = bench::ms_since(t0);
  (void)(*db)->exec("ANALYZE dird_phonebook_contact");

  PhonebookSourceConfig c;
  c.source.name = "pb";
  c.source.searched_columns = {"firstname", "lastname", "displayname"};
  c.source.first_matched_columns = {"officenumbers", "mobilenumbers"};
  c.phonebook_name = "main";
  PhonebookSource src(c, store, log);

  std::mt19937 rng(42);
  std::vector<double> search_ms, reverse_ms;
  std::size_t hits = 0;
  for (int q = 0; q < queries; ++q) {
    auto n = static_cast<int>(rng() % contacts);
    auto t = std::chrono::steady_clock::now();
    auto r = src.search({.term = "name" + std::to_string(n)});
    search_ms.push_back(bench::ms_since(t));
    if (r) hits += r->size();
    t = std::chrono::steady_clock::now();
    auto m = src.first_match({.term = std::to_string(60000000 + n)});
    reverse_ms.push_back(bench::ms_since(t));
    if (!m || !*m) return std::cerr << "reverse lookup missed " << n << "\n", 1;
  }
  std::printf("import %d contacts: %.0f ms (%.0f contacts/s)\n", contacts, import_ms, contacts / import_ms * 1000);
  std::printf("search  (%d, %zu results): p50 %.2f ms  p99 %.2f ms\n", queries, hits, bench::percentile(search_ms, 0.5),
              bench::percentile(search_ms, 0.99));
  std::printf("reverse (%d): p50 %.2f ms  p99 %.2f ms\n", queries, bench::percentile(reverse_ms, 0.5), bench::percentile(reverse_ms, 0.99));
  return 0;
}
