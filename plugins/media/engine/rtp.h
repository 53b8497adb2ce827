// RTP fixed header (RFC 3550) read and written in place.
#pragma once

#include <cstdint>

namespace dialtone::plugins::media {

struct RtpPacket {
  std::uint8_t pt = 0;
  bool marker = false;
  std::uint16_t seq = 0;
  std::uint32_t ts = 0;
  std::uint32_t ssrc = 0;
  const std::uint8_t* payload = nullptr;
  int payload_len = 0;
};

// RTCP multiplexed on the RTP port (RFC 5761): packet types 192-223.
inline bool is_rtcp(const std::uint8_t* b, int len) { return len >= 2 && b[1] >= 192 && b[1] <= 223; }

inline bool parse_rtp(const std::uint8_t* b, int len, RtpPacket& p) {
  if (len < 12 || (b[0] >> 6) != 2) return false;
  int off = 12 + 4 * (b[0] & 0x0F);
  if (b[0] & 0x10) {  // header extension
    if (len < off + 4) return false;
    off += 4 + 4 * ((b[off + 2] << 8) | b[off + 3]);
  }
  int end = len;
  if (b[0] & 0x20) end -= b[len - 1];  // padding
  if (end < off) return false;
  p.marker = b[1] & 0x80;
  p.pt = b[1] & 0x7F;
  p.seq = static_cast<std::uint16_t>((b[2] << 8) | b[3]);
  p.ts = (std::uint32_t(b[4]) << 24) | (b[5] << 16) | (b[6] << 8) | b[7];
  p.ssrc = (std::uint32_t(b[8]) << 24) | (b[9] << 16) | (b[10] << 8) | b[11];
  p.payload = b + off;
  p.payload_len = end - off;
  return true;
}

inline int write_rtp_header(std::uint8_t* b, std::uint8_t pt, bool marker, std::uint16_t seq,
                            std::uint32_t ts, std::uint32_t ssrc) {
  b[0] = 0x80;
  b[1] = static_cast<std::uint8_t>((marker ? 0x80 : 0) | (pt & 0x7F));
  b[2] = seq >> 8;
  b[3] = seq & 0xFF;
  b[4] = ts >> 24;
  b[5] = (ts >> 16) & 0xFF;
  b[6] = (ts >> 8) & 0xFF;
  b[7] = ts & 0xFF;
  b[8] = ssrc >> 24;
  b[9] = (ssrc >> 16) & 0xFF;
  b[10] = (ssrc >> 8) & 0xFF;
  b[11] = ssrc & 0xFF;
  return 12;
}

// Signed distance a - b in 16-bit sequence space.
inline int seq_diff(std::uint16_t a, std::uint16_t b) { return static_cast<std::int16_t>(a - b); }

}  // namespace dialtone::plugins::media
