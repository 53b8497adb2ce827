#include "kernel/calls/local_driver.h"

#include <dialtone/dialplan_decision.h>

#include "kernel/calls/call_core.h"

namespace dialtone::kernel {

LocalDriver::LocalDriver(CallCoreImpl& core, sdk::LuaHost& lua, sdk::Logger& log, std::string function,
                         int max_depth)
    : core_(core), lua_(lua), log_(log), function_(std::move(function)), max_depth_(max_depth) {}

sdk::Status LocalDriver::originate(const sdk::OriginateRequest& request) {
  for (auto& leg : request.legs) {
    if (request.depth + 1 > max_depth_) {
      log_.warn("calls: local/" + leg.target + " refused: " + std::to_string(request.depth + 1) +
                " local legs nested in call " + request.call_id + " (more than " + std::to_string(max_depth_) +
                "): the dialplan dials in a loop; check the groups and forwards that lead back to " + leg.target);
      (void)core_.end_channel_q850(leg.channel_id, 25);  // exchange routing error
      continue;
    }
    route(request, leg);
  }
  return {};
}

void LocalDriver::route(const sdk::OriginateRequest& request, const sdk::OriginateLeg& leg) {
  auto at = leg.target.find('@');
  std::string exten = leg.target.substr(0, at);
  std::string context = at == std::string::npos ? std::string() : leg.target.substr(at + 1);
  if (context.empty()) {
    auto v = request.variables.find("XIVO_CONTEXT");
    context = v != request.variables.end() && !v->second.empty() ? v->second : "default";
  }
  auto t = std::make_shared<sdk::LuaTable>();
  t->fields["id"] = leg.channel_id;
  t->fields["channel"] = leg.channel_id;
  t->fields["caller"] = request.origin.endpoint;
  t->fields["caller_number"] = request.caller_number;
  t->fields["caller_name"] = request.caller_name;
  t->fields["callee"] = exten;
  t->fields["called_number"] = exten;
  t->fields["context"] = context;
  auto origin = request.variables.find("XIVO_CALLORIGIN");
  t->fields["origin"] = origin != request.variables.end() ? origin->second : std::string("intern");
  t->fields["local"] = true;
  auto vars = std::make_shared<sdk::LuaTable>();
  for (auto& [k, v] : request.variables) vars->fields[k] = v;
  t->fields["vars"] = vars;
  (void)core_.set_state(leg.channel_id, sdk::ChannelState::ringing);
  std::weak_ptr<LocalDriver> weak = weak_from_this();
  std::string id = leg.channel_id;
  lua_.call(function_, {t}, [weak, id](sdk::Result<sdk::LuaValues> r) {
    if (auto self = weak.lock()) self->decided(id, std::move(r));
  });
}

// The dialplan of the leg returned: it settled the leg through call:dial, or
// asks to reject it, or (older scripts) to dial a list of SIP lines.
void LocalDriver::decided(const std::string& leg, sdk::Result<sdk::LuaValues> r) {
  auto c = core_.channel(leg);
  if (!c || c->state == sdk::ChannelState::up) return;  // answered, or gone already
  if (!r) {
    log_.error("calls: local leg " + leg + ": dialplan failed: " + r.error().message);
    (void)core_.end_channel_q850(leg, sdk::q850::temporary_failure);
    return;
  }
  auto d = sdk::read_decision(*r);
  std::string action = d ? d->action : std::string();
  if (action == "reject") {
    int sip = d->code.value_or(404);
    // The script passes on what its own dial got: keep that dial's cause,
    // which the SIP status alone may not carry (RFC 3398 is not one-to-one).
    int cause = core_.last_dial_cause(leg);
    if (cause && sdk::sip_from_q850(cause) == sip) (void)core_.end_channel_q850(leg, cause);
    else (void)core_.end_channel(leg, sip);
    return;
  }
  if (action == "dial") {
    sdk::DialOptions o;
    for (auto& s : d->targets) o.targets.push_back(s.find('/') == std::string::npos ? "sip/" + s : s);
    if (d->timeout_seconds) o.timeout_seconds = *d->timeout_seconds;
    core_.dial(leg, std::move(o), [self = shared_from_this(), leg](const sdk::DialOutcome& out) {
      if (out.status != "answered") (void)self->core_.end_channel_q850(leg, out.q850);
    });
    return;
  }
  if (action != "done")
    log_.error("calls: local leg " + leg + ": the dialplan returned no decision (expected done, dial or reject)");
  // Settled without an answer: what the dialed legs ended with is gone, so
  // the leg ends as not answered.
  (void)core_.end_channel_q850(leg, action == "done" ? sdk::q850::no_user_response : sdk::q850::temporary_failure);
}

sdk::Status LocalDriver::hangup(const sdk::Channel& channel, int q850_cause) {
  // Ending the leg cancels what its dialplan is dialing (the core ends the
  // dials it originated).
  (void)core_.end_channel_q850(channel.id, q850_cause ? q850_cause : sdk::q850::normal_clearing);
  return {};
}

}  // namespace dialtone::kernel
