// A B-channel's audio into the media engine: the engine's endpoints speak
// RTP, so the B-channel side is a loopback RTP peer of one endpoint (one
// PCMA or PCMU payload per 20 ms frame). Once bridged, everything the engine
// does for a call (mixing with a SIP leg, prompts, tones, recording, in-band
// DTMF detection and sending) works on an ISDN call unchanged.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <dialtone/media.h>

#include "b_channels.h"

struct modem_echo_can_state_s;

namespace dialtone::plugins::dahdi {

struct MediaBridgeStats {
  std::uint64_t to_engine = 0;    // frames sent to the endpoint
  std::uint64_t from_engine = 0;  // frames received from it
  std::uint64_t underruns = 0;    // a tick with no frame from the engine (silence sent)
  std::uint64_t dropped = 0;      // frames dropped because more than the queue's worth waited
};

class MediaBridge {
 public:
  // Binds a loopback UDP socket and an engine endpoint sending to it.
  // `echo_taps` > 0: spandsp's echo canceller on what the line sends back.
  static sdk::Result<std::shared_ptr<MediaBridge>> open(sdk::media::MediaEngine& engine, bool alaw, int echo_taps);
  ~MediaBridge();
  MediaBridge(const MediaBridge&) = delete;
  MediaBridge& operator=(const MediaBridge&) = delete;

  const std::shared_ptr<sdk::media::Endpoint>& endpoint() const { return endpoint_; }
  // The B-channel's port: runs on the pump thread only.
  AudioPort port(const std::shared_ptr<MediaBridge>& self);
  MediaBridgeStats stats() const;

 private:
  MediaBridge() = default;
  void to_line(Frame& out);          // engine -> B-channel
  void from_line(const Frame& in);   // B-channel -> engine

  std::shared_ptr<sdk::media::Endpoint> endpoint_;
  int fd_ = -1;
  bool alaw_ = true;
  std::uint16_t seq_ = 0;
  std::uint32_t ts_ = 0, ssrc_ = 0;
  std::deque<Frame> queue_;
  bool primed_ = false;
  Frame last_sent_{};
  modem_echo_can_state_s* echo_ = nullptr;
  int tx_peak_ = 0;  // loudest sample sent over the echo tail, for double-talk detection
  // Written on the pump thread, read by stats() anywhere.
  std::atomic<std::uint64_t> to_engine_{0}, from_engine_{0}, underruns_{0}, dropped_{0};
};

}  // namespace dialtone::plugins::dahdi
