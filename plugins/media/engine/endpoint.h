// One terminated RTP stream. EndpointCore is owned by the media thread that
// ticks it; EndpointHandle is what applications hold (sdk::media::Endpoint)
// and talks to the core only through its command queue.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/media.h>

#include "codec.h"
#include "dsp.h"
#include "fax_detector.h"
#include "fax_receiver.h"
#include "jitter_buffer.h"
#include "srtp_session.h"
#include "tones.h"

struct dtmf_rx_state_s;
struct dtmf_tx_state_s;

namespace dialtone::plugins::media {

struct EngineContext;
class MediaThread;
class FaxReceiver;
class MixerCore;
class Recording;
struct Sound;

// What the application side and the media thread share.
struct EndpointShared {
  std::mutex m;
  sdk::media::EventHandler handler;
  std::string remote;
  std::atomic<std::uint64_t> packets_in{0}, packets_out{0}, lost{0}, late{0}, srtp_failures{0};
  std::atomic<std::uint64_t> play_request{0};
  // I/O thread only: recordings opened for this endpoint, finished when the
  // endpoint is deleted even if their attach command never ran.
  std::vector<std::weak_ptr<Recording>> recordings;
  void deliver(const sdk::media::MediaEvent& e);
};

struct Playlist {
  std::vector<std::shared_ptr<const Sound>> items;  // null: the file failed, play the info tone
  sdk::media::PlayOptions options;
  bool any_failed = false;
};

std::string address_text(const sockaddr_storage& a);

class EndpointCore {
 public:
  EndpointCore(EngineContext& ctx, int fd, sdk::media::EndpointConfig cfg,
               std::shared_ptr<EndpointShared> shared);
  ~EndpointCore();
  EndpointCore(const EndpointCore&) = delete;
  EndpointCore& operator=(const EndpointCore&) = delete;

  // Any thread: runs `cmd` on the media thread at its next tick.
  void post(std::function<void(EndpointCore&)> cmd);

  // Before the core is attached: checks and installs the SRTP keys.
  sdk::Status init_srtp();
  std::uint16_t local_port = 0;

  // Media thread only, below.
  int fd() const { return fd_; }
  void on_readable();
  void tick_input();
  void tick_output();
  void close();

  void set_remote(const sockaddr_storage& a, socklen_t len);
  void apply_answer(const sdk::media::EndpointConfig& answer);
  void start_playlist(std::uint64_t request, std::unique_ptr<Playlist> list);
  void start_tone(std::uint64_t request, const ToneSpec& tone);
  void stop_playing(std::uint64_t request);
  void attach_recording(std::shared_ptr<Recording> r, bool both);
  void stop_recording();
  // The call's recording (sdk::media::Endpoint::record_call), beside the one above.
  void attach_call_recording(std::shared_ptr<Recording> r);
  void stop_call_recording();
  void queue_dtmf(const std::string& digits);
  void set_echo(bool on) { echo_ = on; }
  void attach_fax(std::shared_ptr<FaxReceiver> fax);
  void use_t38(const sdk::media::T38Options& peer);
  // Fax detection (null: off); see sdk::media::Endpoint::detect_fax.
  void detect_fax(std::shared_ptr<FaxDetector> detector);
  void set_muted(bool m) { muted_ = m; }

  // Mixer access (same thread).
  const std::int16_t* input() const { return in_valid_ && !muted_ ? in_ : nullptr; }
  std::int16_t* mix_out() { return mix_; }
  void set_mix_valid(bool v) { mix_valid_ = v; }
  MixerCore* mixer = nullptr;
  std::atomic<MediaThread*> home{nullptr};
  MediaThread* attached = nullptr;  // set by the thread that ticks it
  std::size_t slot = 0;             // index in that thread's list

 private:
  void run_commands();
  void handle_rtp(const RtpPacket& p);
  void handle_event(const RtpPacket& p);
  void dtmf_detected(char digit, sdk::media::DtmfSource src);
  void emit(sdk::media::MediaEvent e);
  void warn(std::string line);
  bool fill_playback(std::int16_t* out);
  void finish_playback(bool stopped);
  bool send_dtmf_event();
  void send_packet(std::uint8_t pt, bool marker, const std::uint8_t* payload, int len,
                   std::uint32_t ts);
  static void on_inband_digits(void* self, const char* digits, int len);

  EngineContext& ctx_;
  int fd_;
  sdk::media::EndpointConfig cfg_;
  std::shared_ptr<EndpointShared> shared_;

  std::mutex cmd_m_;
  std::atomic<bool> cmd_pending_{false};
  std::vector<std::function<void(EndpointCore&)>> cmds_, running_;

  // Network.
  sockaddr_storage remote_{};
  socklen_t remote_len_ = 0;
  bool heard_remote_ = false;
  std::uint64_t tick_ = 0, last_heard_tick_ = 0;
  std::uint32_t ssrc_;
  std::uint16_t seq_;
  std::uint32_t ts_;
  bool marker_ = true;
  SrtpSession srtp_;
  bool srtp_warned_ = false;
  bool unknown_pt_warned_ = false;
  std::uint8_t rx_[2048];
  std::uint8_t tx_[12 + kMaxEncoded + kSrtpTrailer];

  // Codecs: one encoder (the first format), a decoder per accepted format.
  std::unique_ptr<Encoder> encoder_;
  std::uint8_t send_pt_;
  std::vector<std::pair<std::uint8_t, std::unique_ptr<Decoder>>> decoders_;
  Decoder* last_decoder_ = nullptr;
  JitterBuffer jb_;
  std::int16_t fifo_[4 * kFrame];
  int fifo_len_ = 0;

  // This tick's audio.
  std::int16_t in_[kFrame]{};
  bool in_valid_ = false;
  std::int16_t mix_[kFrame]{};
  bool mix_valid_ = false;
  std::int16_t out_[kFrame]{};
  bool muted_ = false;
  bool echo_ = false;

  // Playback.
  std::unique_ptr<Playlist> playlist_;
  std::size_t item_ = 0, pos_ = 0;
  bool item_tone_ = false;
  ToneGenerator tone_;
  bool tone_playing_ = false;  // play_tone() rather than a failed playlist item
  std::uint64_t applied_request_ = 0;
  ToneSpec info_tone_{};

  // Fax reception: while set, the endpoint sends the receiver's modem signal
  // and nothing else.
  std::shared_ptr<FaxReceiver> fax_;
  static constexpr int kFaxJitterPackets = 10;  // 200 ms
  Down2 fax_down_;
  Up2 fax_up_;
  // T.38: the socket carries UDPTL datagrams (to and from fax_) instead of RTP.
  bool t38_ = false;
  T38Params t38_params_;
  std::uint8_t udptl_tx_[DatagramRing::kSlot];
  void t38_readable(const std::uint8_t* d, int n, const sockaddr_storage& from, socklen_t from_len);
  // Fax detection: while set, the caller's audio goes through it too.
  std::shared_ptr<FaxDetector> fax_detector_;
  void fax_tone(const char* how);

  // Recording: an application's (record), and the call's (record_call,
  // always both directions).
  std::shared_ptr<Recording> rec_;
  bool rec_both_ = false;
  Down2 rec_down_;
  std::shared_ptr<Recording> call_rec_;
  Down2 call_rec_down_;
  // Appends this tick's `src` to `rec` (resampled to its rate); false once it is over.
  static bool append_recording(Recording& rec, Down2& down, const std::int16_t* src);

  // DTMF.
  dtmf_rx_state_s* dtmf_rx_ = nullptr;
  dtmf_tx_state_s* dtmf_tx_ = nullptr;
  Down2 dtmf_down_;
  Up2 dtmf_up_;
  bool seen_rfc4733_ = false;
  bool have_last_event_ = false;
  std::uint32_t last_event_ts_ = 0;
  char dtmf_queue_[64];
  int dtmf_q_head_ = 0, dtmf_q_len_ = 0;
  enum class TeState { idle, on, ending, gap } te_state_ = TeState::idle;
  char te_digit_ = 0;
  std::uint32_t te_ts_ = 0, te_duration_ = 0;
  int te_count_ = 0;
  bool inband_tx_active_ = false;
};

class EndpointHandle final : public sdk::media::Endpoint {
 public:
  EndpointHandle(std::shared_ptr<EngineContext> ctx, EndpointCore* core, std::shared_ptr<EndpointShared> shared,
                 std::uint16_t port, std::string address, std::string language, std::string country);
  ~EndpointHandle() override;

  std::uint16_t local_port() const override { return port_; }
  std::string local_address() const override { return address_; }
  void set_remote(std::string host_port) override;
  void apply_answer(sdk::media::EndpointConfig answer) override;
  void set_handler(sdk::media::EventHandler handler) override;
  void play(std::vector<std::string> sounds, sdk::media::PlayOptions options) override;
  void play_tone(std::string_view name) override;
  void play_music(std::string moh_class) override;
  void stop_playing() override;
  void record(std::filesystem::path wav_file, sdk::media::RecordOptions options) override;
  void stop_recording() override;
  void record_call(std::filesystem::path wav_file) override;
  void stop_call_recording() override;
  void send_dtmf(std::string_view digits) override;
  void echo(bool on) override;
  sdk::media::EndpointStats stats() const override;
  void set_language(std::string language) override;
  bool receive_fax(std::filesystem::path tiff_file, sdk::media::FaxOptions options) override;
  bool use_t38(sdk::media::T38Options peer) override;
  bool detect_fax(bool on) override;

  EndpointCore* core() const { return core_; }

 private:
  // Opens `file` on the I/O thread, then hands it to the media thread (the
  // call's recording when `call`).
  void open_recording(std::filesystem::path file, sdk::media::RecordOptions options, bool call);

  std::shared_ptr<EngineContext> ctx_;
  EndpointCore* core_;
  std::shared_ptr<EndpointShared> shared_;
  std::uint16_t port_;
  std::string address_, country_;
  mutable std::mutex language_m_;  // set_language from the dialplan, read by play() on any thread
  std::string language_;
};

// "host:port", "[v6]:port"; false if it does not parse to a numeric address.
bool parse_address(const std::string& text, sockaddr_storage& out, socklen_t& len);

}  // namespace dialtone::plugins::media
