#include "fax_detector.h"

#include <spandsp.h>

#include "dsp.h"

namespace dialtone::plugins::media {

FaxDetector::FaxDetector() {
  rx_ = modem_connect_tones_rx_init(nullptr, MODEM_CONNECT_TONES_FAX_CNG, &FaxDetector::on_tone, this);
}

FaxDetector::~FaxDetector() {
  if (rx_) modem_connect_tones_rx_free(rx_);
}

void FaxDetector::on_tone(void* self, int code, int level, int delay) {
  (void)level;
  (void)delay;
  if (code == MODEM_CONNECT_TONES_FAX_CNG) static_cast<FaxDetector*>(self)->found_ = true;
}

bool FaxDetector::heard(const std::int16_t* narrow) {
  if (!found_ && rx_) modem_connect_tones_rx(rx_, narrow, kNarrowFrame);
  return found_;
}

}  // namespace dialtone::plugins::media
