// Test equipment at the far end of a simulated analog port (an FXS port's
// phone, an FXO port's exchange), over the port's one socket: events and
// the phone's hook switch as control messages, 160-byte A-law frames of
// audio at the port's pace; what it hears decoded (DTMF, caller ID, tones).
//
// @code
//   FarEnd exchange(driver->far_end_port(8, 1));
//   exchange.event(plugins::dahdi::kEventRingOffHook);        // a ring
//   exchange.send_caller_id("0140001234", "DUPONT", false);  // V.23 FSK
// @endcode
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spandsp.h>

#include "plugins/backend/dahdi/dahdi_device.h"
#include "tests/plugins/backend/dahdi/audio_probe.h"

namespace dialtone::testing {

// A phone or an exchange at the far end of a simulated analog port: it
// answers each frame the port sends with one of its own (silence, or the
// digits it was asked to key), decodes DTMF and caller ID from what it
// hears, and records the hook commands it receives.
class FarEnd {
 public:
  explicit FarEnd(int fd) : fd_(fd) {
    rx_ = dtmf_rx_init(nullptr, &FarEnd::on_digits, this);
    tx_ = dtmf_tx_init(nullptr);
    cid_ = adsi_rx_init(nullptr, ADSI_STANDARD_CLIP, &FarEnd::on_cid, this);
    thread_ = std::thread([this] { run(); });
  }
  ~FarEnd() {
    running_ = false;
    thread_.join();
    ::close(fd_);
    dtmf_rx_free(rx_);
    dtmf_tx_free(tx_);
    adsi_rx_free(cid_);
    if (cid_tx_) adsi_tx_free(cid_tx_);
  }
  void event(int e) { ASSERT_TRUE(plugins::dahdi::send_event_message(fd_, e)); }
  // The phone's hook switch at `ms` on its own clock (simulated FXS ports).
  // A burst waits for room in the socket (a card's line has no such limit;
  // the stamps keep the phone's timing whatever the pace of sending).
  void line(bool closed, std::uint32_t ms) {
    for (int tries = 0; tries < 100; ++tries) {
      if (plugins::dahdi::send_line_message(fd_, closed, ms)) return;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 100);
    }
    FAIL() << "the port does not read its socket";
  }
  // A rotary dial's pulses for `digits` from `ms` on: 60 ms break, 40 ms
  // make, 700 ms between digits (the phone's timing, carried by the stamps).
  std::uint32_t pulses(const std::string& digits, std::uint32_t ms) {
    for (char d : digits) {
      int n = d == '0' ? 10 : d - '0';
      for (int i = 0; i < n; ++i) {
        line(false, ms);
        line(true, ms + 60);
        ms += 100;
      }
      ms += 700;
    }
    return ms;
  }
  // The exchange sends caller ID in FSK: V.23 (ETSI CLIP) or Bell 202.
  void send_caller_id(const std::string& number, const std::string& name, bool bell) {
    std::lock_guard lock(m_);
    if (cid_tx_) adsi_tx_free(cid_tx_);
    cid_tx_ = adsi_tx_init(nullptr, bell ? ADSI_STANDARD_CLASS : ADSI_STANDARD_CLIP);
    std::uint8_t msg[256];
    int len = adsi_add_field(cid_tx_, msg, -1, CLIP_MDMF_CALLERID, nullptr, 0);
    len = adsi_add_field(cid_tx_, msg, len, CLIP_DATETIME, reinterpret_cast<const std::uint8_t*>("12071530"), 8);
    len = adsi_add_field(cid_tx_, msg, len, CLIP_CALLER_NUMBER, reinterpret_cast<const std::uint8_t*>(number.data()),
                         static_cast<int>(number.size()));
    len = adsi_add_field(cid_tx_, msg, len, CLIP_CALLER_NAME, reinterpret_cast<const std::uint8_t*>(name.data()),
                         static_cast<int>(name.size()));
    cid_left_ = adsi_tx_put_message(cid_tx_, msg, len) > 0;
  }
  bool caller_id_sent() const {
    std::lock_guard lock(m_);
    return !cid_left_;
  }
  void key(const std::string& digits) {
    std::lock_guard lock(m_);
    dtmf_tx_put(tx_, digits.c_str(), static_cast<int>(digits.size()));
  }
  bool got_hook(plugins::dahdi::HookCommand c) const {
    std::lock_guard lock(m_);
    return std::find(hooks_.begin(), hooks_.end(), static_cast<int>(c)) != hooks_.end();
  }
  void clear_hooks() {
    std::lock_guard lock(m_);
    hooks_.clear();
  }
  std::string digits() const {
    std::lock_guard lock(m_);
    return digits_;
  }
  std::string caller_id() const {
    std::lock_guard lock(m_);
    return cid_number_;
  }
  ToneProbe probe;  // what the port plays

 private:
  void run() {
    plugins::dahdi::Frame in{};
    while (running_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      long n = ::recv(fd_, in.data(), in.size(), MSG_DONTWAIT);
      if (n <= 0) continue;
      if (int h = plugins::dahdi::hook_message(in.data(), n); h >= 0) {
        std::lock_guard lock(m_);
        hooks_.push_back(h);
        continue;
      }
      if (n != static_cast<long>(plugins::dahdi::kFrameBytes)) continue;
      probe(in);
      std::int16_t pcm[plugins::dahdi::kFrameBytes];
      for (std::size_t i = 0; i < plugins::dahdi::kFrameBytes; ++i) pcm[i] = alaw_to_linear(in[i]);
      plugins::dahdi::Frame out{};
      {
        std::lock_guard lock(m_);
        dtmf_rx(rx_, pcm, static_cast<int>(plugins::dahdi::kFrameBytes));
        adsi_rx(cid_, pcm, static_cast<int>(plugins::dahdi::kFrameBytes));
        std::int16_t mine[plugins::dahdi::kFrameBytes] = {};
        if (cid_left_) cid_left_ = adsi_tx(cid_tx_, mine, static_cast<int>(plugins::dahdi::kFrameBytes)) == static_cast<int>(plugins::dahdi::kFrameBytes);
        else dtmf_tx(tx_, mine, static_cast<int>(plugins::dahdi::kFrameBytes));
        for (std::size_t i = 0; i < plugins::dahdi::kFrameBytes; ++i) out[i] = linear_to_alaw(mine[i]);
      }
      (void)::send(fd_, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
  }
  static void on_digits(void* self, const char* d, int len) { static_cast<FarEnd*>(self)->digits_.append(d, len); }
  static void on_cid(void* self, const std::uint8_t* msg, int len) {
    auto* f = static_cast<FarEnd*>(self);
    std::uint8_t type = 0;
    const std::uint8_t* body = nullptr;
    int body_len = 0;
    for (int pos = -1; (pos = adsi_next_field(f->cid_, msg, len, pos, &type, &body, &body_len)) > 0;)
      if (body && type == CLIP_CALLER_NUMBER) f->cid_number_.assign(reinterpret_cast<const char*>(body), body_len);
  }

  int fd_;
  mutable std::mutex m_;
  dtmf_rx_state_t* rx_;
  dtmf_tx_state_t* tx_;
  adsi_rx_state_t* cid_;
  adsi_tx_state_t* cid_tx_ = nullptr;
  bool cid_left_ = false;
  std::vector<int> hooks_;
  std::string digits_, cid_number_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

}  // namespace dialtone::testing
