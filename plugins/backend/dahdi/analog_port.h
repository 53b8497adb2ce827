// Analog ports: the hook signalling of one FXS port (a phone on it:
// chan_dahdi's signalling fxo_ks) or FXO port (a line from the exchange:
// fxs_ks), written against the span driver's two primitives, DAHDI events
// in (off-hook, on-hook, ring) and hook commands out (ring, off-hook,
// on-hook), and the port's audio through the B-channel pump. On a card the
// events come from DAHDI_GETEVENT and the commands go through DAHDI_HOOK;
// on a simulated port both travel as control messages on the port's socket
// beside its audio frames (dahdi_device.h). Only the signalling thread
// calls a port; its audio helper is also run by the B-channel thread.
//
//   FXS  idle --off-hook--> dial tone --digit (DTMF or pulses)--> collecting
//        --'#' or silence--> routed (the dialplan has the number) ... on-hook: idle
//        idle --ring()--> ringing (caller ID after the first ring)
//        --off-hook--> up ... on-hook: idle
//        up --flash--> transfer dial tone (the other party held) --digits-->
//        the other party transferred there; --flash again--> up
//   FXO  idle --ring--> [caller ID: after the first ring, or after the
//        polarity reversal before it] ringing in (the dialplan decides)
//        --answer()--> off-hook, up ... disconnect (loop current drop, or a
//        polarity reversal with hanguponpolarityswitch): idle
//        idle --dial()--> off-hook, seizing --dial tone wait--> dialing
//        (DTMF) --digits sent--> up (or, with answeronpolarityswitch,
//        dialed --polarity reversal--> up)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "b_channels.h"
#include "dahdi_device.h"

struct dtmf_rx_state_s;
struct dtmf_tx_state_s;
struct adsi_tx_state_s;
struct adsi_rx_state_s;

namespace dialtone::plugins::dahdi {

// What the port sends and hears outside a call's media: the dial tone, the
// phone's digits, the digits dialed on a line, caller ID. Thread-safe: the
// B-channel thread runs port(); the signalling thread sets what it does.
class AnalogAudio {
 public:
  AnalogAudio(bool alaw, bool bell);
  ~AnalogAudio();
  AnalogAudio(const AnalogAudio&) = delete;
  AnalogAudio& operator=(const AnalogAudio&) = delete;

  void dial_tone(bool on);                                  // 440 Hz, continuous (France, ETSI)
  void listen_dtmf(std::function<void(char)> on_digit);     // empty: stop listening
  void send_dtmf(const std::string& digits);
  // Caller ID in FSK, as after the first ring: `bell` Bell 202 (Telcordia
  // GR-30, chan_dahdi's cidsignalling=bell), else V.23 (ETSI EN 300 659
  // CLIP, cidsignalling=v23).
  void send_caller_id(const std::string& number, const std::string& name);
  // Decodes the caller ID a line sends (FXO); the callback runs on the
  // B-channel thread with the number and name ("" when withheld or absent).
  void listen_caller_id(std::function<void(const std::string&, const std::string&)> on_cid);
  void silence();                                           // stops tone, digits and caller ID
  bool sending() const;                                     // DTMF or caller ID still going out
  // The pump's port for this audio (source and sink).
  AudioPort port(const std::shared_ptr<AnalogAudio>& self);

 private:
  void fill(Frame& out);
  void hear(const Frame& in);
  static void on_digits(void* self, const char* digits, int len);
  static void on_cid(void* self, const std::uint8_t* msg, int len);
  int standard() const;

  mutable std::mutex m_;
  bool alaw_;
  bool tone_ = false;
  double phase_ = 0;
  dtmf_rx_state_s* rx_ = nullptr;
  dtmf_tx_state_s* tx_ = nullptr;
  adsi_tx_state_s* cid_ = nullptr;
  adsi_rx_state_s* cid_rx_ = nullptr;
  bool bell_ = false;
  std::function<void(const std::string&, const std::string&)> on_cid_;
  int tx_pending_ = 0;  // samples of DTMF still queued (spandsp does not say)
  bool cid_pending_ = false;
  std::function<void(char)> on_digit_;
};

enum class AnalogRole { fxs, fxo };  // fxs: a phone on the port; fxo: a line on it
enum class AnalogState { idle, dialtone, collecting, routed, ringing, cid_wait, ringing_in, seizing, dialing, dialed, up,
                         lockout };
const char* to_string(AnalogState s);

class AnalogPort {
 public:
  using Clock = std::chrono::steady_clock;
  // What the port asks of the driver (calls, the line's hook).
  struct Actions {
    std::function<void(HookCommand)> hook;
    std::function<void()> audio;                          // connect the port's AnalogAudio to the pump
    std::function<void()> listen;                         // FXS: the phone's digits to on_digit()
    std::function<void(const std::string&)> dialed;      // FXS: the phone dialed this number
    std::function<void()> incoming;                       // FXO: the line rings
    std::function<void()> answered;                       // FXS: the rung phone picked up; FXO: dialing done
    std::function<void(int cause)> ended;                 // the phone hung up, the line dropped
    std::function<void()> listen_cid;                     // FXO: the line's caller ID to on_caller_id()
    std::function<void(bool)> hold;                       // FXS: flash: the other party held (true) or back
    std::function<void(const std::string&)> transfer;     // FXS: flash, digits: the other party goes there
  };
  // chan_dahdi's options of the port (docs/admin/dahdi.md, section 6).
  struct Options {
    bool use_callerid = true;             // usecallerid
    bool cid_on_polarity = false;         // cidstart = polarity (else ring)
    bool answer_on_polarity = false;      // answeronpolarityswitch
    bool hangup_on_polarity = false;      // hanguponpolarityswitch
    bool transfer = true;                 // transfer: flash, digits: the other party transferred
  };
  struct Timing {
    std::chrono::milliseconds first_digit{10000};         // dial tone with no digit: lockout
    std::chrono::milliseconds next_digit{4000};           // the number is complete after this silence
    std::chrono::milliseconds ring_gone{8000};            // FXO: no ring for this long, the caller gave up
    std::chrono::milliseconds dial_tone_wait{500};        // FXO: off-hook to the first digit
    std::chrono::milliseconds cid_ring{5000};             // FXO, cidstart = polarity: reversal to the first ring
    std::chrono::milliseconds answer_wait{60000};         // FXO, answeronpolarityswitch: dialed to the answer
  };

  AnalogPort(AnalogRole role, std::shared_ptr<AnalogAudio> audio, Actions actions, Timing timing,
             Options options);

  // From the port (signalling thread).
  void on_event(int event, Clock::time_point now);
  void on_digit(char digit, Clock::time_point now);
  void on_timer(Clock::time_point now);
  void on_caller_id(const std::string& number, const std::string& name);  // FXO
  // From the call.
  bool ring(const std::string& number, const std::string& name);  // FXS
  bool dial(const std::string& number, Clock::time_point now);    // FXO
  void answer();                                                   // FXO: take the ringing line
  void release();                                                  // the call ended

  AnalogRole role() const { return role_; }
  AnalogState state() const { return state_.load(); }  // any thread
  bool idle() const { return state_.load() == AnalogState::idle; }
  std::optional<Clock::time_point> deadline() const { return deadline_; }
  const std::shared_ptr<AnalogAudio>& audio() const { return audio_; }
  // The caller ID the line sent with its call (FXO), "" without one.
  const std::string& caller_number() const { return cid_number_; }
  const std::string& caller_name() const { return cid_name_; }

 private:
  void to_idle();
  void fxs_event(int event, Clock::time_point now);
  void fxo_event(int event, Clock::time_point now);
  void dial_tone(Clock::time_point now);
  void ring_in();

  AnalogRole role_;
  std::shared_ptr<AnalogAudio> audio_;
  Actions act_;
  Timing timing_;
  Options opt_;
  bool transferring_ = false;  // FXS: dial tone and digits after a flash
  std::atomic<AnalogState> state_{AnalogState::idle};
  std::optional<Clock::time_point> deadline_;
  std::string digits_;
  std::string cid_number_, cid_name_;
  bool cid_sent_ = false;
};

}  // namespace dialtone::plugins::dahdi
