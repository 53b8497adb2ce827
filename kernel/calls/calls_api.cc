// The calld-compatible REST view of the call core: xivo-calld 1.0's
// GET /1.0/calls and DELETE /1.0/calls/{call_id}, where a "call" is one
// channel (one leg), as in xivo-calld.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "kernel/calls/call_core.h"

namespace dialtone::kernel {

extern const char* const kCallsApiSpec;  // kernel/calls/api.yml, embedded at build time

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Asterisk's channel states as xivo-calld shows them.
const char* calld_status(const sdk::Channel& c) {
  switch (c.state) {
    case sdk::ChannelState::down: return "Down";
    case sdk::ChannelState::ringing: return c.direction == sdk::ChannelDirection::inbound ? "Ring" : "Ringing";
    case sdk::ChannelState::up: return "Up";
  }
  return "Down";
}

// "2026-11-26T16:08:00.123+0000", as xivo-calld relays Asterisk's times.
std::string iso_time(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

void str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

// One channel in xivo-calld's call shape. The channel's own party is the
// caller on the inbound leg and the callee on an outbound one; the peer is
// the other party.
void write_call(Writer& w, const sdk::Channel& c, const std::string& peer_status) {
  bool caller = c.direction == sdk::ChannelDirection::inbound;
  w.StartObject();
  str(w, "call_id", c.id);
  str(w, "conversation_id", c.call_id);
  w.Key("status");
  w.String(calld_status(c));
  str(w, "caller_id_name", caller ? c.caller_name : c.callee_name);
  str(w, "caller_id_number", caller ? c.caller_number : c.callee_number);
  str(w, "peer_caller_id_name", caller ? c.callee_name : c.caller_name);
  str(w, "peer_caller_id_number", caller ? c.callee_number : c.caller_number);
  str(w, "creation_time", iso_time(c.created_at_ms));
  w.Key("answer_time");
  if (c.answered_at_ms) w.String(iso_time(c.answered_at_ms).c_str());
  else w.Null();
  w.Key("talking_to");
  w.StartObject();
  if (!c.peer.empty()) {
    w.Key(c.peer.c_str(), static_cast<rapidjson::SizeType>(c.peer.size()));
    w.String(peer_status.c_str());
  }
  w.EndObject();
  w.Key("is_caller");
  w.Bool(caller);
  str(w, "dialed_extension", caller ? c.callee_number : std::string());
  str(w, "sip_call_id", c.backend == "sip" ? c.protocol_id : std::string());
  str(w, "backend", c.backend);
  str(w, "line", c.endpoint);
  w.Key("direction");
  w.String(sdk::to_string(c.direction));
  w.EndObject();
}

std::string status_of(const std::vector<sdk::Channel>& all, const std::string& id) {
  for (auto& o : all)
    if (o.id == id) return calld_status(o);
  return "Down";
}

}  // namespace

sdk::Status CallCoreImpl::mount(HttpServerImpl& http, std::string_view listener) {
  sdk::Route list;
  list.method = "GET";
  list.path = "/1.0/calls";
  list.acl = "calld.calls.read";
  list.summary = "List the calls: one item per channel (leg), oldest first";
  list.handler = [this](const sdk::HttpRequest&) {
    auto all = channels();
    std::sort(all.begin(), all.end(), [](const sdk::Channel& a, const sdk::Channel& b) {
      return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.id < b.id;
    });
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("items");
    w.StartArray();
    for (auto& c : all) write_call(w, c, c.peer.empty() ? std::string() : status_of(all, c.peer));
    w.EndArray();
    w.EndObject();
    return sdk::HttpResponse::json(200, std::string(sb.GetString(), sb.GetSize()));
  };
  sdk::Route get;
  get.method = "GET";
  get.path = "/1.0/calls/{call_id}";
  get.acl = "calld.calls.{call_id}.read";
  get.summary = "Read one call (channel)";
  get.handler = [this](const sdk::HttpRequest& r) {
    auto& id = r.params.at("call_id");
    auto c = channel(id);
    if (!c) return sdk::HttpResponse::error(404, {"No such call: " + id});
    std::string peer_status;
    if (!c->peer.empty())
      if (auto p = channel(c->peer)) peer_status = calld_status(*p);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    write_call(w, *c, peer_status);
    return sdk::HttpResponse::json(200, std::string(sb.GetString(), sb.GetSize()));
  };
  sdk::Route del;
  del.method = "DELETE";
  del.path = "/1.0/calls/{call_id}";
  del.acl = "calld.calls.{call_id}.delete";
  del.summary = "Hang up a call: its backend ends the channel and the legs bridged to it";
  del.handler = [this](const sdk::HttpRequest& r) {
    auto& id = r.params.at("call_id");
    auto s = hangup_channel(id, 0);
    if (s) return sdk::HttpResponse::empty(204);
    if (s.error().code == sdk::ErrorCode::not_found) return sdk::HttpResponse::error(404, {"No such call: " + id});
    return sdk::HttpResponse::error(503, {s.error().message});
  };
  sdk::Route spec;
  spec.method = "GET";
  spec.path = "/1.0/api/api.yml";
  spec.auth = sdk::RouteAuth::none;
  spec.summary = "OpenAPI description of the calls API";
  spec.handler = [](const sdk::HttpRequest&) {
    return sdk::HttpResponse::text(200, kCallsApiSpec, "application/x-yaml");
  };
  for (auto* r : {&list, &get, &del, &spec}) {
    if (auto s = http.mount_as("kernel.calls", listener, std::move(*r)); !s) return s;
  }
  return {};
}

}  // namespace dialtone::kernel
