// Calls started from the REST API (xivo-calld 1.0's originate): an `api`
// channel dials the user's line; when the user answers, the `api` channel
// ends and the user's leg dials local/<exten>@<context>, so the dialplan
// routes the destination as for a call the user dialed.
#include <algorithm>
#include <optional>

#include "kernel/calls/call_core.h"

namespace dialtone::kernel {
namespace {

// Hangs up the `api` channels: they have nothing on a wire, ending them is all.
class ApiDriver final : public sdk::ChannelDriver {
 public:
  explicit ApiDriver(CallCoreImpl& core) : core_(core) {}
  sdk::Status hangup(const sdk::Channel& channel, int q850_cause) override {
    (void)core_.end_channel_q850(channel.id, q850_cause ? q850_cause : sdk::q850::normal_clearing);
    return {};
  }
  sdk::Status answer(const sdk::Channel&) override { return {}; }

 private:
  CallCoreImpl& core_;
};

}  // namespace

void CallCoreImpl::set_config_source(ConfigSource source) {
  std::lock_guard lock(config_mutex_);
  config_source_ = std::move(source);
}

std::shared_ptr<const sdk::ConfigSnapshot> CallCoreImpl::config_snapshot() const {
  ConfigSource source;
  {
    std::lock_guard lock(config_mutex_);
    source = config_source_;
  }
  return source ? source() : nullptr;
}

void CallCoreImpl::release_link(const std::string& channel_id) {
  std::lock_guard lock(mutex_);
  auto a = channels_.find(channel_id);
  if (a == channels_.end() || a->second.peer.empty()) return;
  if (auto b = channels_.find(a->second.peer); b != channels_.end() && b->second.peer == channel_id)
    b->second.peer.clear();
  a->second.peer.clear();
}

sdk::Result<std::string> CallCoreImpl::originate(Origination o) {
  {
    std::lock_guard lock(mutex_);
    if (!api_driver_) {
      api_driver_ = std::make_shared<ApiDriver>(*this);
      drivers_["api"] = api_driver_;
    }
  }
  sdk::ChannelSpec api;
  api.backend = "api";
  api.endpoint = "originate";
  api.direction = sdk::ChannelDirection::inbound;
  // The user's phone shows where the call goes.
  api.caller_number = o.exten;
  api.callee_number = o.exten;
  auto origin = create_channel(std::move(api));
  if (!origin) return origin.error();
  for (auto& [name, value] : o.variables) (void)set_variable(*origin, name, value);

  // The user's leg, once it answers, dials the destination through the dialplan.
  auto ring_destination = [this, origin = *origin, o](const sdk::DialOutcome& outcome) {
    if (outcome.status != "answered") {
      (void)end_channel_q850(origin, outcome.q850 ? outcome.q850 : sdk::q850::normal_clearing);
      return;
    }
    const std::string user_leg = outcome.channel;
    // The API channel leaves: the user's leg is free to be linked to the
    // destination, and stays up (drivers hang up a leg whose peer left).
    release_link(origin);
    (void)end_channel_q850(origin, sdk::q850::normal_clearing);
    sdk::DialOptions to;
    to.targets = {"local/" + o.exten + "@" + o.context};
    to.timeout_seconds = sdk::kUnlimitedRingSeconds;  // the dialplan's own dial decides how long it rings
    to.caller_number = o.user_number;
    to.caller_name = o.user_name;
    dial(user_leg, std::move(to), [this, user_leg](const sdk::DialOutcome& result) {
      if (result.status == "answered") return;
      log_.info("calls: originated call " + user_leg + ": the destination gave " + result.status +
                "; hanging up the user's leg");
      (void)hangup_channel(user_leg, result.q850 ? result.q850 : sdk::q850::normal_clearing);
    });
  };
  sdk::DialOptions ring;
  ring.targets = {o.line_target};
  ring.timeout_seconds = o.ring_seconds > 0 ? o.ring_seconds : 30;
  ring.caller_number = o.exten;
  ring.caller_name = o.exten;
  // A dial whose every leg fails at once ends inside dial(): then nothing
  // rang, and the API answers with the reason instead of a call id.
  struct Start {
    std::mutex mutex;
    bool returned = false;
    std::optional<sdk::DialOutcome> failed;
  };
  auto start = std::make_shared<Start>();
  dial(*origin, std::move(ring), [start, ring_destination](const sdk::DialOutcome& outcome) {
    {
      std::lock_guard lock(start->mutex);
      if (!start->returned && outcome.status != "answered") {
        start->failed = outcome;
        return;
      }
    }
    ring_destination(outcome);
  });
  std::optional<sdk::DialOutcome> failed;
  {
    std::lock_guard lock(start->mutex);
    start->returned = true;
    failed = start->failed;
  }
  std::string leg;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, from] : origin_of_)
      if (from == *origin) leg = id;
  }
  if (failed || leg.empty()) {
    std::string why;
    {
      std::lock_guard lock(mutex_);
      if (auto it = refusals_.find(*origin); it != refusals_.end()) why = ": " + it->second;
    }
    (void)end_channel_q850(*origin, sdk::q850::normal_clearing);
    return sdk::Error::unavailable(o.line_target + " could not be rung (" + (failed ? failed->status : "no leg") +
                                   ", Q.850 cause " + std::to_string(failed ? failed->q850 : 0) + ")" + why);
  }
  return leg;
}


sdk::Result<CallCoreImpl::Origination> CallCoreImpl::user_origination(const sdk::ConfigSnapshot& snap,
                                                                      const sdk::ConfigUser& user,
                                                                      std::optional<std::int64_t> line_id,
                                                                      std::string exten, std::string context) {
  const sdk::ConfigLine* line = nullptr;
  if (line_id) {
    if (std::find(user.line_ids.begin(), user.line_ids.end(), *line_id) == user.line_ids.end())
      return sdk::Error::invalid("line " + std::to_string(*line_id) + " is not a line of user " + user.uuid);
    line = snap.line(*line_id);
  } else if (user.main_line_id) {
    line = snap.line(*user.main_line_id);
  } else if (!user.line_ids.empty()) {
    line = snap.line(user.line_ids.front());
  }
  if (!line) return sdk::Error::invalid("User has no line: " + user.uuid);
  if (line->username.empty())
    return sdk::Error::invalid("line " + std::to_string(line->id) + " has no SIP endpoint to ring");
  if (context.empty()) context = line->context;
  Origination o;
  o.line_target = "sip/" + line->username;
  o.exten = std::move(exten);
  o.context = std::move(context);
  o.ring_seconds = user.ring_seconds;
  o.variables["XIVO_USERUUID"] = user.uuid;
  std::string first_exten;
  if (!line->extension_ids.empty())
    if (auto* e = snap.extension(line->extension_ids.front())) first_exten = e->exten;
  o.user_number = line->caller_id_num.value_or(first_exten);
  o.user_name = line->caller_id_name.value_or(user.firstname + (user.lastname ? " " + *user.lastname : ""));
  return o;
}

}  // namespace dialtone::kernel
