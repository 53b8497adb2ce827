// Reverse-lookup latency of the dird lookup service over the three-source
// profile `ldap, csv, pb` (100,000 entries each, warm), split by the source
// that holds the number, next to each source's own first_match: where the time
// of a reverse lookup goes.
// Usage: reverse3_bench <ldap-uri> <base-dn> [entries=100000] [queries=2000]
// The LDAP server holds telephoneNumber 1<i:06d> (bench/directory/reverse3.sh
// loads it); CSV rows are 2<i:06d>, phonebook contacts 3<i:06d>.
// Database: a fresh one from tests/support (DIALTONE_TEST_DSN or a private cluster).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>

#include "kernel/store/pg_store.h"
#include "plugins/directory/csv/csv_source.h"
#include "plugins/directory/dird/lookup_service.h"
#include "plugins/directory/ldap/ldap_source.h"
#include "plugins/directory/phonebook/phonebook.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/test_bus.h"
#include "bench/support/bench_util.h"

using namespace dialtone;
using namespace dialtone::plugins::directory;

namespace {


SourceConfig common(const std::string& name, const std::string& numbers, const std::string& fmt) {
  auto c = read_source_config(
      sdk::Options(std::map<std::string, std::string>{{"source.x.first_matched_columns", numbers},
                                                      {"source.x.unique_column", "id"},
                                                      {"source.x.format_columns", fmt}}),
      "x");
  c->name = name;
  return *c;
}

// p50/p99 of `queries` calls of f(number) with numbers <prefix><i:06d>;
// exits if a call does not return what `expect_hit` says.
void measure(const char* label, int queries, int entries, char prefix, bool expect_hit,
             const std::function<bool(const std::string&)>& f) {
  std::mt19937 rng(7);
  std::vector<double> lat;
  for (int q = 0; q < queries; ++q) {
    char num[16];
    std::snprintf(num, sizeof num, "%c%06d", prefix, static_cast<int>(rng() % entries));
    auto t = std::chrono::steady_clock::now();
    bool hit = f(num);
    lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    if (hit != expect_hit) {
      std::fprintf(stderr, "%s: %s %s\n", label, num, hit ? "matched unexpectedly" : "found nothing");
      std::exit(1);
    }
  }
  std::printf("%-44s p50 %.3f ms  p99 %.3f ms\n", label, bench::percentile(lat, 0.5), bench::percentile(lat, 0.99));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return std::cerr << "usage: reverse3_bench <ldap-uri> <base-dn> [entries] [queries]\n", 2;
  int entries = argc > 3 ? std::atoi(argv[3]) : 100000;
  int queries = argc > 4 ? std::atoi(argv[4]) : 2000;
  bench::StderrLog log;
  std::map<std::string, std::shared_ptr<sdk::DirectorySource>> sources;

  LdapConfig lc;
  lc.source = common("ldap", "telephoneNumber", "name = {cn}, number = {telephoneNumber}");
  lc.source.unique_column = "entryUUID";
  lc.uri = argv[1];
  lc.base_dn = argv[2];
  sources["ldap"] = std::make_shared<LdapSource>(lc, log);

  auto dir = std::filesystem::temp_directory_path() / ("reverse3_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "c.csv");
    out << "id,firstname,lastname,phone\n";
    char buf[80];
    for (int i = 0; i < entries; ++i) {
      std::snprintf(buf, sizeof buf, "%d,Given%06d,Fam%06d,2%06d\n", i, i, i, i);
      out << buf;
    }
  }
  sources["csv"] = std::make_shared<CsvSource>(
      CsvConfig{common("csv", "phone", "name = {firstname} {lastname}, number = {phone}"), dir / "c.csv", ','},
      log);

  testing::TestBus bus;
  auto db = kernel::PgStore::open({.dsn = testing::test_dsn()}, bus, log);
  if (!db) return std::cerr << db.error().message << "\n", 1;
  auto store = std::make_shared<PhonebookStore>(**db);
  if (auto s = store->migrate(log); !s) return std::cerr << s.error().message << "\n", 1;
  auto pb = store->create("default", "bench", "");
  if (!pb) return std::cerr << pb.error().message << "\n", 1;
  std::string csv = "title|displayname|firstname|lastname|officenumbers\n";
  for (int i = 0; i < entries; ++i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "mr|Given%06d Fam%06d|Given%06d|Fam%06d|3%06d\n", i, i, i, i, i);
    csv += buf;
  }
  if (auto r = store->import("default", pb->id, csv); !r) return std::cerr << r.error().message << "\n", 1;
  PhonebookSourceConfig pc;
  pc.source = common("pb", "officenumbers", "name = {firstname} {lastname}, number = {officenumbers}");
  pc.phonebook_name = "bench";
  sources["pb"] = std::make_shared<PhonebookSource>(pc, store, log);

  auto profiles = *read_profiles(sdk::Options(std::map<std::string, std::string>{
      {"profile.bench.sources", "ldap, csv, pb"}, {"profile.csvfirst.sources", "csv, ldap, pb"},
      {"profile.ldap.sources", "ldap"}, {"profile.ldapcsv.sources", "ldap, csv"}}));
  LookupService svc(profiles, [&](const std::string& n) { return sources.at(n); }, log);
  // Warm: CSV file loaded, one LDAP connection and the PostgreSQL pool open.
  for (auto n : {"1000000", "2000000", "3000000"})
    if (auto r = svc.reverse({"bench", n, ""}); !r || !*r) return std::cerr << "warm-up missed " << n << "\n", 1;

  std::printf("reverse lookups, %d entries per source, %d queries each\n", entries, queries);
  for (auto [name, prefix] : {std::pair{"ldap", '1'}, {"csv", '2'}, {"pb", '3'}}) {
    auto& src = *sources.at(name);
    measure((std::string("source ") + name + " first_match alone").c_str(), queries, entries, prefix, true,
            [&](const std::string& n) {
              sdk::DirectoryQuery q;
              q.term = n;
              auto r = src.first_match(q);
              return r && r->has_value();
            });
  }
  auto through = [&](const char* profile) {
    return [&svc, profile](const std::string& n) {
      auto r = svc.reverse({profile, n, ""});
      return r && r->has_value();
    };
  };
  measure("profile ldap: number in ldap", queries, entries, '1', true, through("ldap"));
  measure("profile ldap,csv: number in ldap", queries, entries, '1', true, through("ldapcsv"));
  measure("profile ldap,csv,pb: number in ldap", queries, entries, '1', true, through("bench"));
  measure("profile ldap,csv,pb: number in csv", queries, entries, '2', true, through("bench"));
  measure("profile ldap,csv,pb: number in pb", queries, entries, '3', true, through("bench"));
  measure("profile ldap,csv,pb: unknown number", queries, entries, '9', false, through("bench"));
  measure("profile csv,ldap,pb: number in csv", queries, entries, '2', true, through("csvfirst"));
  // Lets the phonebook queries still in flight finish before the store closes.
  (void)svc.reverse({"bench", "9999999", ""});
  std::filesystem::remove_all(dir);
  return 0;
}
