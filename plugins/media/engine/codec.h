// One payload format's encoder and decoder, converting to and from the
// internal 20 ms / 16 kHz frame. State is allocated when the endpoint is
// created, never per packet.
#pragma once

#include <cstdint>

#include <dialtone/media.h>

#include "dsp.h"

struct OpusEncoder;
struct OpusDecoder;
struct g722_encode_state_s;
struct g722_decode_state_s;

namespace dialtone::plugins::media {

using sdk::media::Codec;

// RTP clock rate of a codec (G.722 keeps 8000 for historical reasons).
int rtp_clock(Codec c);
const char* codec_name(Codec c);  // SDP rtpmap encoding name
int codec_sdp_rate(Codec c);      // rtpmap clock
// Largest encoded frame the engine produces or accepts per 20 ms.
inline constexpr int kMaxEncoded = 1276;

class Encoder {
 public:
  explicit Encoder(Codec c);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  bool ok() const { return ok_; }
  Codec codec() const { return codec_; }
  // kFrame samples in; returns the payload length (<= kMaxEncoded), 0 on error.
  int encode(const std::int16_t* pcm, std::uint8_t* out);

 private:
  Codec codec_;
  bool ok_ = true;
  Down2 down_;
  g722_encode_state_s* g722_ = nullptr;
  OpusEncoder* opus_ = nullptr;
};

class Decoder {
 public:
  explicit Decoder(Codec c);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  bool ok() const { return ok_; }
  Codec codec() const { return codec_; }
  // Returns samples written at kRate (<= max), 0 if the payload is unusable.
  int decode(const std::uint8_t* data, int len, std::int16_t* out, int max);
  // One frame of concealment for a lost packet.
  void conceal(std::int16_t* out);

 private:
  Codec codec_;
  bool ok_ = true;
  Up2 up_;
  g722_decode_state_s* g722_ = nullptr;
  OpusDecoder* opus_ = nullptr;
};

}  // namespace dialtone::plugins::media
