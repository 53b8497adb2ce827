// Test audio on B-channels: an A-law sine source and a sink that measures
// a frequency's share of the energy with the Goertzel algorithm.
#pragma once

#include <cmath>
#include <cstdint>
#include <mutex>
#include <vector>

#include <spandsp.h>

#include "plugins/backend/dahdi/b_channels.h"

namespace dialtone::testing {

class SineSource {
 public:
  SineSource(double hz, double amplitude) : step_(2 * M_PI * hz / 8000.0), amplitude_(amplitude) {}
  void operator()(plugins::dahdi::Frame& out) {
    for (auto& b : out) {
      b = linear_to_alaw(static_cast<int>(amplitude_ * std::sin(phase_)));
      phase_ += step_;
    }
  }

 private:
  double phase_ = 0, step_, amplitude_;
};

class ToneProbe {
 public:
  void operator()(const plugins::dahdi::Frame& in) {
    std::lock_guard lock(m_);
    for (auto b : in) samples_.push_back(alaw_to_linear(b));
  }
  std::size_t samples() const {
    std::lock_guard lock(m_);
    return samples_.size();
  }
  // RMS of the last `n` samples.
  double rms(std::size_t n) const {
    std::lock_guard lock(m_);
    n = std::min(n, samples_.size());
    double sum = 0;
    for (std::size_t i = samples_.size() - n; i < samples_.size(); ++i) sum += double(samples_[i]) * samples_[i];
    return n ? std::sqrt(sum / n) : 0;
  }
  // Amplitude of `hz` in the last `n` samples (Goertzel): a pure sine of
  // amplitude A gives about A.
  double amplitude(double hz, std::size_t n) const {
    std::lock_guard lock(m_);
    n = std::min(n, samples_.size());
    double coeff = 2 * std::cos(2 * M_PI * hz / 8000.0), s1 = 0, s2 = 0;
    for (std::size_t i = samples_.size() - n; i < samples_.size(); ++i) {
      double s = samples_[i] + coeff * s1 - s2;
      s2 = s1;
      s1 = s;
    }
    double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    return n ? 2 * std::sqrt(std::max(power, 0.0)) / n : 0;
  }

 private:
  mutable std::mutex m_;
  std::vector<std::int16_t> samples_;
};

}  // namespace dialtone::testing
