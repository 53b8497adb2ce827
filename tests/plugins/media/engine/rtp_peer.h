// A softphone-like RTP peer for tests: its own UDP socket, its own encoder
// and decoder (spandsp, libopus) and optional SRTP (libsrtp2). It sends audio
// paced in real time and keeps everything it receives, decoded.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <dialtone/media.h>

namespace dialtone::testing::media {

using sdk::media::Codec;

// Native sample rate of a codec at the peer (G.711: 8 kHz, others 16 kHz).
int peer_rate(Codec c);

std::vector<std::int16_t> make_tone(double hz, double seconds, int rate, double amplitude = 8000,
                                    double hz2 = 0);
// Goertzel power of `hz` over samples [from, to).
double goertzel(const std::vector<std::int16_t>& s, int rate, double hz, std::size_t from = 0,
                std::size_t to = SIZE_MAX);
double energy(const std::vector<std::int16_t>& s, std::size_t from = 0, std::size_t to = SIZE_MAX);
// Fraction of the signal's energy at `hz` (1.0: a pure tone of that frequency).
double tone_share(const std::vector<std::int16_t>& s, int rate, double hz, std::size_t from = 0,
                  std::size_t to = SIZE_MAX);
// Number of samples whose 20 ms frame is above `rms`.
std::size_t loud_samples(const std::vector<std::int16_t>& s, int rate, double rms = 300);
// The samples of a WAV file (its first channel); empty when it cannot be read.
std::vector<std::int16_t> read_wav(const std::filesystem::path& p, int* rate = nullptr);
// A mono 16-bit WAV file of `s` at `rate`; false when it cannot be written.
bool write_wav(const std::filesystem::path& p, const std::vector<std::int16_t>& s, int rate);

class RtpPeer {
 public:
  explicit RtpPeer(Codec codec = Codec::pcmu, std::uint8_t pt = 0, std::uint8_t event_pt = 101);
  ~RtpPeer();

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void set_remote(std::uint16_t port);
  // SRTP: `send_key` is ours (the endpoint's srtp_remote), `recv_key` the endpoint's.
  void set_srtp(const sdk::media::CryptoAttribute& send_key, const sdk::media::CryptoAttribute& recv_key);

  // Sends `pcm` at peer_rate(codec) as 20 ms packets, one every 20 ms. Blocks.
  void send_audio(const std::vector<std::int16_t>& pcm);
  // RFC 4733 events, 100 ms each with three end packets, 100 ms apart. Blocks.
  void send_digits(const std::string& digits);

  std::vector<std::int16_t> audio() const;
  std::size_t audio_size() const;
  std::string digits() const;
  std::size_t packets() const { return packets_.load(); }
  // The port the last packet came from (0: none yet): where a relay sends
  // from, so where to answer it (symmetric RTP).
  std::uint16_t source_port() const { return source_port_.load(); }
  void clear();
  int rate() const { return peer_rate(codec_); }

 private:
  void receive_loop();
  void send_packet(std::uint8_t pt, bool marker, const std::uint8_t* payload, int len, std::uint32_t ts);

  Codec codec_;
  std::uint8_t pt_, event_pt_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  sockaddr_in remote_{};
  std::uint16_t seq_ = 1000;
  std::uint32_t ts_ = 5000;
  void* srtp_tx_ = nullptr;
  void* srtp_rx_ = nullptr;
  void* enc_ = nullptr;  // g722 or opus encoder
  void* dec_ = nullptr;
  mutable std::mutex m_;
  std::vector<std::int16_t> audio_;
  std::string digits_;
  bool have_event_ = false;
  std::uint32_t last_event_ts_ = 0;
  std::atomic<std::size_t> packets_{0};
  std::atomic<std::uint16_t> source_port_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dialtone::testing::media
