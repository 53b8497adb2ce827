// The RTP relay that anchors call media: per call and leg one port pair (RTP
// even, RTCP odd), or one port for a leg that multiplexes RTCP with RTP
// (rtcp-mux, RFC 5761), and one thread (epoll, non-blocking UDP) forwarding
// between the legs. A call whose two phones multiplex costs two ports, three
// when only the answering phone does (it is always offered rtcp-mux), four
// when neither does. The SIP thread only allocates, points and releases.
//
// Latching (symmetric RTP): each socket sends to the address it last received
// from on that leg, so phones behind NAT work without knowing their public
// address. Until the first packet arrives the address from the leg's SDP is
// used. Once latched, packets from another source are dropped unless the
// latched source has been quiet for `relatch_quiet` (a NAT rebinding), which
// keeps a stray or spoofed packet from taking over a live stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/media.h>
#include <dialtone/result.h>

namespace dialtone::plugins::backend::sip {

struct RelayConfig {
  std::string bind = "127.0.0.1";  // IPv4 or IPv6 literal
  int port_min = 10000;
  // 20,001 ports: 10,000 calls with rtcp-mux, 6,667 with the answerer's
  // only, 5,000 without; media.engine takes 40000-50000.
  int port_max = 30000;
  std::chrono::milliseconds relatch_quiet{2000};
};

// What one leg (one phone) sent and received through the relay.
struct LegStats {
  std::uint64_t packets_in = 0;   // RTP from the phone
  std::uint64_t bytes_in = 0;
  std::uint64_t packets_out = 0;  // RTP sent to the phone
  std::uint64_t bytes_out = 0;
  std::uint64_t rtcp_in = 0;
  std::uint64_t rtcp_out = 0;
  std::uint64_t lost = 0;     // sequence-number gaps in what the phone sent
  std::uint64_t dropped = 0;  // from a source other than the latched one
  std::uint64_t relatched = 0;
};

struct RelayStats {
  LegStats a;
  LegStats b;
};

enum class MediaLeg { a = 0, b = 1 };

class RtpRelay {
 public:
  using SessionId = std::uint64_t;
  struct Ports {
    int a = 0;  // RTP port facing leg A (RTCP: a + 1, or a itself when muxed)
    int b = 0;
    bool mux_a = false;
    bool mux_b = false;
  };

  explicit RtpRelay(RelayConfig config, sdk::Logger* log = nullptr);
  ~RtpRelay();
  RtpRelay(const RtpRelay&) = delete;
  RtpRelay& operator=(const RtpRelay&) = delete;

  // Starts the relay thread; fails naming rtp.bind or the range when unusable.
  sdk::Status start();
  void stop();

  // A port pair per leg from the range, or one port for a leg that muxes
  // RTCP; fails with ErrorCode::unavailable when the range is exhausted.
  sdk::Result<std::pair<SessionId, Ports>> allocate(bool mux_a = false, bool mux_b = false);
  // `leg` accepted rtcp-mux: its RTCP port goes back to the range and its
  // RTCP comes and goes on the RTP port. False for an unknown session.
  bool mux(SessionId id, MediaLeg leg);
  // Where to send to `leg` until it sends itself. A different address than
  // the leg's previous SDP (another forked callee answered) drops the latch.
  void set_remote(SessionId id, MediaLeg leg, const std::string& ip, int rtp_port, int rtcp_port);
  std::optional<RelayStats> stats(SessionId id) const;
  // Music on hold: a port of the range whose RTP (from the first source that
  // sends to it) goes to `toward` in place of what the other leg sends, until
  // end_feed(). The same port when already feeding.
  sdk::Result<int> feed(SessionId id, MediaLeg toward);
  void end_feed(SessionId id, MediaLeg toward);
  // Closes the sockets and returns the ports to the pool; the final counters.
  std::optional<RelayStats> release(SessionId id);

  const std::string& address() const { return config_.bind; }
  std::size_t capacity() const;    // port pairs in the range
  std::size_t free_pairs() const;  // whole pairs not held by a session
  std::size_t sessions() const;
  RelayStats totals() const;       // every session since start, open or released
  double cpu_seconds() const;      // CPU time of the relay thread

  struct Impl;

 private:
  RelayConfig config_;
  std::unique_ptr<Impl> impl_;
};

struct MediaConfig {
  RelayConfig relay;
  bool direct_media = false;
  std::vector<std::string> codecs{"pcmu", "pcma", "g722", "opus", "telephone-event"};
  std::string advertise;  // address written in SDP; empty: relay.bind (or the SIP host if wildcard)
};

// One call's media: turns each SDP crossing the B2BUA into the one sent on.
// Anchored: codecs filtered, c=/m= pointed at the relay; direct: unchanged.
// Errors: ErrorCode::unsupported (no common codec: 488), invalid (bad SDP:
// 488), unavailable (no free ports: 503).
class CallMedia {
 public:
  CallMedia(RtpRelay* relay, const MediaConfig& config, bool direct, std::string call_id,
            sdk::Logger* log);
  ~CallMedia();
  CallMedia(const CallMedia&) = delete;
  CallMedia& operator=(const CallMedia&) = delete;

  sdk::Result<std::string> offer(MediaLeg from, const std::string& sdp);
  sdk::Result<std::string> answer(MediaLeg from, const std::string& sdp);

  // Music on hold toward `toward`: where to send it (the relay's feed port)
  // and what that leg receives (the answer's codec, under `toward`'s own
  // payload type; for SRTP, protected with the key `toward` decrypts the
  // other party with). unsupported: direct media.
  struct Feed {
    std::string address;
    int port = 0;
    std::string encoding;  // "PCMU/8000"
    int payload_type = 0;
    // SRTP (SDES): the other party's key, and `toward`'s own; both or neither.
    std::optional<sdk::media::CryptoAttribute> srtp_send;
    std::optional<sdk::media::CryptoAttribute> srtp_recv;
  };
  sdk::Result<Feed> start_feed(MediaLeg toward);
  void end_feed(MediaLeg toward);

  bool direct() const { return direct_; }
  std::optional<RelayStats> stats() const;
  std::optional<RtpRelay::Ports> ports() const;
  // Frees the ports (also done by the destructor) and logs the counters.
  void release();

 private:
  struct State;
  RtpRelay* relay_;
  bool direct_;
  std::string call_id_;
  sdk::Logger* log_;
  std::unique_ptr<State> state_;
};

// `direct_media` from a line's confd_endpoints_sip.options (JSON: a list of
// [key, value] pairs, or an object); nullopt when absent or not a boolean.
std::optional<bool> direct_media_option(const std::string& options_json);

// The SIP status for a CallMedia error.
int media_error_status(const sdk::Error& e);

}  // namespace dialtone::plugins::backend::sip
