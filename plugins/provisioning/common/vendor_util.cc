#include "plugins/provisioning/common/vendor_util.h"

#include <dialtone/text.h>

#include <cstdio>
#include <utility>

namespace dialtone::plugins::provisioning {

std::size_t ifind(std::string_view h, std::string_view n, std::size_t from) {
  if (n.empty()) return from <= h.size() ? from : std::string_view::npos;
  for (std::size_t i = from; i + n.size() <= h.size(); ++i)
    if (sdk::text::iequals(h.substr(i, n.size()), n)) return i;
  return std::string_view::npos;
}

bool istarts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && ifind(s.substr(0, p.size()), p) == 0;
}

std::string_view basename(std::string_view path) {
  auto slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::optional<int> utc_offset_minutes(std::string_view z) {
  static const std::pair<const char*, int> kZones[] = {
      {"UTC", 0}, {"Etc/UTC", 0}, {"GMT", 0}, {"Europe/London", 0}, {"Europe/Dublin", 0},
      {"Europe/Lisbon", 0}, {"Europe/Paris", 60}, {"Europe/Brussels", 60}, {"Europe/Berlin", 60},
      {"Europe/Madrid", 60}, {"Europe/Rome", 60}, {"Europe/Amsterdam", 60}, {"Europe/Zurich", 60},
      {"Europe/Vienna", 60}, {"Europe/Stockholm", 60}, {"Europe/Oslo", 60}, {"Europe/Warsaw", 60},
      {"Europe/Prague", 60}, {"Europe/Athens", 120}, {"Europe/Helsinki", 120},
      {"Europe/Bucharest", 120}, {"Africa/Cairo", 120}, {"Africa/Johannesburg", 120},
      {"Europe/Moscow", 180}, {"Asia/Dubai", 240}, {"Asia/Kolkata", 330}, {"Asia/Shanghai", 480},
      {"Asia/Singapore", 480}, {"Asia/Tokyo", 540}, {"Australia/Sydney", 600},
      {"Pacific/Auckland", 720}, {"America/St_Johns", -210}, {"America/Halifax", -240},
      {"America/New_York", -300}, {"America/Montreal", -300}, {"America/Toronto", -300},
      {"America/Chicago", -360}, {"America/Mexico_City", -360}, {"America/Denver", -420},
      {"America/Phoenix", -420}, {"America/Los_Angeles", -480}, {"America/Vancouver", -480},
      {"America/Anchorage", -540}, {"Pacific/Honolulu", -600}, {"America/Sao_Paulo", -180},
      {"America/Argentina/Buenos_Aires", -180}, {"Africa/Casablanca", 0}, {"Africa/Algiers", 60},
      {"Africa/Tunis", 60}, {"Africa/Dakar", 0}, {"Indian/Reunion", 240},
      {"America/Martinique", -240}, {"America/Guadeloupe", -240}};
  for (auto& [name, off] : kZones)
    if (z == name) return off;
  return std::nullopt;
}

std::string utc_offset_hhmm(int m) {
  char buf[16];
  int a = m < 0 ? -m : m;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", m < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

}  // namespace dialtone::plugins::provisioning
