#include "plugins/api/confd/timezones.h"

#include <regex>
#include <vector>

#include <dialtone/files.h>

namespace dialtone::plugins::api::confd {
namespace {

std::int64_t be(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  if (bytes == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

struct Counts {
  std::size_t isut, isstd, leap, time, type, chars;
  std::size_t size(int time_bytes) const {
    return time * time_bytes + time + type * 6 + chars + leap * (time_bytes + 4) + isstd + isut;
  }
};

bool counts(const std::vector<unsigned char>& f, std::size_t at, Counts& c) {
  if (f.size() < at + 44 || std::string(f.begin() + at, f.begin() + at + 4) != "TZif") return false;
  const unsigned char* p = f.data() + at + 20;
  c = {static_cast<std::size_t>(be(p, 4)), static_cast<std::size_t>(be(p + 4, 4)),
       static_cast<std::size_t>(be(p + 8, 4)), static_cast<std::size_t>(be(p + 12, 4)),
       static_cast<std::size_t>(be(p + 16, 4)), static_cast<std::size_t>(be(p + 20, 4))};
  return c.type > 0 && c.type < 256 && c.time < 100000 && c.chars < 100000 && c.leap < 100000;
}

}  // namespace

sdk::Result<sdk::ConfigZone> read_zone(const std::string& name, const std::filesystem::path& root) {
  static const std::regex valid("[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*");
  std::filesystem::path file;
  if (name.empty()) {
    file = "/etc/localtime";
  } else {
    if (!std::regex_match(name, valid))
      return sdk::Error::invalid("time zone '" + name + "' is not a zone name like Europe/Paris");
    file = root / name;
  }
  const auto text = sdk::read_file(file);
  if (!text) return sdk::Error::not_found("time zone '" + name + "': no file " + file.string() +
                                           " (install tzdata, or name a zone it has)");
  const std::vector<unsigned char> f(text->begin(), text->end());
  Counts c{};
  if (!counts(f, 0, c)) return sdk::Error::invalid("time zone '" + name + "': " + file.string() + " is not a TZif file");
  // Version 2 and later repeat the data with 64-bit times after the first block.
  std::size_t at = 44;
  int bytes = 4;
  if (f[4] >= '2') {
    std::size_t second = 44 + c.size(4);
    if (!counts(f, second, c)) return sdk::Error::invalid("time zone '" + name + "': truncated TZif file");
    at = second + 44;
    bytes = 8;
  }
  if (f.size() < at + c.size(bytes)) return sdk::Error::invalid("time zone '" + name + "': truncated TZif file");
  const unsigned char* times = f.data() + at;
  const unsigned char* index = times + c.time * bytes;
  const unsigned char* types = index + c.time;
  auto utoff = [&](std::size_t t) { return static_cast<std::int32_t>(be(types + t * 6, 4)); };
  sdk::ConfigZone z;
  // Before the first transition: the first standard-time type (RFC 8536 3.2).
  z.initial = utoff(0);
  for (std::size_t t = 0; t < c.type; ++t)
    if (types[t * 6 + 4] == 0) {
      z.initial = utoff(t);
      break;
    }
  for (std::size_t i = 0; i < c.time; ++i) {
    std::size_t t = index[i];
    if (t >= c.type) return sdk::Error::invalid("time zone '" + name + "': bad TZif type index");
    z.transitions.push_back(be(times + i * bytes, bytes));
    z.offsets.push_back(utoff(t));
  }
  return z;
}

}  // namespace dialtone::plugins::api::confd
