// A fixed-size jitter buffer of RTP payloads ordered by sequence number.
// Filled as packets arrive, emptied one packet per 20 ms tick once `prefill`
// packets have been buffered; no allocation after construction.
#pragma once

#include <array>
#include <cstdint>

#include "codec.h"
#include "rtp.h"

namespace dialtone::plugins::media {

class JitterBuffer {
 public:
  static constexpr int kSlots = 32;
  // G.711 up to 60 ms ptime, Opus voice at any sane bitrate; larger is refused.
  static constexpr int kMaxPayload = 512;

  struct Slot {
    bool used = false;
    std::uint8_t pt = 0;
    std::uint16_t seq = 0;
    std::uint16_t len = 0;
    std::uint8_t data[kMaxPayload];
  };

  enum class Pop { packet, lost, empty };

  void set_prefill(int packets) { prefill_ = packets < 1 ? 1 : (packets > kSlots / 2 ? kSlots / 2 : packets); }
  // False if the packet came after its turn (counted in late()) or is a duplicate.
  bool push(const RtpPacket& p);
  // The next packet in order, a gap to conceal, or nothing buffered.
  Pop pop(const Slot*& out);
  void reset();

  std::uint64_t late() const { return late_; }
  std::uint64_t lost() const { return lost_; }

 private:
  std::array<Slot, kSlots> slots_{};
  int prefill_ = 3;
  int count_ = 0;
  bool started_ = false;
  std::uint16_t next_ = 0;   // started: next seq to play; else the lowest buffered
  std::uint64_t late_ = 0, lost_ = 0;
};

}  // namespace dialtone::plugins::media
