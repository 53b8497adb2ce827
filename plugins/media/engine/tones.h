// Call-progress tones per country, written in Asterisk's indications.conf
// syntax ("440+480/2000,0/4000"; '!' = play once, no duration = forever) so
// the tables can be compared with Asterisk's and the ITU's line by line.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dsp.h"

namespace dialtone::plugins::media {

struct ToneSegment {
  std::uint16_t f1 = 0, f2 = 0;  // Hz; 0 = silent component
  std::uint32_t samples = 0;     // at kRate; 0 = forever
  bool once = false;
};

// A parsed tone: value type, copied into the endpoint without allocation.
struct ToneSpec {
  std::array<ToneSegment, 24> seg{};
  std::uint8_t count = 0;
  // True when every segment plays once: the tone ends by itself.
  bool finite() const;
};

// Parses one indications value; nullopt on a syntax error.
std::optional<ToneSpec> parse_tone(std::string_view text);

// The tone `name` ("dial", "ring"/"ringback", "busy", "congestion", ...) of
// `country` ("fr", "us", "uk", "de"); nullopt if either is unknown.
std::optional<ToneSpec> country_tone(std::string_view country, std::string_view name);
std::vector<std::string> tone_countries();

class ToneGenerator {
 public:
  void start(const ToneSpec& spec);
  void stop() { active_ = false; }
  bool active() const { return active_; }
  // Fills kFrame samples; returns false (and goes inactive) once a finite
  // tone has ended, the rest of the frame being silence.
  bool fill(std::int16_t* out);

 private:
  void enter(int i);
  ToneSpec spec_{};
  bool active_ = false;
  int idx_ = 0;
  std::uint32_t left_ = 0;
  Oscillator o1_, o2_;
};

}  // namespace dialtone::plugins::media
