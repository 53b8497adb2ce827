// backend.dahdi's channel driver: ISDN spans through libpri, one signalling
// thread for every span's D-channel (libpri's event loop and timers, the
// call state), one thread pacing the B-channels (b_channels.h). The call
// core and the dialplan reach it only through sdk::ChannelDriver and posted
// commands, so neither ever waits on a D-channel.
//
// Dial targets (docs/lua-dialplan.md): `dahdi/g<group>/<number>` takes a free
// B-channel on any span of the group, `dahdi/<span>/<number>` one of that
// span, `dahdi/<span>/<channel>/<number>` that channel (its DAHDI number).
// Analog spans (FXS phones, FXO lines) are served in analog_calls.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/calls.h>
#include <dialtone/host.h>

#include "b_channels.h"
#include "media_bridge.h"
#include "span_config.h"

struct q931_call;

namespace dialtone::plugins::dahdi {

class PriSpan;

struct SpanStatus {
  int number = 0;
  bool running = false;   // refused spans are not
  bool dchan_up = false;
  std::size_t calls = 0;
  std::uint64_t malformed = 0;
};

class DahdiDriver final : public sdk::ChannelDriver, public std::enable_shared_from_this<DahdiDriver> {
 public:
  DahdiDriver(DahdiConfig config, sdk::Host& host, std::shared_ptr<sdk::CallCore> core);
  ~DahdiDriver() override;

  // Opens the spans and starts both threads. A span that cannot run (a
  // hardware span without the DAHDI module or whose channels DAHDI does not
  // have as configured) is refused with one log line; the others run.
  // Fails only if no thread can start.
  sdk::Status start();
  void stop();

  sdk::Status originate(const sdk::OriginateRequest& request) override;
  sdk::Status cancel(const sdk::Channel& channel, int q850_cause) override;
  sdk::Status progress(const sdk::Channel& channel) override;
  sdk::Status ringing(const sdk::Channel& channel) override;
  sdk::Status answer(const sdk::Channel& channel) override;
  sdk::Status send_dtmf(const sdk::Channel& channel, const std::string& digits) override;
  sdk::Status bridge(const sdk::Channel& a, const sdk::Channel& b, sdk::MediaPath path) override;
  sdk::Status hangup(const sdk::Channel& channel, int q850_cause) override;

  std::vector<SpanStatus> spans() const;
  // Sends RESTART for every B-channel of the span (calls on it end, cause 41).
  void restart_span(int span);
  // Simulated spans: unplug (or plug back) the cable's D-channel, as a
  // pulled connector does; libpri notices through its Q.921 timers.
  void unplug(int span, bool unplugged);
  // A simulated span without a peer: the far end of its D-channel, for
  // test equipment speaking Q.921/Q.931 itself; -1 otherwise. The caller
  // owns the descriptor.
  int far_end(int span);
  // A simulated analog port: the far end of its socket, for test
  // equipment playing the phone (FXS) or the exchange (FXO): 160-byte audio
  // frames and control messages (dahdi_device.h); -1 otherwise. The caller
  // owns the descriptor.
  int far_end_port(int span, int channel);
  // An analog port's state ("idle", "dialtone", "up"...), for tests.
  std::string analog_state(int span, int channel) const;
  // libpri timer (PRI_TIMER_*) of a span, e.g. T203 to notice a cut sooner.
  void set_timer(int span, int timer, int value);
  // The B-channel of a channel in the call core, while it has one.
  std::optional<ChannelKey> b_channel(const std::string& channel_id) const;
  // What the B-channel plays and who hears it (media bridging, tests).
  void connect_audio(ChannelKey key, AudioPort port) { pump_.connect(key, std::move(port)); }
  BChannelStats audio_stats(ChannelKey key) const { return pump_.stats(key); }
  const BChannelPump& pump() const { return pump_; }
  // The media engine's endpoint carrying a call's B-channel (null without
  // the media.engine plugin, or before the call has media: an outgoing call
  // from its ALERTING or PROGRESS, an incoming one from its answer).
  std::shared_ptr<sdk::media::Endpoint> media_endpoint(const std::string& channel_id) const;
  std::optional<MediaBridgeStats> media_stats(const std::string& channel_id) const;

 private:
  struct Call;
  struct Span;
  struct AnalogLine;  // analog_calls.cc

  void post(std::function<void()> fn);
  void loop();
  void handle_event(Span& span, void* event);
  void on_ring(Span& span, void* event);
  void on_info(Span& span, void* event);
  void on_hangup(Span& span, q931_call* q, int cause, bool released);
  void route_incoming(const std::shared_ptr<Call>& call);
  void decided(const std::string& channel_id, const sdk::Result<sdk::LuaValues>& r);
  void place_call(const sdk::OriginateRequest& request, const sdk::OriginateLeg& leg);
  void end_call(const std::shared_ptr<Call>& call, int cause, bool send_hangup);
  void forget(const std::shared_ptr<Call>& call);
  void set_dchan(Span& span, bool up);
  void open_media(Call& call);
  void join_media(const std::string& a, const std::string& b);
  // An outgoing call's progress (ALERTING, PROGRESS, CALL PROCEEDING):
  // with in-band audio (progress indicator 8) its B-channel is joined with
  // the origin's engine endpoint at once; without it the origin hears the
  // ring tone (ALERTING) until then.
  void early_media(Call& call, bool inband, bool alerting);
  void stop_ringback(Call& call);
  void on_leg_event(const sdk::Event& e);
  std::shared_ptr<Call> call_of_channel(const std::string& channel_id) const;
  std::shared_ptr<Call> call_of(Span& span, q931_call* q) const;
  int free_b_channel(const Span& span) const;
  void with_call(const std::string& channel_id, std::function<void(Span&, Call&)> fn);
  // Analog ports (analog_calls.cc), on the signalling thread but start.
  sdk::Status start_analog(const SpanConfig& span);
  void analog_event(ChannelKey key, int event);
  long analog_timeout_ms(long timeout) const;
  void analog_timers();
  // Originates on an analog span of `where` (a span number or g<group>);
  // false when none of them is analog.
  bool place_analog(const sdk::OriginateRequest& req, const sdk::OriginateLeg& leg, const std::string& where,
                    const std::string& channel, std::string number);
  void analog_incoming(AnalogLine& line, const std::string& number);
  void analog_answered(AnalogLine& line);
  void analog_ended(AnalogLine& line, int cause);
  void release_analog(AnalogLine& line, const std::shared_ptr<Call>& call);
  void answer_analog(const std::string& channel_id);
  // FXS hook flash: the port's call's peer held (music) or back; the
  // transfer of that peer to the number dialed after the flash.
  void analog_hold(AnalogLine& line, bool held);
  void analog_transfer(AnalogLine& line, const std::string& number);

  DahdiConfig config_;
  sdk::Host& host_;
  std::shared_ptr<sdk::CallCore> core_;
  std::map<int, std::unique_ptr<Span>> spans_;  // running spans only
  std::map<int, std::string> refused_;          // span -> why
  std::map<int, int> far_ends_;                 // peerless simulated span -> far end fd
  std::map<ChannelKey, std::unique_ptr<AnalogLine>> analog_;  // analog spans' ports
  std::map<ChannelKey, int> far_ports_;         // simulated analog port -> far end fd
  BChannelPump pump_;

  // Signalling-thread state; `mutex_` guards the queue and lets other
  // threads read the call index.
  mutable std::mutex mutex_;
  std::deque<std::function<void()>> queue_;
  std::map<std::string, std::shared_ptr<Call>> by_channel_;
  std::map<std::string, std::shared_ptr<MediaBridge>> media_;  // channel id -> its B-channel's bridge
  std::vector<std::shared_ptr<sdk::media::Mixer>> mixers_;     // call:bridge of two span calls
  // A span call's channel -> (the linked channel, the mixer joining them).
  std::map<std::string, std::pair<std::string, std::shared_ptr<sdk::media::Mixer>>> joined_;
  // Audio counts of the calls that ended (mutex_), logged at stop.
  struct AudioTotals {
    std::uint64_t calls = 0, underruns = 0, dropped = 0, rtp_in = 0, rtp_lost = 0, rtp_late = 0;
  } audio_;
  int wake_fd_ = -1;
  std::unique_ptr<sdk::Subscription> legs_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace dialtone::plugins::dahdi
