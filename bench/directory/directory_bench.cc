// Lookups/s and p99 of the dird lookup service over CSV sources of 100,000
// entries each, and reverse-lookup p99 with warm sources.
// Usage: directory_bench [entries_per_source=100000] [sources=2] [queries=2000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "plugins/directory/csv/csv_source.h"
#include "plugins/directory/dird/lookup_service.h"
#include "bench/support/bench_util.h"

using namespace dialtone;
using namespace dialtone::plugins::directory;

int main(int argc, char** argv) {
  int entries = argc > 1 ? std::atoi(argv[1]) : 100000;
  int nsources = argc > 2 ? std::atoi(argv[2]) : 2;
  int queries = argc > 3 ? std::atoi(argv[3]) : 2000;
  bench::StderrLog log;
  auto dir = std::filesystem::temp_directory_path() / ("dird_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const char* first[] = {"Alice", "Bob", "Émile", "Jürgen", "François", "Gaëlle", "Hugo", "Inès"};
  std::map<std::string, std::shared_ptr<sdk::DirectorySource>> sources;
  std::string names;
  for (int s = 0; s < nsources; ++s) {
    auto file = dir / ("s" + std::to_string(s) + ".csv");
    std::ofstream out(file);
    out << "id|firstname|lastname|phone\n";
    char buf[64];
    for (int i = 0; i < entries; ++i) {
      std::snprintf(buf, sizeof buf, "|Last%d%06d|%d%08d\n", s, i, s + 1, i);
      out << i << "|" << first[i % 8] << buf;
    }
    out.close();
    sdk::Options o(std::map<std::string, std::string>{
        {"source.x.searched_columns", "firstname,lastname"},
        {"source.x.first_matched_columns", "phone"},
        {"source.x.unique_column", "id"},
        {"source.x.format_columns", "name = {firstname} {lastname}, number = {phone}"}});
    auto sc = *read_source_config(o, "x");
    sc.name = "csv" + std::to_string(s);
    sources[sc.name] = std::make_shared<CsvSource>(CsvConfig{sc, file, '|'}, log);
    names += (s ? "," : "") + sc.name;
  }
  auto profiles = *read_profiles(sdk::Options(std::map<std::string, std::string>{
      {"profile.default.sources", names}, {"profile.default.timeout", "5000"}}));
  LookupService svc(profiles, [&](const std::string& n) { return sources.at(n); }, log);
  svc.lookup({"default", "warm", ""}).ok();  // loads the files

  std::mt19937 rng(42);
  std::vector<double> lat;
  std::size_t hits = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int q = 0; q < queries; ++q) {
    char term[32];
    std::snprintf(term, sizeof term, "Last%d%05d", static_cast<int>(rng() % nsources),
                  static_cast<int>(rng() % (entries / 10)));
    auto s = std::chrono::steady_clock::now();
    auto r = svc.lookup({"default", term, ""});
    lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    if (r) hits += r->entries.size();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("lookup: %d sources x %d entries, %d queries, %.1f lookups/s, p50 %.2f ms, p99 %.2f ms, "
              "%.1f results/query\n",
              nsources, entries, queries, queries / secs, bench::percentile(lat, 0.5), bench::percentile(lat, 0.99),
              static_cast<double>(hits) / queries);
  lat.clear();
  for (int q = 0; q < queries; ++q) {
    char num[32];
    std::snprintf(num, sizeof num, "%d%08d", 1, static_cast<int>(rng() % entries));
    auto s = std::chrono::steady_clock::now();
    auto r = svc.reverse({"default", num, ""});
    lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    if (!r || !*r) { std::fprintf(stderr, "reverse %s found nothing\n", num); return 1; }
  }
  std::printf("reverse: p50 %.3f ms, p99 %.3f ms\n", bench::percentile(lat, 0.5), bench::percentile(lat, 0.99));
  std::filesystem::remove_all(dir);
  return 0;
}
