#include "plugins/records/cel/cel_mapper.h"

#include <cstdio>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dialtone/text.h>

namespace dialtone::plugins::records {
namespace {

std::string string_member(const sdk::Event& e, const char* key) { return std::string(e.text(key)); }
std::int64_t int_member(const sdk::Event& e, const char* key, std::int64_t fallback = 0) {
  return e.number(key, fallback);
}

// Asterisk names a channel <TECH>/<peer>-<8 hex digits>; XiVO's call logs
// read the line identity ("sip/alice") back from it.
std::string channel_name(const std::string& backend, const std::string& endpoint, std::uint64_t n) {
  const std::string tech = sdk::text::to_upper(backend.empty() ? std::string_view("local") : backend);
  char suffix[20];
  std::snprintf(suffix, sizeof suffix, "-%08llx", static_cast<unsigned long long>(n & 0xffffffffULL));
  return tech + "/" + endpoint + suffix;
}

class Extra {
 public:
  Extra() : w_(sb_) { w_.StartObject(); }
  Extra& s(const char* k, const std::string& v) {
    w_.Key(k);
    w_.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    return *this;
  }
  Extra& i(const char* k, std::int64_t v) {
    w_.Key(k);
    w_.Int64(v);
    return *this;
  }
  std::string done() {
    w_.EndObject();
    return std::string(sb_.GetString(), sb_.GetSize());
  }

 private:
  rapidjson::StringBuffer sb_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

}  // namespace

int q850_of(int sip) {
  // RFC 3398's mapping read backwards, for the statuses the backends give.
  switch (sip) {
    case 0:
    case 200: return 16;   // normal clearing
    case 486:
    case 600: return 17;   // user busy
    case 408:
    case 480: return 19;   // no answer
    case 487: return 16;   // cancelled by the caller: normal clearing, DIALSTATUS CANCEL
    case 404:
    case 484: return 1;    // unallocated number
    case 403:
    case 603: return 21;   // call rejected
    case 488:
    case 606: return 58;   // bearer capability not available
    case 503: return 34;   // no circuit available
    case 502: return 38;   // network out of order
    default: return sip >= 500 ? 41 : sip >= 400 ? 31 : 16;
  }
}

const char* dialstatus_of(int sip, bool answered) {
  if (answered) return "ANSWER";
  switch (sip) {
    case 486:
    case 600: return "BUSY";
    case 408:
    case 480: return "NOANSWER";
    case 0:
    case 200:
    case 487: return "CANCEL";
    case 503: return "CONGESTION";
    default: return "CHANUNAVAIL";
  }
}

std::vector<CelRow> CelMapper::map(const sdk::Event& event, std::int64_t now_ms) {
  std::vector<CelRow> out;
  constexpr std::string_view prefix = "calls.channel.";
  // The call core's services: parking (calls.park.*) and pickup.
  constexpr std::string_view park = "calls.park.";
  std::string kind;
  if (event.topic.compare(0, prefix.size(), prefix) == 0) kind = event.topic.substr(prefix.size());
  else if (event.topic.compare(0, park.size(), park) == 0) kind = "park." + event.topic.substr(park.size());
  else if (event.topic == "calls.pickup") kind = "pickup";
  else return out;
  // The event's fields as the call core published them (no JSON on the way).
  const sdk::Event& d = event;
  const std::string id = string_member(d, "id");
  if (id.empty()) return out;

  const bool inbound = string_member(d, "direction") != "outbound";
  const std::string endpoint = string_member(d, "endpoint");
  // What every row of this event repeats, read once.
  const std::string callee_number = string_member(d, "callee_number");
  const std::string cid_num = inbound ? string_member(d, "caller_number") : callee_number;
  const std::string cid_name = inbound ? string_member(d, "caller_name") : string_member(d, "callee_name");
  std::string call_id = string_member(d, "call_id");
  if (call_id.empty()) call_id = id;
  auto known = channels_.find(id);

  auto row = [&](const char* type, std::int64_t at) {
    CelRow r;
    r.eventtype = type;
    r.eventtime_ms = at > 0 ? at : now_ms;
    // A callee's leg carries the callee's identity, as Asterisk's dialed channel does.
    r.cid_num = cid_num;
    r.cid_name = cid_name;
    r.cid_ani = r.cid_num;
    if (inbound) r.cid_dnid = callee_number;
    r.exten = callee_number;
    r.uniqueid = id;
    r.linkedid = call_id;
    if (known != channels_.end()) {
      r.channame = known->second.channame;
      r.linkedid = known->second.linkedid;
      if (known->second.outgoing) r.userfield = known->second.userfield;
    }
    return r;
  };
  auto peer_name = [&](const std::string& peer_id) {
    auto p = channels_.find(peer_id);
    return p == channels_.end() ? std::string() : p->second.channame;
  };
  auto bridge_id = [&](const std::string& a, const std::string& b) { return a < b ? a + "+" + b : b + "+" + a; };

  if (kind == "created") {
    if (known != channels_.end()) return out;  // reported twice: keep the first
    Open o;
    std::string trunk = trunk_ ? trunk_(endpoint) : std::string();
    o.channame = channel_name(string_member(d, "backend"), trunk.empty() ? endpoint : trunk, ++next_channel_);
    o.linkedid = call_id;
    o.cid_num = cid_num;
    o.exten = callee_number;
    known = channels_.emplace(id, o).first;
    ++open_per_call_[o.linkedid];
    auto info = lookup_ ? lookup_(endpoint) : std::nullopt;
    CelRow start = row("CHAN_START", int_member(d, "created_at_ms"));
    Extra extra;
    extra.s("backend", string_member(d, "backend")).s("endpoint", endpoint).s("direction", inbound ? "inbound" : "outbound");
    if (!string_member(d, "protocol_id").empty()) extra.s("protocol_id", string_member(d, "protocol_id"));
    if (info) {
      known->second.userfield = info->userfield;
      start.context = info->context;
      if (start.cid_name.empty()) start.cid_name = info->user_name;
      if (!info->user_uuid.empty()) extra.s("user_uuid", info->user_uuid);
      if (info->line_id) extra.i("line_id", info->line_id);
    }
    start.extra = extra.done();
    known->second.cid_name = start.cid_name;
    out.push_back(start);
    // XiVO's dialplan marks calls from and to trunks with these user events;
    // call logs take the direction from them.
    if (lookup_ && !info) {
      CelRow mark = row("USER_DEFINED", int_member(d, "created_at_ms"));
      mark.userdeftype = inbound ? "XIVO_INCALL" : "XIVO_OUTCALL";
      mark.context = start.context;
      mark.cid_name = start.cid_name;
      // XiVO's outgoing call sets the calling user's user field on the
      // caller's channel (CHANNEL(userfield)): its rows carry it from here.
      if (!inbound)
        if (auto caller = channels_.find(o.linkedid); caller != channels_.end() && caller != known) {
          caller->second.outgoing = true;
          mark.userfield = caller->second.userfield;
        }
      out.push_back(std::move(mark));
    }
    return out;
  }
  if (known == channels_.end()) return out;  // began before this plugin listened
  Open& o = known->second;

  auto enter = [&](const std::string& peer_id, std::int64_t at) {
    CelRow r = row("BRIDGE_ENTER", at);
    r.peer = peer_name(peer_id);
    r.extra = Extra().s("bridge_id", bridge_id(id, peer_id)).done();
    o.peer = peer_id;
    out.push_back(std::move(r));
  };
  auto exit = [&](std::int64_t at) {
    if (o.peer.empty()) return;
    CelRow r = row("BRIDGE_EXIT", at);
    r.peer = peer_name(o.peer);
    r.extra = Extra().s("bridge_id", bridge_id(id, o.peer)).done();
    o.peer.clear();
    out.push_back(std::move(r));
  };

  if (kind == "state") {
    const std::string state = string_member(d, "state");
    const std::string peer = string_member(d, "peer");
    if (state == "up" && !o.answered) {
      o.answered = true;
      out.push_back(row("ANSWER", int_member(d, "answered_at_ms")));
    }
    if (state == "up" && peer != o.peer) {
      exit(now_ms);
      if (!peer.empty()) enter(peer, now_ms);
    }
    return out;
  }
  if (kind == "bridged") {
    auto peer = string_member(d, "peer");
    if (!peer.empty() && peer != o.peer) {
      exit(now_ms);
      enter(peer, now_ms);
    }
    return out;
  }
  if (kind == "unbridged") {
    exit(now_ms);
    return out;
  }
  if (kind == "held" || kind == "unheld") {
    bool held = kind == "held";
    if (o.held == held) return out;
    o.held = held;
    out.push_back(row(held ? "HOLD" : "UNHOLD", now_ms));
    return out;
  }
  if (kind == "transferred") {
    const std::string how = string_member(d, "kind");
    CelRow r = row(how == "attended" ? "ATTENDEDTRANSFER" : "BLINDTRANSFER", now_ms);
    Extra extra;
    for (auto* k : {"exten", "context", "target_channel"})
      if (!string_member(d, k).empty()) extra.s(k, string_member(d, k));
    r.extra = extra.done();
    out.push_back(std::move(r));
    return out;
  }
  // A dialplan application on the channel (call:app_event): Asterisk's
  // APP_START / APP_END, the application in appname, its argument in appdata.
  // An application the caller leaves by hanging up cannot say its end (the
  // channel is gone): the channel's end closes it, as Asterisk's APP_END
  // comes before the HANGUP of a channel hung up inside an application.
  if (kind == "app") {
    const std::string phase = string_member(d, "phase");
    if (phase != "start" && phase != "end") return out;
    CelRow r = row(phase == "start" ? "APP_START" : "APP_END", now_ms);
    r.appname = string_member(d, "app");
    r.appdata = string_member(d, "data");
    if (phase == "start") {
      o.app = r.appname;
      o.app_data = r.appdata;
    } else {
      o.app.clear();
      o.app_data.clear();
    }
    out.push_back(std::move(r));
    return out;
  }
  // Asterisk's parking CEL: PARK_START when the call takes a slot, PARK_END
  // with why it left it, on the parked channel.
  if (kind == "park.parked") {
    CelRow r = row("PARK_START", now_ms);
    r.extra = Extra()
                  .s("parking_lot", string_member(d, "lot"))
                  .s("parking_space", string_member(d, "slot"))
                  .s("parker_dial_string", string_member(d, "parker_endpoint"))
                  .s("parker", peer_name(string_member(d, "parker")))
                  .done();
    out.push_back(std::move(r));
    return out;
  }
  if (kind == "park.retrieved" || kind == "park.timeout" || kind == "park.abandoned") {
    CelRow r = row("PARK_END", now_ms);
    Extra extra;
    extra.s("reason", kind == "park.retrieved" ? "ParkedCallUnparked"
                      : kind == "park.timeout" ? "ParkedCallTimeOut"
                                               : "ParkedCallGiveUp");
    extra.s("parking_lot", string_member(d, "lot")).s("parking_space", string_member(d, "slot"));
    if (kind == "park.retrieved") extra.s("retriever", peer_name(string_member(d, "retriever")));
    r.extra = extra.done();
    out.push_back(std::move(r));
    return out;
  }
  // A ringing call taken by another phone: on the caller's channel (the
  // event's), naming the phone that picked it up and the leg that rang
  // (which is cancelled, and may already be gone). The picker's channel then
  // joins the picked-up call, as Asterisk's does when it is bridged to the
  // caller (the oldest linked id wins): its own call ends there
  // (LINKEDID_END, its channel still up), and its later rows, from its
  // BRIDGE_ENTER on, are the picked-up call's (the core publishes the pickup
  // before it bridges the two).
  if (kind == "pickup") {
    CelRow r = row("PICKUP", now_ms);
    const std::string picker_id = string_member(d, "picker");
    auto ringing = peer_name(string_member(d, "ringing_channel"));
    r.extra = Extra()
                  .s("pickup_channel", peer_name(picker_id))
                  .s("ringing_channel", ringing.empty() ? string_member(d, "ringing_endpoint") : ringing)
                  .done();
    out.push_back(std::move(r));
    auto picker = channels_.find(picker_id);
    if (picker == channels_.end() || picker->second.linkedid == o.linkedid) return out;
    const std::string own = picker->second.linkedid;
    picker->second.linkedid = o.linkedid;
    ++open_per_call_[o.linkedid];
    if (auto c = open_per_call_.find(own); c != open_per_call_.end() && --c->second <= 0) {
      open_per_call_.erase(c);
      CelRow end = row("LINKEDID_END", now_ms);
      end.uniqueid = picker_id;
      end.linkedid = own;
      end.channame = picker->second.channame;
      end.cid_num = end.cid_ani = picker->second.cid_num;
      end.cid_name = picker->second.cid_name;
      end.cid_dnid.clear();
      end.exten = picker->second.exten;
      end.userfield.clear();
      out.push_back(std::move(end));
    }
    return out;
  }
  if (kind == "ended") {
    // duration_ms (when the core sends it) counts from the answer: the end
    // is exact for an answered channel, else the time the event is seen.
    std::int64_t at = now_ms;
    if (auto dur = int_member(d, "duration_ms", -1); dur >= 0 && int_member(d, "answered_at_ms") > 0)
      at = int_member(d, "answered_at_ms") + dur;
    if (!o.app.empty()) {
      CelRow r = row("APP_END", at);
      r.appname = o.app;
      r.appdata = o.app_data;
      out.push_back(std::move(r));
    }
    exit(at);
    const int cause = static_cast<int>(int_member(d, "cause"));
    const int sip = static_cast<int>(int_member(d, "sip_code", cause));
    const int q850 = static_cast<int>(int_member(d, "q850_cause", q850_of(sip)));
    CelRow hangup = row("HANGUP", at);
    hangup.extra = Extra()
                       .i("hangupcause", q850)
                       .s("hangupsource", "")
                       .s("dialstatus", dialstatus_of(sip, o.answered))
                       .i("sip_code", sip)
                       .done();
    out.push_back(std::move(hangup));
    out.push_back(row("CHAN_END", at));
    const std::string linkedid = o.linkedid, channame = o.channame;
    channels_.erase(known);
    known = channels_.end();
    if (auto c = open_per_call_.find(linkedid); c != open_per_call_.end() && --c->second <= 0) {
      open_per_call_.erase(c);
      CelRow end = row("LINKEDID_END", at);
      end.linkedid = linkedid;
      end.channame = channame;
      out.push_back(std::move(end));
    }
    return out;
  }
  return out;
}

}  // namespace dialtone::plugins::records
