#include "udptl.h"

#include <algorithm>
#include <cstring>

namespace dialtone::plugins::media {

namespace {

// PER length determinant; the number of octets written (0: does not fit).
int put_length(std::uint8_t* out, int room, int value) {
  if (value < 128) {
    if (room < 1) return 0;
    out[0] = static_cast<std::uint8_t>(value);
    return 1;
  }
  if (room < 2) return 0;
  out[0] = static_cast<std::uint8_t>(0x80 | (value >> 8));
  out[1] = static_cast<std::uint8_t>(value & 0xFF);
  return 2;
}

int length_size(int value) { return value < 128 ? 1 : 2; }

// Reads a length determinant at `pos`; false when truncated or fragmented.
bool get_length(const std::uint8_t* buf, int len, int& pos, int& value) {
  if (pos >= len) return false;
  std::uint8_t b = buf[pos++];
  if ((b & 0x80) == 0) {
    value = b;
    return true;
  }
  if ((b & 0x40) != 0 || pos >= len) return false;  // fragments (16K and more) are not used by T.38 terminals
  value = ((b & 0x3F) << 8) | buf[pos++];
  return true;
}

bool get_open_type(const std::uint8_t* buf, int len, int& pos, const std::uint8_t*& data, int& n) {
  if (!get_length(buf, len, pos, n) || n > len - pos) return false;
  data = buf + pos;
  pos += n;
  return true;
}

}  // namespace

void UdptlEncoder::configure(int max_datagram, int redundancy) {
  max_datagram_ = std::clamp(max_datagram, 32, kMaxDatagram);
  redundancy_ = std::clamp(redundancy, 0, kMaxRedundancy);
}

int UdptlEncoder::build(const std::uint8_t* ifp, int len, std::uint8_t* out) {
  if (len <= 0 || len > kMaxIfp) return -1;
  int n = 0;
  out[n++] = static_cast<std::uint8_t>(seq_ >> 8);
  out[n++] = static_cast<std::uint8_t>(seq_ & 0xFF);
  n += put_length(out + n, kMaxDatagram - n, len);
  std::memcpy(out + n, ifp, len);
  n += len;
  // Earlier IFPs, newest first, as many as the peer's datagram size allows.
  int carried = 0;
  int room = max_datagram_ - n - 2;  // the choice octet and the count
  while (carried < std::min(redundancy_, stored_)) {
    const Entry& e = history_[(newest_ - carried + kMaxRedundancy) % kMaxRedundancy];
    int need = length_size(e.len) + e.len;
    if (need > room) break;
    room -= need;
    ++carried;
  }
  out[n++] = 0x00;  // secondary-ifp-packets
  n += put_length(out + n, kMaxDatagram - n, carried);
  for (int i = 0; i < carried; ++i) {
    const Entry& e = history_[(newest_ - i + kMaxRedundancy) % kMaxRedundancy];
    n += put_length(out + n, kMaxDatagram - n, e.len);
    std::memcpy(out + n, e.data, e.len);
    n += e.len;
  }
  newest_ = (newest_ + 1) % kMaxRedundancy;
  std::memcpy(history_[newest_].data, ifp, len);
  history_[newest_].len = len;
  stored_ = std::min(stored_ + 1, kMaxRedundancy);
  ++seq_;
  return n;
}

bool UdptlDecoder::decode(const std::uint8_t* buf, int len, Sink sink, void* user) {
  if (len < 4) {
    ++malformed_;
    return false;
  }
  std::uint16_t seq = static_cast<std::uint16_t>((buf[0] << 8) | buf[1]);
  int pos = 2;
  const std::uint8_t* primary = nullptr;
  int primary_len = 0;
  if (!get_open_type(buf, len, pos, primary, primary_len) || primary_len == 0 || pos >= len) {
    ++malformed_;
    return false;
  }
  const std::uint8_t* secondary[kMaxSecondaries];
  int secondary_len[kMaxSecondaries];
  int count = 0;
  if ((buf[pos++] & 0x80) == 0) {
    int listed = 0;
    if (!get_length(buf, len, pos, listed)) {
      ++malformed_;
      return false;
    }
    for (int i = 0; i < listed; ++i) {
      const std::uint8_t* d = nullptr;
      int n = 0;
      if (!get_open_type(buf, len, pos, d, n)) {
        ++malformed_;
        return false;
      }
      if (count < kMaxSecondaries) {
        secondary[count] = d;
        secondary_len[count++] = n;
      }
    }
  }  // fec-info: only the primary is used
  // Sequence arithmetic modulo 2^16: ahead of what is expected, or behind.
  auto ahead = [](std::uint16_t a, std::uint16_t b) { return static_cast<std::int16_t>(a - b); };
  if (!started_) {
    started_ = true;
    next_ = seq;
  }
  if (ahead(seq, next_) < 0) return true;  // already delivered (or recovered)
  // A gap: secondaries i (seq - 1 - i) fill it, oldest first.
  for (int i = count - 1; i >= 0; --i) {
    std::uint16_t s = static_cast<std::uint16_t>(seq - 1 - i);
    if (ahead(s, next_) < 0 || secondary_len[i] == 0) continue;
    sink(user, s, secondary[i], secondary_len[i]);
    ++recovered_;
  }
  sink(user, seq, primary, primary_len);
  next_ = static_cast<std::uint16_t>(seq + 1);
  return true;
}

}  // namespace dialtone::plugins::media
