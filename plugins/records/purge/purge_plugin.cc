#include "plugins/records/purge/purge_plugin.h"

#include <chrono>
#include <ctime>
#include <regex>

#include "plugins/records/purge/purger.h"

namespace dialtone::plugins::records {
namespace {

// The next local time-of-day `hour:minute` after now.
std::chrono::system_clock::time_point next_at(int hour, int minute) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&t, &local);
  local.tm_hour = hour;
  local.tm_min = minute;
  local.tm_sec = 0;
  local.tm_isdst = -1;
  auto at = std::chrono::system_clock::from_time_t(std::mktime(&local));
  if (at <= now) {
    local.tm_mday += 1;
    local.tm_isdst = -1;
    at = std::chrono::system_clock::from_time_t(std::mktime(&local));
  }
  return at;
}

}  // namespace

sdk::Status PurgePlugin::configure(const sdk::Options& o) {
  days_ = static_cast<int>(o.get_int("purge.days_to_keep", 365));
  batch_ = o.get_int("purge.batch_size", 10000);
  std::smatch m;
  std::string at = o.get("purge.time", "03:00");
  static const std::regex hhmm(R"(^([01]?\d|2[0-3]):([0-5]\d)$)");
  if (!std::regex_match(at, m, hhmm))
    return sdk::Error::invalid("purge.time = \"" + at + "\" is not a time of day; write it HH:MM, e.g. 03:00");
  hour_ = std::stoi(m[1]);
  minute_ = std::stoi(m[2]);
  return {};
}

sdk::Status PurgePlugin::start() {
  store_ = host_.store();
  if (!store_) return sdk::Error::unavailable("records.purge needs the database; set store.dsn in conf.d");
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  return {};
}

void PurgePlugin::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void PurgePlugin::run() {
  for (;;) {
    auto at = next_at(hour_, minute_);
    {
      std::unique_lock lock(mutex_);
      if (cv_.wait_until(lock, at, [this] { return stop_.load(); })) return;
    }
    RecordsPurger purger(*store_, kPurgedTables);
    auto r = purger.purge(days_, batch_, stop_);
    if (!r) {
      host_.log().error("records.purge: purge failed, retried next night: " + r.error().message);
      continue;
    }
    for (auto& t : r->tables)
      host_.log().info("records.purge: " + std::to_string(t.deleted) + " " + t.table + " row(s) older than " +
                       std::to_string(days_) + " day(s) removed in " + std::to_string(t.batches) + " batch(es)");
    if (r->interrupted) host_.log().info("records.purge: stopped before the end; the rest goes next night");
  }
}

constexpr sdk::OptionSpec kPurgeOptions[] = {
    {"purge.days_to_keep", sdk::OptionType::integer, "365",
     "CEL and call logs older than this many days are removed (0 removes them all, as XiVO)", sdk::kNone, nullptr,
     0},
    {"purge.time", sdk::OptionType::string, "03:00", "local time of day the purge runs, HH:MM"},
    {"purge.batch_size", sdk::OptionType::integer, "10000", "rows removed per DELETE statement", sdk::kNone, nullptr,
     100, 1000000},
    {}};

}  // namespace dialtone::plugins::records

DIALTONE_PLUGIN(dialtone::plugins::records::PurgePlugin, "records.purge", "records", "1.0.0",
                "nightly removal of old CEL and call logs, in bounded batches", "", "records.cel,records.call_logs",
                dialtone::plugins::records::kPurgeOptions)
