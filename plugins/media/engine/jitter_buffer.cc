#include "jitter_buffer.h"

#include <cstring>

namespace dialtone::plugins::media {

void JitterBuffer::reset() {
  for (auto& s : slots_) s.used = false;
  count_ = 0;
  started_ = false;
}

bool JitterBuffer::push(const RtpPacket& p) {
  if (p.payload_len <= 0 || p.payload_len > kMaxPayload) return false;
  if (count_ == 0 && !started_) {
    next_ = p.seq;
  } else {
    int d = seq_diff(p.seq, next_);
    if (started_ && d < 0) {
      ++late_;
      return false;
    }
    if (d >= kSlots) {
      // The peer jumped (new stream, long pause): start over from here.
      reset();
      next_ = p.seq;
    } else if (!started_ && d < 0) {
      if (-d >= kSlots) return false;
      next_ = p.seq;
    }
  }
  Slot& s = slots_[p.seq % kSlots];
  if (s.used && s.seq == p.seq) return false;
  if (!s.used) ++count_;
  s.used = true;
  s.pt = p.pt;
  s.seq = p.seq;
  s.len = static_cast<std::uint16_t>(p.payload_len);
  std::memcpy(s.data, p.payload, p.payload_len);
  return true;
}

JitterBuffer::Pop JitterBuffer::pop(const Slot*& out) {
  if (!started_) {
    if (count_ < prefill_) return Pop::empty;
    started_ = true;
  }
  if (count_ == 0) {
    started_ = false;  // underrun: build up `prefill` again
    return Pop::empty;
  }
  Slot& s = slots_[next_ % kSlots];
  ++next_;
  if (s.used && s.seq == static_cast<std::uint16_t>(next_ - 1)) {
    s.used = false;
    --count_;
    out = &s;
    return Pop::packet;
  }
  ++lost_;
  return Pop::lost;
}

}  // namespace dialtone::plugins::media
