#include "paging.h"

#include <algorithm>

namespace dialtone::plugins::media {
namespace {

namespace sm = sdk::media;
using sdk::LuaValue;
using sdk::LuaValues;

// The `page` channels are the dialing side of a page's member legs: nothing
// on a wire, so hanging one up is ending it.
class PageDriver final : public sdk::ChannelDriver {
 public:
  explicit PageDriver(std::weak_ptr<sdk::CallCore> core) : core_(std::move(core)) {}
  sdk::Status hangup(const sdk::Channel& channel, int q850) override {
    if (auto core = core_.lock()) (void)core->end_channel_q850(channel.id, q850 ? q850 : sdk::q850::normal_clearing);
    return {};
  }
  sdk::Status answer(const sdk::Channel&) override { return {}; }

 private:
  std::weak_ptr<sdk::CallCore> core_;
};

}  // namespace

void Paging::set_call_core(std::shared_ptr<sdk::CallCore> core) {
  if (core)
    if (auto s = core->register_driver("page", std::make_shared<PageDriver>(core)); !s && log_)
      log_->warn("paging: the `page` channel driver is not registered: " + s.error().message);
  std::lock_guard lk(m_);
  core_ = std::move(core);
}

void Paging::page(const std::shared_ptr<sm::MediaEngine>& engine, const std::string& channel,
                  const std::shared_ptr<sm::Endpoint>& endpoint, Page o, sdk::LuaResume resume) {
  std::shared_ptr<sdk::CallCore> core;
  {
    std::lock_guard lk(m_);
    core = core_;
    engine_ = engine;
    if (sessions_.count(channel)) {
      resume(LuaValues{LuaValue(false), LuaValue("already paging")});
      return;
    }
  }
  if (!core) return resume(LuaValues{LuaValue(false), LuaValue("no call core")});
  if (o.targets.empty()) return resume(LuaValues{LuaValue(false), LuaValue("no member to page")});
  auto caller = core->channel(channel);
  if (!caller) return resume(LuaValues{LuaValue(false), LuaValue("hangup")});

  sdk::ChannelSpec spec;
  spec.backend = "page";
  spec.endpoint = channel;
  spec.direction = sdk::ChannelDirection::inbound;
  spec.call_id = caller->call_id;
  spec.caller_number = o.caller_number.empty() ? caller->caller_number : o.caller_number;
  spec.caller_name = o.caller_name.empty() ? caller->caller_name : o.caller_name;
  spec.callee_number = caller->callee_number;
  auto page_channel = core->create_channel(std::move(spec));
  if (!page_channel) return resume(LuaValues{LuaValue(false), LuaValue(page_channel.error().message)});
  (void)core->set_variable(*page_channel, "AUTOANSWER", "yes");
  (void)core->set_state(*page_channel, sdk::ChannelState::up);

  auto s = std::make_shared<Session>();
  s->caller = channel;
  s->page_channel = *page_channel;
  s->caller_endpoint = endpoint;
  s->mixer = engine->create_mixer();
  s->options = o;
  s->dials_pending = o.targets.size();
  s->resume = std::move(resume);
  s->mixer->add(endpoint);
  endpoint->stop_playing();
  {
    std::lock_guard lk(m_);
    sessions_[channel] = s;
  }
  if (!o.record_file.empty()) {
    sm::RecordOptions r;
    endpoint->record(o.record_file, r);
  }
  // Listening before dialing: a caller gone already makes listen() return 0.
  std::weak_ptr<Paging> weak = weak_from_this();
  auto id = engine->listen(channel, [weak, channel](const sm::MediaEvent& e) {
    auto self = weak.lock();
    if (!self) return;
    if (e.type == sm::EventType::detached) self->end(channel, "hangup");
    if (e.type == sm::EventType::dtmf && e.digit == '#') self->end(channel, "left");
  });
  if (!id) return end(channel, "hangup");
  {
    std::lock_guard lk(m_);
    s->caller_listener = id;
  }
  for (auto& target : o.targets) {
    sdk::DialOptions d;
    d.targets = {target};
    d.timeout_seconds = o.timeout_seconds > 0 ? o.timeout_seconds : 30;
    d.caller_number = o.caller_number;
    d.caller_name = o.caller_name;
    core->dial(*page_channel, std::move(d), [weak, channel](const sdk::DialOutcome& outcome) {
      auto self = weak.lock();
      if (!self) return;
      if (outcome.status == "answered") self->answered(channel, outcome.channel);
      self->dial_over(channel);
    });
  }
}

void Paging::answered(const std::string& caller, const std::string& leg) {
  auto engine = engine_.lock();
  auto endpoint = engine ? engine->channel_endpoint(leg) : nullptr;
  std::shared_ptr<sdk::CallCore> core;
  std::shared_ptr<Session> s;
  {
    std::lock_guard lk(m_);
    core = core_;
    auto it = sessions_.find(caller);
    if (it != sessions_.end()) s = it->second;
  }
  if (!s || !endpoint) {
    // The page is over, or the leg's media is not in the engine: nothing
    // would reach that phone.
    if (s && log_) log_->warn("paging: member leg " + leg + " answered without media in the engine; hung up");
    if (core) (void)core->hangup_channel(leg, sdk::q850::normal_clearing);
    return;
  }
  bool first, over;
  {
    std::lock_guard lk(m_);
    over = s->over;
    if (!over) s->members.push_back({leg, endpoint, 0});
  }
  if (over) {
    if (core) (void)core->hangup_channel(leg, sdk::q850::normal_clearing);
    return;
  }
  {
    std::lock_guard lk(m_);
    first = ++s->answered == 1;
    s->mixer->add(endpoint);
    s->mixer->mute(endpoint, !s->options.duplex);
    if (!s->options.announce.empty()) endpoint->play({s->options.announce});
  }
  if (first) {
    // The caller learns that it is heard: the announcement, then a beep.
    std::vector<std::string> cue;
    if (!s->options.announce.empty() && s->options.announce_caller) cue.push_back(s->options.announce);
    if (!s->options.quiet) cue.push_back("beep");
    if (!cue.empty()) s->caller_endpoint->play(cue);
  }
  std::weak_ptr<Paging> weak = weak_from_this();
  auto id = engine->listen(leg, [weak, caller, leg](const sm::MediaEvent& e) {
    if (e.type != sm::EventType::detached) return;
    if (auto self = weak.lock()) self->member_left(caller, leg);
  });
  if (!id) return member_left(caller, leg);
  std::lock_guard lk(m_);
  for (auto& m : s->members)
    if (m.leg == leg) m.listener = id;
}

void Paging::dial_over(const std::string& caller) {
  bool nobody = false;
  {
    std::lock_guard lk(m_);
    auto it = sessions_.find(caller);
    if (it == sessions_.end()) return;
    auto& s = *it->second;
    if (s.dials_pending > 0) --s.dials_pending;
    nobody = s.dials_pending == 0 && s.members.empty() && !s.over;
  }
  if (nobody) {
    if (log_) log_->info("paging: call " + caller + ": no member answered the page");
    end(caller, "ended");
  }
}

void Paging::member_left(const std::string& caller, const std::string& leg) {
  std::shared_ptr<sm::MediaEngine> engine = engine_.lock();
  Member gone;
  bool empty = false;
  {
    std::lock_guard lk(m_);
    auto it = sessions_.find(caller);
    if (it == sessions_.end()) return;
    auto& s = *it->second;
    auto m = std::find_if(s.members.begin(), s.members.end(), [&](const Member& x) { return x.leg == leg; });
    if (m == s.members.end()) return;
    gone = std::move(*m);
    s.members.erase(m);
    s.mixer->remove(gone.endpoint);
    empty = s.members.empty() && s.dials_pending == 0 && !s.over;
  }
  if (engine && gone.listener) engine->unlisten(leg, gone.listener);
  if (empty) end(caller, "ended");
}

void Paging::end(const std::string& caller, const char* why) {
  std::shared_ptr<Session> s;
  std::shared_ptr<sdk::CallCore> core;
  {
    std::lock_guard lk(m_);
    auto it = sessions_.find(caller);
    if (it == sessions_.end() || it->second->over) return;
    s = it->second;
    s->over = true;
    sessions_.erase(it);
    core = core_;
  }
  auto engine = engine_.lock();
  for (auto& m : s->members) {
    s->mixer->remove(m.endpoint);
    if (engine && m.listener) engine->unlisten(m.leg, m.listener);
    if (core) (void)core->hangup_channel(m.leg, sdk::q850::normal_clearing);
  }
  s->mixer->remove(s->caller_endpoint);
  if (!s->options.record_file.empty()) s->caller_endpoint->stop_recording();
  if (engine && s->caller_listener) engine->unlisten(caller, s->caller_listener);
  // Ending the page channel cancels the member dials still ringing.
  if (core) (void)core->end_channel_q850(s->page_channel, sdk::q850::normal_clearing);
  if (log_)
    log_->info("paging: call " + caller + ": page over (" + why + "), " + std::to_string(s->answered) +
               " member(s) answered");
  s->resume(LuaValues{LuaValue(true), LuaValue(why)});
}

std::size_t Paging::members(const std::string& caller_channel) const {
  std::lock_guard lk(m_);
  auto it = sessions_.find(caller_channel);
  return it == sessions_.end() ? 0 : it->second->members.size();
}

}  // namespace dialtone::plugins::media
