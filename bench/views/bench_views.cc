// bench_views [seconds-per-case]: renders/s of each vendor view for a
// 1,000-entry result, at the first page and at the last page (where the
// previous-page offset is found by laying out every page before it).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "plugins/view/aastra/aastra_view.h"
#include "plugins/view/cisco/cisco_view.h"
#include "plugins/view/polycom/polycom_view.h"
#include "plugins/view/snom/snom_view.h"
#include "plugins/view/thomson/thomson_view.h"
#include "plugins/view/yealink/yealink_view.h"

using namespace dialtone;
using Clock = std::chrono::steady_clock;

namespace {

std::size_t last_page_offset(const sdk::PhoneView& view, sdk::PhoneViewRequest r,
                             const std::vector<sdk::PhoneEntry>& entries) {
  std::size_t offset = 0;
  while (true) {
    r.offset = offset;
    auto body = view.render_results(r, entries).body;
    std::size_t next = 0;
    for (std::size_t at = body.find("offset="); at != std::string::npos;
         at = body.find("offset=", at + 1)) {
      std::size_t o = std::strtoul(body.c_str() + at + 7, nullptr, 10);
      if (o > offset) next = o;
    }
    if (next == 0) return offset;
    offset = next;
  }
}

double rate(const sdk::PhoneView& view, const sdk::PhoneViewRequest& r,
            const std::vector<sdk::PhoneEntry>& entries, double seconds, std::size_t& bytes) {
  auto start = Clock::now();
  auto until = start + std::chrono::duration<double>(seconds);
  std::size_t n = 0;
  while (Clock::now() < until) {
    for (int i = 0; i < 16; ++i) bytes = view.render_results(r, entries).body.size();
    n += 16;
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (seconds <= 0) {
    std::fprintf(stderr, "usage: bench_views [seconds-per-case > 0]\n");
    return 2;
  }
  std::vector<sdk::PhoneEntry> entries;
  for (int i = 0; i < 1000; ++i)
    entries.push_back({"Fran\xc3\xa7oise L\xc3\xa9" "ger & Associ\xc3\xa9s " + std::to_string(i),
                       "+33 1 23 45 " + std::to_string(1000 + i)});
  std::vector<std::unique_ptr<sdk::PhoneView>> views;
  views.push_back(std::make_unique<plugins::view::DescribedView>(plugins::view::cisco_view()));
  views.push_back(std::make_unique<plugins::view::DescribedView>(plugins::view::yealink_view()));
  views.push_back(std::make_unique<plugins::view::DescribedView>(plugins::view::snom_view()));
  views.push_back(std::make_unique<plugins::view::DescribedView>(plugins::view::aastra_view()));
  views.push_back(std::make_unique<plugins::view::DescribedView>(plugins::view::polycom_view()));
  views.push_back(std::make_unique<plugins::view::DescribedView>(plugins::view::thomson_view()));

  std::printf("%-8s %14s %8s %14s %8s %12s\n", "vendor", "first page/s", "bytes", "last page/s",
              "bytes", "last offset");
  for (const auto& view : views) {
    sdk::PhoneViewRequest r;
    r.profile = "default";
    r.term = "fran";
    r.self_url = "http://192.168.1.10:9498/0.1/directories/lookup/default/" +
                 std::string(view->vendor());
    std::size_t first_bytes = 0, last_bytes = 0;
    double first = rate(*view, r, entries, seconds, first_bytes);
    r.offset = last_page_offset(*view, r, entries);
    double last = rate(*view, r, entries, seconds, last_bytes);
    std::printf("%-8s %14.0f %8zu %14.0f %8zu %12zu\n", std::string(view->vendor()).c_str(), first,
                first_bytes, last, last_bytes, r.offset);
  }
  return 0;
}
