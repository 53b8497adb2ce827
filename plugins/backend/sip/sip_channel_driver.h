// backend.sip's channel driver (the call core's view of the SIP stack):
// originate, cancel and hang up in call_legs.cc; answer, DTMF and bridges
// through the media engine in sip_media_driver.cc.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <dialtone/calls.h>
#include <dialtone/media.h>

#include "plugins/backend/sip/sip_stack.h"

namespace dialtone::plugins::backend::sip {

// Posts each request to the SIP thread; detached when the plugin stops.
class SipChannelDriver final : public sdk::ChannelDriver {
 public:
  using EngineFinder = std::function<std::shared_ptr<sdk::media::MediaEngine>()>;
  SipChannelDriver(std::mutex& stack_mutex, std::unique_ptr<SipStack>& stack,
                   std::shared_ptr<sdk::CallCore> core, EngineFinder engine, sdk::Logger& log)
      : stack_mutex_(&stack_mutex), stack_(&stack), core_(std::move(core)), engine_(std::move(engine)), log_(log) {}

  sdk::Status originate(const sdk::OriginateRequest& req) override;
  sdk::Status cancel(const sdk::Channel& channel, int) override;
  sdk::Status hangup(const sdk::Channel& channel, int q850_cause) override;
  // sip_media_driver.cc: the caller's media ends in the media engine.
  sdk::Status answer(const sdk::Channel& channel) override;
  // Early media from the engine (183 with its SDP), the caller not answered.
  sdk::Status progress(const sdk::Channel& channel) override;
  sdk::Status send_dtmf(const sdk::Channel& channel, const std::string& digits) override;
  sdk::Status bridge(const sdk::Channel& a, const sdk::Channel& b, sdk::MediaPath path) override;
  // A newcomer in a replaced leg's place (an INVITE with Replaces swapped
  // into a relayed call; the party of a relayed call into an application's
  // call): SipStack::replace_channel.
  void replace(const sdk::Channel& newcomer, const sdk::Channel& replaced,
               std::function<void(sdk::Status)> done) override;
  // An attended transfer between two relayed calls, carried out by the
  // core: their parties are joined through the relay (attended_transfer.cc).
  void join(const sdk::Channel& a, const sdk::Channel& b, std::function<void(sdk::Status)> done) override;
  // Relayed, unless the channel's media ends in the media engine (asked of
  // the engine, not of the SIP thread).
  sdk::MediaPath media_path(const sdk::Channel& channel) override;
  // An engine leg leaves the mixer it shares with its peer (a transfer).
  sdk::Status unbridge(const sdk::Channel& channel) override;
  void detach();
  // The call core reported `channel` unbridged: an outgoing engine leg hangs up.
  void peer_gone(const std::string& channel);

 private:
  sdk::Status with_stack(const std::function<sdk::Status(SipStack&)>& f);
  // answer / progress: a caller's leg, its media into the engine by `act`.
  sdk::Status engine_caller(const sdk::Channel& channel, const char* refusal,
                            void (SipStack::*act)(const std::string&, const std::string&,
                                                  std::shared_ptr<sdk::media::MediaEngine>));
  // Legs for a channel that is not a SIP caller being routed (engine_originate.cc).
  sdk::Status originate_engine(const sdk::OriginateRequest& req, std::shared_ptr<sdk::media::MediaEngine> engine,
                               std::shared_ptr<sdk::media::Endpoint> origin_media);
  void stop_ringback(const std::string& channel);

  std::mutex mutex_;
  std::mutex* stack_mutex_;
  std::unique_ptr<SipStack>* stack_;
  std::shared_ptr<sdk::CallCore> core_;
  EngineFinder engine_;
  sdk::Logger& log_;
  // The ringback of each ringing engine leg's dial, by the leg's channel.
  std::map<std::string, std::weak_ptr<Ringback>> ringbacks_;
};

}  // namespace dialtone::plugins::backend::sip
