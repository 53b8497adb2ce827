// Fax reception over G.711 audio or T.38: a spandsp T.30 receiver per call,
// run by the engine's fax thread. Over audio, the media thread only copies
// 20 ms of the caller's audio into a lock-free ring and takes 20 ms of modem
// signal out of another; over T.38 it copies UDPTL datagrams in and out of
// two more rings (no lock, no allocation either way). The modems or the T.38
// terminal, the UDPTL framing, T.30 and the TIFF file (spandsp's t4_rx
// writes it through libtiff) run on the fax thread, so no file is written on
// a media thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/media.h>

#include "dsp.h"
#include "udptl.h"

struct fax_state_s;
struct t30_state_s;
struct t38_core_state_s;
struct t38_terminal_state_s;

namespace dialtone::plugins::media {

// Single producer, single consumer ring of 8 kHz samples.
class SampleRing {
 public:
  // False (nothing written) when `n` does not fit.
  bool push(const std::int16_t* s, int n);
  // False (nothing read) when fewer than `n` are buffered.
  bool pop(std::int16_t* out, int n);
  std::size_t size() const { return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire); }

 private:
  static constexpr std::size_t kCap = 1 << 13;  // about 1 s at 8 kHz
  std::int16_t buf_[kCap]{};
  std::atomic<std::size_t> head_{0}, tail_{0};
};

// Single producer, single consumer ring of datagrams (UDPTL), fixed slots.
class DatagramRing {
 public:
  static constexpr int kSlot = UdptlEncoder::kMaxDatagram;
  // False (dropped) when full or larger than a slot.
  bool push(const std::uint8_t* d, int n);
  // The datagram's length, or 0 when empty; `out` holds kSlot octets.
  int pop(std::uint8_t* out);

 private:
  static constexpr std::size_t kSlots = 32;
  struct Slot {
    int len = 0;
    std::uint8_t data[kSlot];
  };
  Slot slots_[kSlots];
  std::atomic<std::size_t> head_{0}, tail_{0};
};

// The T.38 session parameters the fax thread needs (sdk::media::T38Options
// without the address).
struct T38Params {
  int version = 0;
  int max_bitrate = 14400;
  bool transferred_tcf = false;
  int max_datagram = 400;
  bool redundancy = true;
};

class FaxReceiver {
 public:
  // `done` gets the fax_done event once, on the fax thread.
  FaxReceiver(std::filesystem::path file, sdk::media::FaxOptions options, sdk::Logger& log,
              std::function<void(sdk::media::MediaEvent)> done);
  ~FaxReceiver();
  FaxReceiver(const FaxReceiver&) = delete;
  FaxReceiver& operator=(const FaxReceiver&) = delete;

  // Media thread: 20 ms (kNarrowFrame samples) heard from the caller.
  void heard(const std::int16_t* narrow);
  // Media thread: 20 ms to send to the caller; silence until the receiver
  // has answered what it heard.
  void to_send(std::int16_t* narrow);
  // Any thread: the fax is over (the endpoint lets go of it).
  bool over() const { return over_.load(std::memory_order_acquire); }
  // Any thread: the caller hung up; the fax thread ends the session.
  void hang_up() { hung_up_.store(true, std::memory_order_release); }

  // Media thread: the call moved to T.38 (once; later calls are ignored).
  void use_t38(const T38Params& p);
  bool t38() const { return t38_requested_.load(std::memory_order_acquire); }
  // Media thread, T.38: a UDPTL datagram from the peer.
  void heard_datagram(const std::uint8_t* d, int n) {
    if (!over()) (void)udptl_in_.push(d, n);
  }
  // Media thread, T.38, every tick: the next datagram to send (its length,
  // 0: none); `out` holds DatagramRing::kSlot octets.
  int datagram_to_send(std::uint8_t* out);

  // Fax thread: runs the modems on what was heard; true once finished.
  bool step();

 private:
  bool start();
  void start_t38(std::chrono::steady_clock::time_point now);
  void step_t38(std::chrono::steady_clock::time_point now);
  t30_state_s* t30() const;
  void configure(t30_state_s* t30);
  void check_detect();
  void finish(int code);
  static int on_t38_packet(t38_core_state_s* s, void* self, const std::uint8_t* buf, int len, int count);
  static void on_ifp(void* self, std::uint16_t seq, const std::uint8_t* ifp, int len);
  static void on_phase_e(t30_state_s* s, void* self, int code);
  static int on_phase_b(t30_state_s* s, void* self, int result);

  std::filesystem::path file_, part_;
  sdk::media::FaxOptions options_;
  sdk::Logger& log_;
  std::function<void(sdk::media::MediaEvent)> done_;
  fax_state_s* fax_ = nullptr;
  bool started_ = false;
  bool phase_b_ = false;
  bool not_fax_ = false;
  bool ended_ = false;  // phase E ran
  int end_code_ = 0;
  std::uint64_t samples_ = 0;  // heard so far (the detection clock)
  static constexpr std::chrono::seconds kStarved{3};
  std::chrono::steady_clock::time_point heard_at_{};
  std::uint64_t heard_at_samples_ = 0;
  SampleRing rx_, tx_;
  static constexpr int kSendMargin = 10;  // frames (200 ms)
  bool sending_ = false;                 // media thread
  std::atomic<bool> over_{false}, hung_up_{false};

  // T.38: parameters written once by the media thread before the flag.
  T38Params t38_params_;
  std::atomic<bool> t38_requested_{false};
  std::atomic<std::uint64_t> media_ticks_{0};  // media thread: T.38 ticks seen (liveness)
  std::uint64_t media_ticks_seen_ = 0;
  t38_terminal_state_s* t38_ = nullptr;
  std::chrono::steady_clock::time_point t38_clock_{};
  std::uint64_t t38_samples_ = 0;  // the terminal's clock
  UdptlEncoder udptl_tx_;
  UdptlDecoder udptl_rx_;
  DatagramRing udptl_in_, udptl_out_;
  std::uint8_t datagram_[DatagramRing::kSlot];
};

// The engine's fax thread: steps every running FaxReceiver every 5 ms and
// sleeps when there is none.
class FaxWorker {
 public:
  ~FaxWorker() { stop(); }
  // `realtime`: SCHED_FIFO just below the media threads (media.realtime),
  // so that other load cannot starve the modems.
  void start(bool realtime);
  void stop();
  void add(std::shared_ptr<FaxReceiver> r);

 private:
  void run(bool realtime);
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<FaxReceiver>> faxes_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dialtone::plugins::media
