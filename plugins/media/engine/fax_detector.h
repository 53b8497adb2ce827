// Fax detection on a call's audio (seed 5.14.2): spandsp's detector of the
// calling tone a fax machine sends (CNG, 1100 Hz for 0.5 s every 3 s;
// modem_connect_tones_rx), run by the media thread on 20 ms of the caller's
// 8 kHz audio at a time. Built and freed off the media thread; heard()
// neither allocates nor locks.
#pragma once

#include <cstdint>

struct modem_connect_tones_rx_state_s;

namespace dialtone::plugins::media {

class FaxDetector {
 public:
  FaxDetector();
  ~FaxDetector();
  FaxDetector(const FaxDetector&) = delete;
  FaxDetector& operator=(const FaxDetector&) = delete;

  // Media thread: 20 ms (kNarrowFrame samples) heard from the caller; true
  // once the calling tone was heard (and from then on).
  bool heard(const std::int16_t* narrow);

 private:
  static void on_tone(void* self, int code, int level, int delay);
  modem_connect_tones_rx_state_s* rx_ = nullptr;
  bool found_ = false;
};

}  // namespace dialtone::plugins::media
