// Dialing in the call core: one dial rings its targets in parallel through
// their channel drivers; the first leg that answers wins and is linked to
// the caller, the others are cancelled; a timer ends the ringing. Drivers
// report back through set_state / end_channel, which land here.
#include <algorithm>

#include "kernel/calls/call_core.h"

namespace dialtone::kernel {
namespace {

enum class Failure { busy, noanswer, congestion, cancel, unavailable };

Failure classify(int q850) {
  switch (q850) {
    case sdk::q850::user_busy: return Failure::busy;
    case sdk::q850::no_answer:
    case sdk::q850::recovery_on_timer_expiry: return Failure::noanswer;
    case sdk::q850::normal_clearing: return Failure::cancel;  // cancelled (SIP 487)
    case sdk::q850::no_circuit_available:
    case sdk::q850::network_out_of_order:
    case sdk::q850::temporary_failure:
    case sdk::q850::switching_equipment_congestion:
    case 47:  // resource unavailable
    case sdk::q850::bearer_capability_not_available: return Failure::congestion;
    default: return Failure::unavailable;
  }
}

}  // namespace

std::string CallCoreImpl::dial(std::string_view origin, sdk::DialOptions options,
                               std::function<void(const sdk::DialOutcome&)> done) {
  auto d = std::make_shared<Dial>();
  d->origin = std::string(origin);
  d->done = std::move(done);
  auto o = channel(origin);
  {
    std::lock_guard lock(mutex_);
    d->id = id_prefix_ + "d" + std::to_string(next_dial_++);
  }
  if (!o) {
    {
      std::lock_guard lock(mutex_);
      d->finished = true;
    }
    finish(d, {"cancel", sdk::q850::normal_clearing, 487, {}, {}, {}}, {});
    return d->id;
  }
  // The channel whose media the new legs answer: local legs carry none.
  sdk::Channel media = *o;
  for (int hops = 0; media.backend == "local" && hops < 64; ++hops) {
    std::string up;
    {
      std::lock_guard lock(mutex_);
      auto it = origin_of_.find(media.id);
      if (it == origin_of_.end()) break;
      up = it->second;
    }
    auto c = channel(up);
    if (!c) break;
    media = *c;
  }
  // A relayed blind transfer's dial (call_transfer.cc): its leg stands for
  // the transferor dialing the target for the transferee.
  std::optional<sdk::Channel> transferor;
  if (auto t = relayed_transferor(o->id); !t.empty())
    if (auto c = channel(t)) transferor = *c;
  (void)set_variable(origin, "DIAL_FAILOVER", "");  // this dial's word only
  const int depth = depth_of(origin);
  const auto vars = variables(origin);
  std::map<std::string, sdk::OriginateRequest> requests;  // by backend
  std::map<std::string, std::shared_ptr<sdk::ChannelDriver>> drivers;
  for (auto& target : options.targets) {
    auto slash = target.find('/');
    std::string backend = slash == std::string::npos ? std::string() : target.substr(0, slash);
    std::string rest = slash == std::string::npos ? std::string() : target.substr(slash + 1);
    auto driver = backend.empty() ? nullptr : driver_of(backend);
    if (!driver || rest.empty()) {
      log_.warn("calls: dial from " + o->id + ": target '" + target + "' skipped: " +
                (backend.empty() || rest.empty() ? "write <backend>/<target>, e.g. sip/1001 or local/2000@default"
                                                 : "no channel driver '" + backend + "' is loaded"));
      continue;
    }
    sdk::ChannelSpec spec;
    spec.backend = backend;
    spec.endpoint = rest;
    spec.direction = sdk::ChannelDirection::outbound;
    spec.call_id = o->call_id;
    spec.caller_number = options.caller_number.empty() ? o->caller_number : options.caller_number;
    spec.caller_name = options.caller_name.empty() ? o->caller_name : options.caller_name;
    spec.callee_number = rest.substr(0, rest.find('@'));
    if (transferor && backend == transferor->backend) {  // the transfer's routing leg
      spec.endpoint = transferor->endpoint;
      spec.direction = sdk::ChannelDirection::inbound;
    }
    const bool routes_transfer = transferor && backend == transferor->backend;
    auto id = create_channel(std::move(spec));
    if (!id) {
      log_.warn("calls: dial from " + o->id + ": " + id.error().message);
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      // The driver's call for a transfer's routing leg is known by the leg's id.
      if (routes_transfer)
        if (auto it = channels_.find(*id); it != channels_.end()) it->second.backend_ref = *id;
      d->legs.push_back(*id);
      d->targets[*id] = target;
      dial_of_leg_[*id] = d->id;
      origin_of_[*id] = o->id;
      depth_[*id] = depth + (backend == "local" ? 1 : 0);
      if (!vars.empty()) vars_[*id] = vars;
    }
    auto& req = requests[backend];
    drivers[backend] = driver;
    req.legs.push_back({*id, rest});
  }
  bool empty;
  {
    std::lock_guard lock(mutex_);
    empty = d->legs.empty();
    if (empty) {
      d->finished = true;
    } else {
      dials_[d->id] = d;
      dials_of_origin_.emplace(d->origin, d->id);
    }
  }
  if (empty) {
    finish(d, {"unavailable", sdk::q850::subscriber_absent, 480, {}, {}, {}}, {});
    return d->id;
  }
  const int timeout = options.timeout_seconds > 0 ? options.timeout_seconds : 30;
  timers_.after(std::chrono::seconds(timeout), [this, id = d->id] { dial_timeout(id); });
  for (auto& [backend, req] : requests) {
    req.dial_id = d->id;
    req.call_id = o->call_id;
    req.origin = *o;
    req.media_origin = media;
    req.timeout_seconds = timeout;
    req.caller_number = options.caller_number.empty() ? o->caller_number : options.caller_number;
    req.caller_name = options.caller_name.empty() ? o->caller_name : options.caller_name;
    req.anonymous = options.anonymous;
    req.variables = vars;
    req.depth = depth;
    if (transferor && backend == transferor->backend) req.transfer_of = transferor->id;
    // A driver that refuses ends its legs at once: the dial goes on with the others.
    if (auto s = drivers[backend]->originate(req); !s) {
      log_.warn("calls: dial from " + o->id + ": backend '" + backend + "' cannot ring: " + s.error().message);
      {
        std::lock_guard lock(mutex_);
        refusals_[o->id] = s.error().message;
      }
      for (auto& leg : req.legs)
        (void)end_channel_q850(leg.channel_id, s.error().code == sdk::ErrorCode::unsupported
                                                   ? sdk::q850::service_not_implemented
                                                   : sdk::q850::temporary_failure);
    }
  }
  return d->id;
}

void CallCoreImpl::cancel_dial(std::string_view dial_id) {
  end_dial(dial_id, {"cancel", sdk::q850::normal_clearing, 487, {}, {}, {}});
}

void CallCoreImpl::dial_leg_up(const std::string& channel_id) {
  std::shared_ptr<Dial> d;
  std::vector<std::string> cancel;
  bool link_them = false;
  std::string origin_to_answer;
  {
    std::lock_guard lock(mutex_);
    auto l = dial_of_leg_.find(channel_id);
    if (l == dial_of_leg_.end()) return;
    auto it = dials_.find(l->second);
    if (it == dials_.end() || it->second->finished) return;
    d = it->second;
    d->finished = true;
    for (auto& leg : d->legs)
      if (leg != channel_id && channels_.count(leg)) cancel.push_back(leg);
    auto w = channels_.find(channel_id);
    auto o = channels_.find(d->origin);
    // A backend that bridged the legs itself (SIP) already linked them.
    link_them = w != channels_.end() && o != channels_.end() && w->second.peer.empty() && o->second.peer.empty();
    // A local leg is answered when what it dialed answers; it then lives
    // as long as both sides.
    if (o != channels_.end() && o->second.backend == "local") {
      ends_with_.emplace(channel_id, d->origin);
      if (o->second.state != sdk::ChannelState::up) origin_to_answer = d->origin;
    }
    if (w != channels_.end() && w->second.backend == "local") ends_with_.emplace(d->origin, channel_id);
  }
  if (link_them) (void)link(channel_id, d->origin);
  // The local leg is up before its dialplan resumes, so that its decision
  // finds it answered.
  if (!origin_to_answer.empty()) (void)set_state(origin_to_answer, sdk::ChannelState::up);
  sdk::DialOutcome outcome{"answered", sdk::q850::normal_clearing, 200, channel_id, d->targets[channel_id], {}};
  finish(d, std::move(outcome), std::move(cancel));
}

void CallCoreImpl::dial_leg_ended(const std::string& channel_id, int q850, int sip) {
  std::shared_ptr<Dial> d;
  sdk::DialOutcome outcome;
  std::vector<std::string> local_legs;
  {
    std::lock_guard lock(mutex_);
    origin_of_.erase(channel_id);
    last_cause_.erase(channel_id);
    auto range = ends_with_.equal_range(channel_id);
    for (auto it = range.first; it != range.second; ++it) local_legs.push_back(it->second);
    ends_with_.erase(channel_id);
    auto l = dial_of_leg_.find(channel_id);
    if (l != dial_of_leg_.end()) {
      auto it = dials_.find(l->second);
      dial_of_leg_.erase(l);
      if (it != dials_.end() && !it->second->finished) {
        d = it->second;
        ++d->ended;
        switch (classify(q850)) {
          case Failure::busy: ++d->busy; break;
          case Failure::noanswer: ++d->noanswer; break;
          case Failure::congestion: ++d->congestion; break;
          case Failure::cancel: ++d->cancelled; break;
          case Failure::unavailable: break;
        }
        d->last_q850 = q850;
        d->last_sip = sip;
        if (d->ended < d->legs.size()) {
          d.reset();
        } else {
          d->finished = true;
          const std::size_t n = d->legs.size();
          const auto unavailable = n - d->busy - d->noanswer - d->congestion - d->cancelled;
          if (d->busy) outcome = {"busy", sdk::q850::user_busy, 486, {}, {}, {}};
          else if (d->noanswer) outcome = {"noanswer", sdk::q850::no_answer, 408, {}, {}, {}};
          else if (unavailable) outcome = {"unavailable", d->last_q850, d->last_sip, {}, {}, {}};
          else if (d->congestion) outcome = {"congestion", d->last_q850, d->last_sip, {}, {}, {}};
          else outcome = {"cancel", sdk::q850::normal_clearing, 487, {}, {}, {}};
          if (outcome.status == "unavailable" && (outcome.q850 == sdk::q850::normal_clearing || outcome.sip < 400)) {
            outcome.q850 = sdk::q850::no_user_response;
            outcome.sip = 480;
          }
        }
      }
    }
  }
  if (d) finish(d, std::move(outcome), {});
  for (auto& leg : local_legs) (void)hangup_channel(leg, sdk::q850::normal_clearing);
}

void CallCoreImpl::dial_origin_ended(const std::string& channel_id) {
  std::vector<std::pair<std::shared_ptr<Dial>, std::vector<std::string>>> gone;
  {
    std::lock_guard lock(mutex_);
    auto range = dials_of_origin_.equal_range(channel_id);
    for (auto it = range.first; it != range.second; ++it) {
      auto d = dials_.find(it->second);
      if (d == dials_.end() || d->second->finished) continue;
      d->second->finished = true;
      std::vector<std::string> cancel;
      for (auto& leg : d->second->legs)
        if (channels_.count(leg)) cancel.push_back(leg);
      gone.emplace_back(d->second, std::move(cancel));
    }
  }
  for (auto& [d, cancel] : gone) finish(d, {"cancel", sdk::q850::normal_clearing, 487, {}, {}, {}}, std::move(cancel));
}

void CallCoreImpl::dial_timeout(const std::string& dial_id) {
  end_dial(dial_id, {"noanswer", sdk::q850::no_answer, 408, {}, {}, {}});
}

// A dial ended from outside its legs (cancelled, or its time ran out): the
// legs still up are cancelled and the dialplan resumes with `outcome`.
void CallCoreImpl::end_dial(std::string_view dial_id, sdk::DialOutcome outcome) {
  std::shared_ptr<Dial> d;
  std::vector<std::string> cancel;
  {
    std::lock_guard lock(mutex_);
    auto it = dials_.find(dial_id);
    if (it == dials_.end() || it->second->finished) return;
    d = it->second;
    d->finished = true;
    for (auto& leg : d->legs)
      if (channels_.count(leg)) cancel.push_back(leg);
  }
  finish(d, std::move(outcome), std::move(cancel));
}

int CallCoreImpl::last_dial_cause(std::string_view channel_id) const {
  std::lock_guard lock(mutex_);
  auto it = last_cause_.find(std::string(channel_id));
  return it == last_cause_.end() ? 0 : it->second;
}

void CallCoreImpl::finish(std::shared_ptr<Dial> d, sdk::DialOutcome outcome, std::vector<std::string> cancel) {
  {
    std::lock_guard lock(mutex_);
    dials_.erase(d->id);
    if (channels_.count(d->origin)) last_cause_[d->origin] = outcome.q850;
    auto range = dials_of_origin_.equal_range(d->origin);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == d->id) {
        dials_of_origin_.erase(it);
        break;
      }
  }
  if (outcome.status != "answered")
    if (auto f = variable(d->origin, "DIAL_FAILOVER"); f && (*f == "yes" || *f == "no"))
      outcome.failover = *f == "yes";
  for (auto& leg : cancel)
    (void)with_driver(leg, [](sdk::ChannelDriver& driver, const sdk::Channel& c) {
      return driver.cancel(c, sdk::q850::normal_clearing);
    });
  if (d->done) {
    auto done = std::move(d->done);
    d->done = nullptr;
    done(outcome);
  }
}

}  // namespace dialtone::kernel
