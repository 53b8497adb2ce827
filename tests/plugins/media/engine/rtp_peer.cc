#include "rtp_peer.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include <opus/opus.h>
#include <sndfile.h>
#include <srtp2/srtp.h>
extern "C" {
#include <spandsp.h>
}

#include <dialtone/base64.h>

namespace dialtone::testing::media {

namespace {
srtp_t make_srtp(const sdk::media::CryptoAttribute& a, srtp_ssrc_type_t dir) {
  static bool init = srtp_init() == srtp_err_status_ok;
  (void)init;
  std::string key;
  sdk::base64_decode(a.key_base64, key);
  srtp_policy_t p;
  std::memset(&p, 0, sizeof p);
  if (a.suite == "AES_CM_128_HMAC_SHA1_32") srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
  else srtp_crypto_policy_set_rtp_default(&p.rtp);
  srtp_crypto_policy_set_rtcp_default(&p.rtcp);
  p.ssrc.type = dir;
  p.key = reinterpret_cast<unsigned char*>(key.data());
  p.window_size = 128;
  srtp_t s = nullptr;
  if (srtp_create(&s, &p) != srtp_err_status_ok) throw std::runtime_error("srtp_create");
  return s;
}
}  // namespace

int peer_rate(Codec c) { return c == Codec::pcmu || c == Codec::pcma ? 8000 : 16000; }

std::vector<std::int16_t> make_tone(double hz, double seconds, int rate, double amplitude, double hz2) {
  std::vector<std::int16_t> out(static_cast<std::size_t>(seconds * rate));
  for (std::size_t i = 0; i < out.size(); ++i) {
    double v = std::sin(2 * M_PI * hz * i / rate);
    if (hz2 > 0) v = (v + std::sin(2 * M_PI * hz2 * i / rate)) / 2;
    out[i] = static_cast<std::int16_t>(amplitude * v);
  }
  return out;
}

double goertzel(const std::vector<std::int16_t>& s, int rate, double hz, std::size_t from, std::size_t to) {
  to = std::min(to, s.size());
  double w = 2 * std::cos(2 * M_PI * hz / rate), s1 = 0, s2 = 0;
  for (std::size_t i = from; i < to; ++i) {
    double s0 = s[i] + w * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - w * s1 * s2;
}

double energy(const std::vector<std::int16_t>& s, std::size_t from, std::size_t to) {
  to = std::min(to, s.size());
  double e = 0;
  for (std::size_t i = from; i < to; ++i) e += double(s[i]) * s[i];
  return e;
}

double tone_share(const std::vector<std::int16_t>& s, int rate, double hz, std::size_t from, std::size_t to) {
  to = std::min(to, s.size());
  if (to <= from) return 0;
  double e = energy(s, from, to);
  if (e <= 0) return 0;
  // Goertzel power of a pure tone of N samples is N/2 times its energy.
  return goertzel(s, rate, hz, from, to) / (e * (to - from) / 2.0);
}

std::size_t loud_samples(const std::vector<std::int16_t>& s, int rate, double rms) {
  std::size_t frame = rate / 50, n = 0;
  for (std::size_t i = 0; i + frame <= s.size(); i += frame)
    if (std::sqrt(energy(s, i, i + frame) / frame) > rms) n += frame;
  return n;
}

RtpPeer::RtpPeer(Codec codec, std::uint8_t pt, std::uint8_t event_pt) : codec_(codec), pt_(pt), event_pt_(event_pt) {
  fd_ = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  int err = 0;
  if (codec == Codec::g722) {
    enc_ = g722_encode_init(nullptr, 64000, 0);
    dec_ = g722_decode_init(nullptr, 64000, 0);
  } else if (codec == Codec::opus) {
    enc_ = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &err);
    dec_ = opus_decoder_create(16000, 1, &err);
  }
  thread_ = std::thread([this] { receive_loop(); });
}

RtpPeer::~RtpPeer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
  if (codec_ == Codec::g722) {
    g722_encode_free(static_cast<g722_encode_state_t*>(enc_));
    g722_decode_free(static_cast<g722_decode_state_t*>(dec_));
  } else if (codec_ == Codec::opus) {
    opus_encoder_destroy(static_cast<OpusEncoder*>(enc_));
    opus_decoder_destroy(static_cast<OpusDecoder*>(dec_));
  }
  if (srtp_tx_) srtp_dealloc(static_cast<srtp_t>(srtp_tx_));
  if (srtp_rx_) srtp_dealloc(static_cast<srtp_t>(srtp_rx_));
}

void RtpPeer::set_remote(std::uint16_t port) {
  remote_.sin_family = AF_INET;
  remote_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  remote_.sin_port = htons(port);
}

void RtpPeer::set_srtp(const sdk::media::CryptoAttribute& send_key, const sdk::media::CryptoAttribute& recv_key) {
  std::lock_guard lk(m_);
  srtp_tx_ = make_srtp(send_key, ssrc_any_outbound);
  srtp_rx_ = make_srtp(recv_key, ssrc_any_inbound);
}

void RtpPeer::send_packet(std::uint8_t pt, bool marker, const std::uint8_t* payload, int len, std::uint32_t ts) {
  std::uint8_t b[1600];
  b[0] = 0x80;
  b[1] = static_cast<std::uint8_t>((marker ? 0x80 : 0) | pt);
  b[2] = seq_ >> 8;
  b[3] = seq_ & 0xFF;
  ++seq_;
  b[4] = ts >> 24;
  b[5] = (ts >> 16) & 0xFF;
  b[6] = (ts >> 8) & 0xFF;
  b[7] = ts & 0xFF;
  b[8] = 0x12;
  b[9] = 0x34;
  b[10] = 0x56;
  b[11] = 0x78;
  std::memcpy(b + 12, payload, len);
  int n = 12 + len;
  if (srtp_tx_) srtp_protect(static_cast<srtp_t>(srtp_tx_), b, &n);
  sendto(fd_, b, n, 0, reinterpret_cast<sockaddr*>(&remote_), sizeof remote_);
}

void RtpPeer::send_audio(const std::vector<std::int16_t>& pcm) {
  const int frame = rate() / 50;
  const std::uint32_t step = codec_ == Codec::opus ? 960 : 160;
  auto next = std::chrono::steady_clock::now();
  bool first = true;
  for (std::size_t i = 0; i + frame <= pcm.size(); i += frame) {
    std::uint8_t payload[1500];
    int n = 0;
    switch (codec_) {
      case Codec::pcmu:
        for (int k = 0; k < frame; ++k) payload[k] = linear_to_ulaw(pcm[i + k]);
        n = frame;
        break;
      case Codec::pcma:
        for (int k = 0; k < frame; ++k) payload[k] = linear_to_alaw(pcm[i + k]);
        n = frame;
        break;
      case Codec::g722:
        n = g722_encode(static_cast<g722_encode_state_t*>(enc_), payload, &pcm[i], frame);
        break;
      case Codec::opus:
        n = opus_encode(static_cast<OpusEncoder*>(enc_), &pcm[i], frame, payload, sizeof payload);
        break;
    }
    send_packet(pt_, first, payload, n, ts_);
    first = false;
    ts_ += step;
    next += std::chrono::milliseconds(20);
    std::this_thread::sleep_until(next);
  }
}

void RtpPeer::send_digits(const std::string& digits) {
  static const std::string k = "0123456789*#ABCD";
  auto next = std::chrono::steady_clock::now();
  for (char d : digits) {
    std::uint32_t ts = ts_;
    std::uint8_t ev[4] = {static_cast<std::uint8_t>(k.find(d)), 10, 0, 0};
    for (int i = 1; i <= 8; ++i) {
      std::uint32_t dur = 160 * std::min(i, 5);
      if (i > 5) ev[1] = 0x80 | 10;
      ev[2] = dur >> 8;
      ev[3] = dur & 0xFF;
      send_packet(event_pt_, i == 1, ev, 4, ts);
      next += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(next);
    }
    ts_ += 160 * 10;
    next += std::chrono::milliseconds(100);
    std::this_thread::sleep_until(next);
  }
}

void RtpPeer::receive_loop() {
  std::uint8_t b[2048];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    sockaddr_in src{};
    socklen_t src_len = sizeof src;
    int n = static_cast<int>(recvfrom(fd_, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&src), &src_len));
    if (n < 12) continue;
    source_port_ = ntohs(src.sin_port);
    std::lock_guard lk(m_);
    if (srtp_rx_ && srtp_unprotect(static_cast<srtp_t>(srtp_rx_), b, &n) != srtp_err_status_ok) continue;
    ++packets_;
    std::uint8_t pt = b[1] & 0x7F;
    std::uint32_t ts = (std::uint32_t(b[4]) << 24) | (b[5] << 16) | (b[6] << 8) | b[7];
    const std::uint8_t* pl = b + 12;
    int len = n - 12;
    if (event_pt_ && pt == event_pt_) {
      if (len >= 4 && (!have_event_ || ts != last_event_ts_)) {
        have_event_ = true;
        last_event_ts_ = ts;
        static const std::string k = "0123456789*#ABCD";
        if (pl[0] < 16) digits_ += k[pl[0]];
      }
      continue;
    }
    if (pt != pt_) continue;
    std::int16_t out[2000];
    int got = 0;
    switch (codec_) {
      case Codec::pcmu:
        for (int i = 0; i < len; ++i) out[i] = ulaw_to_linear(pl[i]);
        got = len;
        break;
      case Codec::pcma:
        for (int i = 0; i < len; ++i) out[i] = alaw_to_linear(pl[i]);
        got = len;
        break;
      case Codec::g722:
        got = g722_decode(static_cast<g722_decode_state_t*>(dec_), out, pl, len);
        break;
      case Codec::opus:
        got = opus_decode(static_cast<OpusDecoder*>(dec_), pl, len, out, 1920, 0);
        break;
    }
    if (got > 0) audio_.insert(audio_.end(), out, out + got);
  }
}

std::vector<std::int16_t> RtpPeer::audio() const {
  std::lock_guard lk(m_);
  return audio_;
}
std::size_t RtpPeer::audio_size() const {
  std::lock_guard lk(m_);
  return audio_.size();
}
std::string RtpPeer::digits() const {
  std::lock_guard lk(m_);
  return digits_;
}
void RtpPeer::clear() {
  std::lock_guard lk(m_);
  audio_.clear();
  digits_.clear();
}

std::vector<std::int16_t> read_wav(const std::filesystem::path& p, int* rate) {
  SF_INFO info{};
  SNDFILE* f = sf_open(p.c_str(), SFM_READ, &info);
  if (!f) return {};
  std::vector<std::int16_t> all(static_cast<std::size_t>(info.frames * info.channels));
  sf_readf_short(f, all.data(), info.frames);
  sf_close(f);
  if (rate) *rate = info.samplerate;
  if (info.channels <= 1) return all;
  std::vector<std::int16_t> first(static_cast<std::size_t>(info.frames));
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = all[i * static_cast<std::size_t>(info.channels)];
  return first;
}

bool write_wav(const std::filesystem::path& p, const std::vector<std::int16_t>& s, int rate) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  if (!f) return false;
  bool ok = sf_write_short(f, s.data(), static_cast<sf_count_t>(s.size())) == static_cast<sf_count_t>(s.size());
  sf_close(f);
  return ok;
}

}  // namespace dialtone::testing::media
