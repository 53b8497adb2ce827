#include "media_bridge.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>

#include <spandsp.h>

namespace dialtone::plugins::dahdi {
namespace {

constexpr std::size_t kRtpHeader = 12;
// 100 ms: what the engine may be ahead of the line's clock before the
// oldest audio is dropped (the two 20 ms clocks drift apart slowly).
constexpr std::size_t kMaxQueued = 5;
constexpr std::size_t kPrime = 2;

}  // namespace

sdk::Result<std::shared_ptr<MediaBridge>> MediaBridge::open(sdk::media::MediaEngine& engine, bool alaw,
                                                           int echo_taps) {
  std::shared_ptr<MediaBridge> b(new MediaBridge());
  b->alaw_ = alaw;
  b->fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (b->fd_ < 0) return sdk::Error::unavailable("dahdi: media socket: " + std::string(std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(b->fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(b->fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return sdk::Error::unavailable("dahdi: media socket: " + std::string(std::strerror(errno)));
  sdk::media::EndpointConfig cfg;
  cfg.formats = {{alaw ? sdk::media::Codec::pcma : sdk::media::Codec::pcmu, static_cast<std::uint8_t>(alaw ? 8 : 0)}};
  // No telephone-event on a B-channel: digits travel in band both ways,
  // as they do on the line.
  cfg.telephone_event_pt = 0;
  cfg.detect_inband_dtmf = true;
  cfg.latch = false;
  cfg.remote = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto ep = engine.create_endpoint(cfg);
  if (!ep) return ep.error();
  b->endpoint_ = *ep;
  // Where to send: the endpoint's own address.
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(b->endpoint_->local_port());
  if (::inet_pton(AF_INET, b->endpoint_->local_address().c_str(), &to.sin_addr) != 1)
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(b->fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
    return sdk::Error::unavailable("dahdi: media socket: " + std::string(std::strerror(errno)));
  std::random_device rd;
  b->ssrc_ = rd();
  b->seq_ = static_cast<std::uint16_t>(rd());
  // spandsp's NLMS line canceller. Its `echo_can` (the G.168 one) is not
  // usable: 0.0.6 as Debian ships it prints a line on stdout for every
  // sample it processes.
  if (echo_taps > 0) {
    b->echo_ = modem_echo_can_init(echo_taps);
    modem_echo_can_adaption_mode(b->echo_, 1);
  }
  return b;
}

MediaBridge::~MediaBridge() {
  if (echo_) modem_echo_can_free(echo_);
  if (fd_ >= 0) ::close(fd_);
}

AudioPort MediaBridge::port(const std::shared_ptr<MediaBridge>& self) {
  return AudioPort{[self](Frame& out) { self->to_line(out); }, [self](const Frame& in) { self->from_line(in); }};
}

void MediaBridge::to_line(Frame& out) {
  std::uint8_t buf[kRtpHeader + 4 * kFrameBytes];
  while (true) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) break;
    if (n < static_cast<ssize_t>(kRtpHeader) || (buf[0] & 0xc0) != 0x80) continue;
    std::size_t header = kRtpHeader + 4 * (buf[0] & 0x0f);
    if (buf[0] & 0x10) {  // extension header
      if (static_cast<std::size_t>(n) < header + 4) continue;
      header += 4 + 4 * ((buf[header + 2] << 8) | buf[header + 3]);
    }
    if (static_cast<std::size_t>(n) != header + kFrameBytes) continue;  // only 20 ms G.711 frames
    Frame f;
    std::memcpy(f.data(), buf + header, kFrameBytes);
    queue_.push_back(f);
    ++from_engine_;
    if (queue_.size() > kMaxQueued) {
      queue_.pop_front();
      ++dropped_;
    }
  }
  // Playout starts (and restarts after running dry) with two frames in
  // hand: the engine's tick and ours are not in phase, and a late packet
  // then costs one gap rather than one every other tick.
  if (queue_.empty()) primed_ = false;
  if (!primed_ && queue_.size() >= kPrime) primed_ = true;
  if (!primed_) {
    out.fill(alaw_ ? 0xd5 : 0xff);
    ++underruns_;
  } else {
    out = queue_.front();
    queue_.pop_front();
  }
  last_sent_ = out;
}

void MediaBridge::from_line(const Frame& in) {
  std::uint8_t pkt[kRtpHeader + kFrameBytes];
  pkt[0] = 0x80;
  pkt[1] = alaw_ ? 8 : 0;
  pkt[2] = static_cast<std::uint8_t>(seq_ >> 8);
  pkt[3] = static_cast<std::uint8_t>(seq_);
  for (int i = 0; i < 4; ++i) pkt[4 + i] = static_cast<std::uint8_t>(ts_ >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) pkt[8 + i] = static_cast<std::uint8_t>(ssrc_ >> (24 - 8 * i));
  if (echo_) {
    // What the line sent back, less the echo of what we sent it. Geigel
    // double-talk detection: a line louder than half of what we sent is
    // the far party talking, and the filter must not learn from it.
    int16_t tx[kFrameBytes], rx[kFrameBytes];
    int frame_tx_peak = 0, rx_peak = 0;
    for (std::size_t i = 0; i < kFrameBytes; ++i) {
      tx[i] = alaw_ ? alaw_to_linear(last_sent_[i]) : ulaw_to_linear(last_sent_[i]);
      rx[i] = alaw_ ? alaw_to_linear(in[i]) : ulaw_to_linear(in[i]);
      frame_tx_peak = std::max(frame_tx_peak, std::abs(static_cast<int>(tx[i])));
      rx_peak = std::max(rx_peak, std::abs(static_cast<int>(rx[i])));
    }
    tx_peak_ = std::max(frame_tx_peak, tx_peak_ * 7 / 8);  // decays over a few frames
    modem_echo_can_adaption_mode(echo_, rx_peak * 2 <= tx_peak_ ? 1 : 0);
    for (std::size_t i = 0; i < kFrameBytes; ++i) {
      int16_t clean = modem_echo_can_update(echo_, tx[i], rx[i]);
      pkt[kRtpHeader + i] = alaw_ ? linear_to_alaw(clean) : linear_to_ulaw(clean);
    }
  } else {
    std::memcpy(pkt + kRtpHeader, in.data(), kFrameBytes);
  }
  ++seq_;
  ts_ += kFrameBytes;
  if (::send(fd_, pkt, sizeof pkt, MSG_DONTWAIT) == static_cast<ssize_t>(sizeof pkt)) ++to_engine_;
}

MediaBridgeStats MediaBridge::stats() const {
  return {to_engine_.load(), from_engine_.load(), underruns_.load(), dropped_.load()};
}

}  // namespace dialtone::plugins::dahdi
