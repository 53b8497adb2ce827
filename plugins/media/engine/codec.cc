#include "codec.h"

#include <cstring>

#include <opus/opus.h>
extern "C" {
#include <spandsp.h>
}

namespace dialtone::plugins::media {

int rtp_clock(Codec c) { return c == Codec::opus ? 48000 : 8000; }
int codec_sdp_rate(Codec c) { return rtp_clock(c); }
const char* codec_name(Codec c) {
  switch (c) {
    case Codec::pcmu: return "PCMU";
    case Codec::pcma: return "PCMA";
    case Codec::g722: return "G722";
    case Codec::opus: return "opus";
  }
  return "?";
}

Encoder::Encoder(Codec c) : codec_(c) {
  if (c == Codec::g722) {
    g722_ = g722_encode_init(nullptr, 64000, 0);
    ok_ = g722_ != nullptr;
  } else if (c == Codec::opus) {
    int err = 0;
    opus_ = opus_encoder_create(kRate, 1, OPUS_APPLICATION_VOIP, &err);
    ok_ = err == OPUS_OK && opus_;
    if (ok_) {
      opus_encoder_ctl(opus_, OPUS_SET_BITRATE(24000));
      opus_encoder_ctl(opus_, OPUS_SET_COMPLEXITY(5));
    }
  }
}

Encoder::~Encoder() {
  if (g722_) g722_encode_free(g722_);
  if (opus_) opus_encoder_destroy(opus_);
}

int Encoder::encode(const std::int16_t* pcm, std::uint8_t* out) {
  switch (codec_) {
    case Codec::pcmu:
    case Codec::pcma: {
      std::int16_t narrow[kNarrowFrame];
      down_.run(pcm, kFrame, narrow);
      if (codec_ == Codec::pcmu)
        for (int i = 0; i < kNarrowFrame; ++i) out[i] = linear_to_ulaw(narrow[i]);
      else
        for (int i = 0; i < kNarrowFrame; ++i) out[i] = linear_to_alaw(narrow[i]);
      return kNarrowFrame;
    }
    case Codec::g722:
      return g722_encode(g722_, out, pcm, kFrame);
    case Codec::opus: {
      int n = opus_encode(opus_, pcm, kFrame, out, kMaxEncoded);
      return n > 0 ? n : 0;
    }
  }
  return 0;
}

Decoder::Decoder(Codec c) : codec_(c) {
  if (c == Codec::g722) {
    g722_ = g722_decode_init(nullptr, 64000, 0);
    ok_ = g722_ != nullptr;
  } else if (c == Codec::opus) {
    int err = 0;
    opus_ = opus_decoder_create(kRate, 1, &err);
    ok_ = err == OPUS_OK && opus_;
  }
}

Decoder::~Decoder() {
  if (g722_) g722_decode_free(g722_);
  if (opus_) opus_decoder_destroy(opus_);
}

int Decoder::decode(const std::uint8_t* data, int len, std::int16_t* out, int max) {
  switch (codec_) {
    case Codec::pcmu:
    case Codec::pcma: {
      std::int16_t narrow[3 * kNarrowFrame];
      int n = len < 3 * kNarrowFrame ? len : 3 * kNarrowFrame;  // up to 60 ms
      if (2 * n > max) n = max / 2;
      if (codec_ == Codec::pcmu)
        for (int i = 0; i < n; ++i) narrow[i] = ulaw_to_linear(data[i]);
      else
        for (int i = 0; i < n; ++i) narrow[i] = alaw_to_linear(data[i]);
      up_.run(narrow, n, out);
      return 2 * n;
    }
    case Codec::g722: {
      if (len * 2 > max) len = max / 2;
      return g722_decode(g722_, out, data, len);
    }
    case Codec::opus: {
      int n = opus_decode(opus_, data, len, out, max, 0);
      return n > 0 ? n : 0;
    }
  }
  return 0;
}

void Decoder::conceal(std::int16_t* out) {
  if (codec_ == Codec::opus && opus_decode(opus_, nullptr, 0, out, kFrame, 0) == kFrame) return;
  std::memset(out, 0, sizeof(std::int16_t) * kFrame);
}

}  // namespace dialtone::plugins::media
