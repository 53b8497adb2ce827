// The dialplan's media verbs (call:play, call:read_digits, call:record,
// call:playtones, call:echo, call:detect_fax, call:moh, call:conference,
// call:page), declared once in call_verbs.cc: the rows register them with
// the call core (CallCore::register_verb) and generate their reference in
// docs/lua-dialplan.md.
//
// @code
//   auto verbs = std::make_shared<CallVerbs>(engine, &host.executor(), &host.log(), &host.bus());
//   for (auto& v : verbs->functions()) (void)core->register_verb(std::move(v));
// @endcode
//
// A verb works on a call answered with its media in the engine (call:answer()
// first): it finds the channel's endpoint with MediaEngine::channel_endpoint.
// Verbs that wait (play, read_digits, record, echo, moh with a duration)
// suspend only the call's coroutine: they listen to the channel's events and
// resume it from the engine's event thread or the executor's timer, never
// blocking the dialplan thread. A caller who hangs up resumes them at once.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/calls.h>
#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/media.h>

#include "plugins/media/engine/conference_rooms.h"
#include "plugins/media/engine/online_recording.h"
#include "plugins/media/engine/paging.h"
#include "plugins/media/engine/recordings.h"

namespace dialtone::plugins::media {

class CallVerbs : public std::enable_shared_from_this<CallVerbs> {
 public:
  // `engine` and `executor` may be null for the reference (docs) only; `bus`
  // (may be null) gets the online recordings' starts and stops.
  CallVerbs(std::shared_ptr<sdk::media::MediaEngine> engine, sdk::Executor* executor, sdk::Logger* log,
            sdk::EventBus* bus = nullptr);

  // The verbs as the call core registers them.
  std::vector<sdk::LuaFunctionSpec> functions();
  // The engine the verbs use from now on (null: stopped, verbs fail cleanly).
  void rebind(std::shared_ptr<sdk::media::MediaEngine> engine) { std::atomic_store(&engine_, std::move(engine)); }
  std::shared_ptr<sdk::media::MediaEngine> engine() const { return std::atomic_load(&engine_); }
  // The call core call:page dials the members through (paging.h).
  void set_call_core(std::shared_ptr<sdk::CallCore> core) { paging_->set_call_core(std::move(core)); }
  // Where call:record_call and recorded pages write (recordings.h); set
  // before the verbs run. Null: those verbs answer false.
  void set_recordings(std::shared_ptr<const Recordings> r) { std::atomic_store(&recordings_, std::move(r)); }

 private:
  std::shared_ptr<sdk::media::MediaEngine> engine_;
  sdk::Executor* executor_;
  sdk::Logger* log_;
  std::shared_ptr<ConferenceRooms> rooms_;
  std::shared_ptr<Paging> paging_;
  std::shared_ptr<const Recordings> recordings_;
  std::shared_ptr<OnlineRecording> online_;

 public:
  // The engine's DTMF sink (MediaEngine::set_dtmf_sink): each digit goes to
  // the call core (calls.channel.dtmf, when `core`) and to online recording.
  std::function<void(const std::string&, char, sdk::media::DtmfSource)> digit_sink(
      std::shared_ptr<sdk::CallCore> core);
  // *3 during bridged calls (call:allow_online_recording): the engine's DTMF
  // sink hands it every digit.
  OnlineRecording& online_recording() { return *online_; }
  ConferenceRooms& rooms() { return *rooms_; }
  std::shared_ptr<ConferenceRooms> shared_rooms() const { return rooms_; }
  Paging& paging() { return *paging_; }
};

}  // namespace dialtone::plugins::media
