// Small fixed-size signal helpers used on the media threads: 2x resampling
// (half-band FIR), a sine table oscillator and the frame size every endpoint
// works with internally (20 ms of 16 kHz linear audio).
#pragma once

#include <array>
#include <cstdint>

namespace dialtone::plugins::media {

inline constexpr int kRate = 16000;         // internal linear rate
inline constexpr int kFrame = 320;          // 20 ms at kRate
inline constexpr int kNarrowFrame = 160;    // 20 ms at 8 kHz
inline constexpr int kHalfBandTaps = 23;

inline std::int16_t clamp16(std::int32_t v) {
  return static_cast<std::int16_t>(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

// 16 kHz -> 8 kHz with a half-band low-pass (keeps G.722 content above 4 kHz
// from folding into a G.711 leg).
class Down2 {
 public:
  // n even and <= 2 * kFrame; writes n / 2 samples.
  void run(const std::int16_t* in, int n, std::int16_t* out);

 private:
  std::array<float, kHalfBandTaps - 1 + 2 * kFrame> buf_{};
};

// 8 kHz -> 16 kHz.
class Up2 {
 public:
  // n <= kFrame * 3; writes 2 * n samples.
  void run(const std::int16_t* in, int n, std::int16_t* out);

 private:
  static constexpr int kHist = kHalfBandTaps / 2;
  std::array<float, kHist + 3 * kFrame> buf_{};
};

// Phase-accumulator sine at kRate; no libm call per sample.
class Oscillator {
 public:
  void set(double hz) { step_ = static_cast<std::uint32_t>(hz / kRate * 4294967296.0); }
  void reset() { phase_ = 0; }
  float next();

 private:
  std::uint32_t phase_ = 0, step_ = 0;
};

}  // namespace dialtone::plugins::media
