#include "tones.h"

#include <charconv>
#include <cstring>

namespace dialtone::plugins::media {
namespace {

struct CountryTone {
  const char* country;
  const char* name;
  const char* value;
};

// Asterisk's indications.conf.sample values (which follow ITU-T E.180
// Supplement 2). France: ARCEP / ITU 440 Hz plan.
constexpr CountryTone kTones[] = {
    {"fr", "dial", "440"},
    {"fr", "ring", "440/1500,0/3500"},
    {"fr", "busy", "440/500,0/500"},
    {"fr", "congestion", "440/250,0/250"},
    {"fr", "callwaiting", "440/300,0/10000"},
    {"fr", "dialrecall", "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440"},
    {"fr", "record", "1400/500,0/15000"},
    {"fr", "info", "!950/330,!1400/330,!1800/330"},
    {"fr", "stutter", "!440/100,!0/100,!440/100,!0/100,!440/100,!0/100,440"},
    {"us", "dial", "350+440"},
    {"us", "ring", "440+480/2000,0/4000"},
    {"us", "busy", "480+620/500,0/500"},
    {"us", "congestion", "480+620/250,0/250"},
    {"us", "callwaiting", "440/300,0/10000"},
    {"us", "dialrecall", "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440"},
    {"us", "record", "1400/500,0/15000"},
    {"us", "info", "!950/330,!1400/330,!1800/330"},
    {"us", "stutter", "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440"},
    {"uk", "dial", "350+440"},
    {"uk", "ring", "400+450/400,0/200,400+450/400,0/2000"},
    {"uk", "busy", "400/375,0/375"},
    {"uk", "congestion", "400/400,0/350,400/225,0/525"},
    {"uk", "callwaiting", "400/100,0/4000"},
    {"uk", "record", "1400/500,0/60000"},
    {"uk", "info", "!950/330,!1400/330,!1800/330"},
    {"de", "dial", "425"},
    {"de", "ring", "425/1000,0/4000"},
    {"de", "busy", "425/480,0/480"},
    {"de", "congestion", "425/240,0/240"},
    {"de", "callwaiting", "!425/200,!0/200,!425/200,!0/5000,425/200,0/200,425/200,0/5000"},
    {"de", "record", "1400/80,0/15000"},
    {"de", "info", "!950/330,!1400/330,!1800/330"},
};

bool parse_uint(std::string_view s, unsigned& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

bool ToneSpec::finite() const {
  for (int i = 0; i < count; ++i)
    if (!seg[i].once) return false;
  return count > 0;
}

std::optional<ToneSpec> parse_tone(std::string_view text) {
  ToneSpec spec;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.empty()) continue;
    if (spec.count == spec.seg.size()) return std::nullopt;
    ToneSegment s;
    if (part.front() == '!') {
      s.once = true;
      part.remove_prefix(1);
    }
    auto slash = part.find('/');
    auto freqs = part.substr(0, slash);
    if (slash != std::string_view::npos) {
      unsigned ms = 0;
      if (!parse_uint(part.substr(slash + 1), ms)) return std::nullopt;
      s.samples = ms * (kRate / 1000);
    }
    // '*' (amplitude modulation) is not used by the supported countries.
    auto plus = freqs.find('+');
    unsigned f1 = 0, f2 = 0;
    if (!parse_uint(freqs.substr(0, plus), f1)) return std::nullopt;
    if (plus != std::string_view::npos && !parse_uint(freqs.substr(plus + 1), f2)) return std::nullopt;
    if (f1 > 7900 || f2 > 7900) return std::nullopt;
    s.f1 = static_cast<std::uint16_t>(f1);
    s.f2 = static_cast<std::uint16_t>(f2);
    spec.seg[spec.count++] = s;
  }
  if (spec.count == 0) return std::nullopt;
  return spec;
}

std::optional<ToneSpec> country_tone(std::string_view country, std::string_view name) {
  if (name == "ringback") name = "ring";
  for (const auto& t : kTones)
    if (country == t.country && name == t.name) return parse_tone(t.value);
  return std::nullopt;
}

std::vector<std::string> tone_countries() {
  std::vector<std::string> out;
  for (const auto& t : kTones)
    if (out.empty() || out.back() != t.country) out.emplace_back(t.country);
  return out;
}

void ToneGenerator::start(const ToneSpec& spec) {
  spec_ = spec;
  active_ = spec.count > 0;
  enter(0);
}

void ToneGenerator::enter(int i) {
  idx_ = i;
  const auto& s = spec_.seg[i];
  o1_.set(s.f1);
  o2_.set(s.f2);
  o1_.reset();
  o2_.reset();
  left_ = s.samples;
}

bool ToneGenerator::fill(std::int16_t* out) {
  constexpr float kLevel = 5000.0f;  // about -16 dBm0 per component
  for (int i = 0; i < kFrame; ++i) {
    if (!active_) {
      std::memset(out + i, 0, sizeof(std::int16_t) * (kFrame - i));
      return false;
    }
    const auto& s = spec_.seg[idx_];
    float v = 0;
    if (s.f1) v += o1_.next();
    if (s.f2) v += o2_.next();
    out[i] = static_cast<std::int16_t>(v * kLevel);
    if (s.samples != 0 && --left_ == 0) {
      // Next segment; when looping, '!' segments are skipped (Asterisk).
      int n = idx_ + 1;
      if (n >= spec_.count) {
        n = 0;
        while (n < spec_.count && spec_.seg[n].once) ++n;
        if (n >= spec_.count) {
          active_ = false;
          continue;
        }
      }
      enter(n);
    }
  }
  return true;
}

}  // namespace dialtone::plugins::media
