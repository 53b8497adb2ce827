#include "dsp.h"

#include <cmath>
#include <cstring>

namespace dialtone::plugins::media {
namespace {

// Windowed-sinc half-band: every other tap but the centre is zero.
struct HalfBand {
  std::array<float, kHalfBandTaps> h{};
  HalfBand() {
    const int c = kHalfBandTaps / 2;
    for (int k = 0; k < kHalfBandTaps; ++k) {
      int n = k - c;
      double sinc = n == 0 ? 0.5 : std::sin(M_PI * n / 2.0) / (M_PI * n);
      double w = 0.54 - 0.46 * std::cos(2 * M_PI * k / (kHalfBandTaps - 1));
      h[k] = static_cast<float>(sinc * w);
    }
    double sum = 0;
    for (float v : h) sum += v;
    for (float& v : h) v = static_cast<float>(v / sum);
  }
};
const HalfBand& half_band() {
  static const HalfBand hb;
  return hb;
}

struct SineTable {
  std::array<float, 1025> t{};
  SineTable() {
    for (int i = 0; i <= 1024; ++i) t[i] = static_cast<float>(std::sin(2 * M_PI * i / 1024.0));
  }
};
const SineTable& sine_table() {
  static const SineTable s;
  return s;
}

}  // namespace

void Down2::run(const std::int16_t* in, int n, std::int16_t* out) {
  const auto& h = half_band().h;
  constexpr int kHist = kHalfBandTaps - 1;
  for (int i = 0; i < n; ++i) buf_[kHist + i] = in[i];
  for (int o = 0; o < n / 2; ++o) {
    const float* x = &buf_[2 * o + 1];  // newest sample of this output at x[kHist]
    float acc = 0;
    for (int k = 0; k < kHalfBandTaps; ++k) acc += h[k] * x[kHalfBandTaps - 1 - k];
    out[o] = clamp16(static_cast<std::int32_t>(std::lrintf(acc)));
  }
  std::memmove(&buf_[0], &buf_[n], sizeof(float) * kHist);
}

void Up2::run(const std::int16_t* in, int n, std::int16_t* out) {
  const auto& h = half_band().h;
  for (int i = 0; i < n; ++i) buf_[kHist + i] = in[i];
  // Zero-stuffed input filtered with gain 2: output 2m+p sums the taps whose
  // index has the parity that lands on a real sample.
  for (int m = 0; m < n; ++m) {
    for (int p = 0; p < 2; ++p) {
      float acc = 0;
      int pos = 2 * (m + kHist) + p;  // position in the zero-stuffed stream
      for (int k = (pos & 1); k < kHalfBandTaps; k += 2) {
        int idx = (pos - k) / 2;
        if (idx >= 0) acc += h[k] * buf_[idx];
      }
      out[2 * m + p] = clamp16(static_cast<std::int32_t>(std::lrintf(2 * acc)));
    }
  }
  std::memmove(&buf_[0], &buf_[n], sizeof(float) * kHist);
}

float Oscillator::next() {
  const auto& t = sine_table().t;
  std::uint32_t idx = phase_ >> 22;
  float frac = static_cast<float>(phase_ & 0x3FFFFF) / 4194304.0f;
  float v = t[idx] + (t[idx + 1] - t[idx]) * frac;
  phase_ += step_;
  return v;
}

}  // namespace dialtone::plugins::media
