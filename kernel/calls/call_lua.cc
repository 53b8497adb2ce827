// The dialplan's call API: the `channel` module, whose functions are the
// methods of the `call` table the dialplan gets (extensions.lua sets
// `setmetatable(call, { __index = channel })`, so `call:dial{...}` is
// `channel.dial(call, {...})`). Declared once below: the rows register the
// functions, check their arguments and generate docs/lua-dialplan.md.
#include <chrono>

#include "dialtone/lua_fields.h"
#include "kernel/calls/call_core.h"

namespace dialtone::kernel {
namespace {

using sdk::LuaReply;
using sdk::LuaTable;
using sdk::LuaValue;
using sdk::LuaValues;

LuaReply no_channel(const char* fn) {
  return LuaReply::error(std::string("channel.") + fn +
                         ": the call has no `channel` field (only call tables the call core hands to "
                         "the dialplan can be used)");
}

LuaReply status_reply(const sdk::Status& s) {
  if (!s) return LuaReply::values({LuaValue(false), LuaValue(s.error().message)});
  return LuaReply::values({LuaValue(true)});
}

std::shared_ptr<LuaTable> outcome_table(const sdk::DialOutcome& o) {
  auto t = std::make_shared<LuaTable>();
  t->fields["status"] = o.status;
  t->fields["cause"] = o.q850;
  t->fields["code"] = o.sip;
  if (!o.channel.empty()) t->fields["channel"] = o.channel;
  if (!o.target.empty()) t->fields["target"] = o.target;
  if (o.failover) t->fields["failover"] = *o.failover;
  return t;
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<sdk::LuaFunctionSpec> CallCoreImpl::lua_functions() {
  std::vector<sdk::LuaFunctionSpec> f;
  f.push_back(
      {"dial", "call: table, dial: table", "outcome: table",
       "`call:dial{ \"sip/1001\", \"local/2000@default\", timeout = 20 }` rings the targets in "
       "parallel (`<backend>/<target>`; `caller_number`, `caller_name`, `anonymous` set the caller "
       "ID presented) until one answers, all fail or `timeout` seconds (default 30; \"unlimited\": "
       "until the caller hangs up, a day at most) pass; the first answer wins and the others are "
       "cancelled. Only this call's coroutine waits. Returns "
       "`{status, cause, code, channel, target, failover}`: `status` is answered, busy, noanswer, "
       "cancel, congestion or unavailable, `cause` the Q.850 cause, `code` its SIP status (RFC "
       "3398), `channel` and `target` the leg that answered, `failover` the backend's word on "
       "trying a route's next trunk (SIP: the trunk's failover_codes; nil when it gave none).",
       [this](const LuaValues& args) -> LuaReply {
         auto origin = sdk::call_channel(args);
         if (origin.empty()) return no_channel("dial");
         const LuaTable& t = *args[1].as_table();
         sdk::DialOptions o;
         for (auto& v : t.array)
           if (auto* s = v.as_string()) o.targets.push_back(*s);
         if (auto n = sdk::text_field(t, "timeout"); n == "unlimited")
           o.timeout_seconds = sdk::kUnlimitedRingSeconds;
         else if (!n.empty())
           o.timeout_seconds = std::atoi(n.c_str());
         o.caller_number = sdk::text_field(t, "caller_number");
         o.caller_name = sdk::text_field(t, "caller_name");
         if (auto a = sdk::bool_field(t, "anonymous")) o.anonymous = *a;
         return LuaReply::async([this, origin, o](sdk::LuaResume resume) {
           dial(origin, o, [resume](const sdk::DialOutcome& r) { resume(LuaValues{outcome_table(r)}); });
         });
       }});
  f.push_back({"answer", "call: table", "ok: boolean, error: string|nil",
               "Answers the call (its backend sends the answer, e.g. SIP 200 OK, with the call's "
               "media ending in the media engine so that call:play and the other media verbs work) "
               "and returns once it is answered; false and why when it could not be (the caller "
               "left, the backend cannot answer). Only this call's coroutine waits.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("answer");
                 return LuaReply::async([this, id](sdk::LuaResume resume) {
                   answer_channel(id, [resume](bool ok, std::string error) {
                     if (ok) resume(LuaValues{LuaValue(true)});
                     else resume(LuaValues{LuaValue(false), LuaValue(std::move(error))});
                   });
                 });
               }});
  f.push_back({"progress", "call: table", "ok: boolean, error: string|nil",
               "Gives the caller early media without answering (SIP: 183 Session Progress with the media "
               "engine's SDP): the call's media ends in the engine, so what it is bridged to before the "
               "answer (a span's in-band ringback or announcement) and call:playtones reach the caller, "
               "and no call time is counted. call:answer() then sends the answer (SIP 200 OK, same SDP). "
               "Returns once the early media is set up; false and why when it could not be (the caller "
               "left, the backend has no early media). Only this call's coroutine waits.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("progress");
                 return LuaReply::async([this, id](sdk::LuaResume resume) {
                   progress_channel(id, [resume](bool ok, std::string error) {
                     if (ok) resume(LuaValues{LuaValue(true)});
                     else resume(LuaValues{LuaValue(false), LuaValue(std::move(error))});
                   });
                 });
               }});
  f.push_back({"hangup", "call: table, cause?: integer", "ok: boolean, error: string|nil",
               "Hangs the call up with a Q.850 `cause` (default 16, normal clearing; 17 busy, 21 "
               "rejected...); its backend turns it into its own status (RFC 3398).",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("hangup");
                 int cause = args.size() > 1 && args[1].as_int() ? static_cast<int>(*args[1].as_int())
                                                                : sdk::q850::normal_clearing;
                 return status_reply(hangup_channel(id, cause));
               }});
  f.push_back({"bridge", "call: table, other: table|string", "ok: boolean, error: string|nil",
               "Connects the call with `other` (a call table or a channel id) of the same backend; "
               "the core chooses the media path (relayed).",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("bridge");
                 return status_reply(bridge(id, sdk::call_channel(args, 1), true));
               }});
  f.push_back({"transfer", "call: table, exten: string, context?: string", "ok: boolean, error: string|nil",
               "Sends the call to `exten` in `context` (default: the call's own): the party it talks "
               "to is hung up and the call dials `local/<exten>@<context>`. Parties their backend "
               "bridges itself (SIP through its relay) stay connected until a callee answers, who then "
               "takes the party's place; a failed dial leaves the call as it was.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("transfer");
                 std::string exten = *args[1].as_string();
                 std::string context = args.size() > 2 && args[2].as_string() ? *args[2].as_string() : "";
                 if (context.empty())
                   if (auto* t = args[0].as_table()) context = sdk::text_field(*t, "context");
                 auto c = channel(id);
                 if (!c) return status_reply(c.error());
                 std::optional<sdk::Channel> peer;
                 if (!c->peer.empty())
                   if (auto p = channel(c->peer)) peer = *p;
                 auto driver = driver_of(c->backend);
                 if (peer && peer->backend == c->backend && driver &&
                     driver->media_path(*c) != sdk::MediaPath::engine) {
                   // The party it talks to is the transferor; their driver
                   // routes this call as the transferor dialed exten.
                   relayed_blind_transfer(*peer, *c, exten, context, nullptr);
                   return status_reply({});
                 }
                 if (!c->peer.empty()) {
                   sdk::TransferRequest r;
                   r.channel_id = c->peer;
                   r.exten = exten;
                   r.context = context;
                   return status_reply(request_transfer(std::move(r)));
                 }
                 sdk::DialOptions o;
                 o.targets = {"local/" + exten + (context.empty() ? "" : "@" + context)};
                 dial(id, std::move(o), [](const sdk::DialOutcome&) {});
                 return status_reply({});
               }});
  f.push_back({"hold", "call: table", "ok: boolean, error: string|nil",
               "Puts the call on hold (its backend re-offers the media as inactive).",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("hold");
                 auto s = with_driver(id, [](sdk::ChannelDriver& d, const sdk::Channel& c) { return d.hold(c); });
                 if (s) (void)set_held(id, true);
                 return status_reply(s);
               }});
  f.push_back({"unhold", "call: table", "ok: boolean, error: string|nil", "Takes the call off hold.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("unhold");
                 auto s = with_driver(id, [](sdk::ChannelDriver& d, const sdk::Channel& c) { return d.unhold(c); });
                 if (s) (void)set_held(id, false);
                 return status_reply(s);
               }});
  f.push_back({"app_event", "call: table, phase: string, app: string, data?: string", "ok: boolean, error: string|nil",
               "Says that a dialplan application (`app`, e.g. `VoiceMail`, with its argument `data`) "
               "starts (`phase` \"start\") or ends (\"end\") on the call: published as calls.channel.app "
               "(`phase`, `app`, `data`), which records.cel writes as Asterisk's APP_START / APP_END "
               "rows. False when the call is gone.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("app_event");
                 std::string phase = *args[1].as_string();
                 if (phase != "start" && phase != "end")
                   return LuaReply::error("channel.app_event: phase \"" + phase +
                                          "\" is neither \"start\" nor \"end\"");
                 auto c = channel(id);
                 if (!c) return status_reply(c.error());
                 std::string data = args.size() > 3 && args[3].as_string() ? *args[3].as_string() : "";
                 queue_service("calls.channel.app", *c,
                               {{"phase", phase}, {"app", *args[2].as_string()}, {"data", std::move(data)}});
                 return status_reply({});
               }});
  f.push_back({"send_dtmf", "call: table, digits: string", "ok: boolean, error: string|nil",
               "Sends DTMF `digits` (0-9, *, #, A-D) to the call's party.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("send_dtmf");
                 std::string digits = *args[1].as_string();
                 if (digits.find_first_not_of("0123456789*#ABCD") != std::string::npos)
                   return LuaReply::error("channel.send_dtmf: '" + digits + "' holds a character that is "
                                          "not a DTMF digit (0-9, *, #, A-D)");
                 return status_reply(with_driver(id, [&](sdk::ChannelDriver& d, const sdk::Channel& c) {
                   return d.send_dtmf(c, digits);
                 }));
               }});
  f.push_back({"setvar", "call: table, name: string, value: string|number|boolean|nil", "nothing",
               "Sets the channel variable `name` (nil removes nothing: it sets \"\"); the legs the "
               "call dials inherit the variables.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("setvar");
                 std::string value;
                 if (args.size() > 2) {
                   if (auto* s = args[2].as_string()) value = *s;
                   else if (auto* b = std::get_if<bool>(&args[2].v)) value = *b ? "true" : "false";
                   else if (auto* d = std::get_if<double>(&args[2].v)) value = std::to_string(*d);
                   else if (auto i = args[2].as_int()) value = std::to_string(*i);
                 }
                 if (auto s = set_variable(id, *args[1].as_string(), value); !s)
                   return LuaReply::error("channel.setvar: " + s.error().message);
                 return LuaReply::values({});
               }});
  f.push_back({"getvar", "call: table, name: string", "value: string|nil",
               "The channel variable `name`, nil when unset.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("getvar");
                 auto v = variable(id, *args[1].as_string());
                 return LuaReply::values({v ? LuaValue(*v) : LuaValue()});
               }});
  f.push_back({"active_calls", "interfaces: table", "count: integer",
               "Channels in progress (ringing or answered, calling or called) on these "
               "interfaces, e.g. `{ \"sip/1001\" }`: the busy count of a user's lines.",
               [this](const LuaValues& args) -> LuaReply {
                 std::vector<std::string> list;
                 for (auto& v : args[0].as_table()->array)
                   if (auto* s = v.as_string()) list.push_back(*s);
                 return LuaReply::values({LuaValue(static_cast<std::int64_t>(active_calls(list)))});
               }});
  f.push_back(
      {"pickup", "call: table, target: table|string", "ok: boolean, error: string|nil",
       "Takes a call that rings elsewhere (seed 5.12 directed and 5.17 group pickup): `target` is a "
       "list of interfaces (`{ \"sip/1002\" }`: the oldest call ringing on one of them) or the channel "
       "id of the ringing leg. The ringing phones stop (CANCEL), the caller and this call are answered "
       "and bridged, and the caller's call:dial returns `answered`. `false, \"nothing rings\"` when "
       "no call rings there; `false` and why when it could not be taken (answered meanwhile, the "
       "caller left). Only this call's coroutine waits. Publishes calls.pickup.",
       [this](const LuaValues& args) -> LuaReply {
         auto picker = sdk::call_channel(args);
         if (picker.empty()) return no_channel("pickup");
         std::string leg;
         if (auto* s = args[1].as_string()) {
           leg = *s;
         } else {
           std::vector<std::string> list;
           for (auto& v : args[1].as_table()->array)
             if (auto* s = v.as_string()) list.push_back(*s);
           auto r = ringing_leg(list);
           if (!r) return LuaReply::values({LuaValue(false), LuaValue("nothing rings")});
           leg = *r;
         }
         return LuaReply::async([this, picker, leg](sdk::LuaResume resume) {
           pickup(picker, leg, [resume](sdk::Status s) {
             if (s) resume(LuaValues{LuaValue(true)});
             else resume(LuaValues{LuaValue(false), LuaValue(s.error().message)});
           });
         });
       }});
  f.push_back(
      {"park", "call: table, lot: table", "slot: integer|nil, error: string|nil",
       "Parks the call (seed 5.25) in the next free slot of `lot` = `{ id, context, slots_start, "
       "slots_end, timeout, parker, parker_endpoint }` (slots rotate: the search starts after the "
       "last slot taken; `timeout` seconds, 0 for none; `parker`: the channel id of who parked it, "
       "`parker_endpoint` its \"sip/<line>\"). Returns the slot, or nil and `full` when every slot "
       "is taken. The call stays where it is: play it the slot and the music, then "
       "call:wait_parked(). Publishes calls.park.parked.",
       [this](const LuaValues& args) -> LuaReply {
         auto id = sdk::call_channel(args);
         if (id.empty()) return no_channel("park");
         const LuaTable& t = *args[1].as_table();
         sdk::ParkRequest r;
         r.lot = sdk::text_field(t, "id");
         r.context = sdk::text_field(t, "context");
         auto num = [&](const char* k, int dflt) {
           auto v = sdk::text_field(t, k);
           return v.empty() ? dflt : std::atoi(v.c_str());
         };
         r.first_slot = num("slots_start", 701);
         r.last_slot = num("slots_end", 750);
         r.timeout_seconds = num("timeout", 45);
         r.parker = sdk::text_field(t, "parker");
         r.parker_endpoint = sdk::text_field(t, "parker_endpoint");
         auto slot = park(id, std::move(r));
         if (!slot) {
           bool full = slot.error().code == sdk::ErrorCode::unavailable;
           return LuaReply::values({LuaValue(), LuaValue(full ? std::string("full") : slot.error().message)});
         }
         return LuaReply::values({LuaValue(static_cast<std::int64_t>(*slot))});
       }});
  f.push_back({"wait_parked", "call: table", "outcome: string",
               "Waits while the call is parked; returns `retrieved` (someone dialed its slot: the call "
               "now talks to them), `timeout` (its time ran out: the dialplan decides where it goes) or "
               "`hangup`. Only this call's coroutine waits.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("wait_parked");
                 return LuaReply::async([this, id](sdk::LuaResume resume) {
                   wait_parked(id, [resume](std::string outcome) { resume(LuaValues{LuaValue(std::move(outcome))}); });
                 });
               }});
  f.push_back({"unpark", "call: table, lot: string|integer, slot: integer", "ok: boolean, error: string|nil",
               "Takes the call parked in `slot` of lot `lot` (its id): both are answered and bridged. "
               "`false, \"empty\"` when nothing waits in that slot. Publishes calls.park.retrieved.",
               [this](const LuaValues& args) -> LuaReply {
                 auto id = sdk::call_channel(args);
                 if (id.empty()) return no_channel("unpark");
                 std::string lot = args[1].as_string() ? *args[1].as_string() : std::to_string(*args[1].as_int());
                 int slot = static_cast<int>(*args[2].as_int());
                 return LuaReply::async([this, id, lot, slot](sdk::LuaResume resume) {
                   unpark(id, lot, slot, [resume](sdk::Status s) {
                     if (s) resume(LuaValues{LuaValue(true)});
                     else if (s.error().code == sdk::ErrorCode::not_found)
                       resume(LuaValues{LuaValue(false), LuaValue("empty")});
                     else resume(LuaValues{LuaValue(false), LuaValue(s.error().message)});
                   });
                 });
               }});
  f.push_back({"group_answered", "group_id: integer|string, user_id: integer|string", "nothing",
               "Records that member `user_id` of group `group_id` answered a call (ring strategies "
               "least_recent, fewest_calls and memorized_round_robin read it back).",
               [this](const LuaValues& args) -> LuaReply {
                 auto text = [](const LuaValue& v) {
                   if (auto* s = v.as_string()) return *s;
                   auto i = v.as_int();
                   return i ? std::to_string(*i) : std::string();
                 };
                 groups_.answered(text(args[0]), text(args[1]), unix_ms());
                 groups_.trim(10000);
                 return LuaReply::values({});
               }});
  f.push_back({"group_memory", "group_id: integer|string", "memory: table",
               "What ring strategies remember of the group since start: {last_member = <user id or "
               "nil>, members = {[\"<user id>\"] = {answered = n, last_answered_ms = t}}}.",
               [this](const LuaValues& args) -> LuaReply {
                 std::string id = args[0].as_string() ? *args[0].as_string() : std::to_string(*args[0].as_int());
                 auto g = groups_.snapshot(id);
                 auto t = std::make_shared<LuaTable>();
                 if (!g.last_member.empty()) t->fields["last_member"] = g.last_member;
                 auto members = std::make_shared<LuaTable>();
                 for (auto& [uid, m] : g.members) {
                   auto e = std::make_shared<LuaTable>();
                   e->fields["answered"] = m.answered;
                   e->fields["last_answered_ms"] = m.last_answered_ms;
                   members->fields[uid] = e;
                 }
                 t->fields["members"] = members;
                 return LuaReply::values({LuaValue(t)});
               }});
  return f;
}

sdk::Status CallCoreImpl::export_lua(sdk::LuaHost& lua) {
  std::vector<sdk::LuaFunctionSpec> all = lua_functions();
  {
    std::lock_guard lock(lua_mutex_);
    lua_ = &lua;
    for (auto& v : verbs_) all.push_back(v);
  }
  return lua.export_module("channel", std::move(all));
}

sdk::Status CallCoreImpl::register_verb(sdk::LuaFunctionSpec verb) {
  if (verb.name.empty() || !verb.fn) return sdk::Error::invalid("a call verb needs a name and a function");
  for (auto& f : lua_functions())
    if (f.name == verb.name)
      return sdk::Error::conflict("call:" + verb.name + " is the call core's own; name the verb otherwise");
  sdk::LuaHost* lua;
  {
    std::lock_guard lock(lua_mutex_);
    for (auto& v : verbs_)
      if (v.name == verb.name) return sdk::Error::conflict("call:" + verb.name + " is registered already");
    verbs_.push_back(verb);
    lua = lua_;
  }
  if (lua) return lua->export_module("channel", {std::move(verb)});
  return {};
}

}  // namespace dialtone::kernel
