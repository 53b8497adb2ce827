// The calld-compatible REST view of the call core: xivo-calld 1.0's (the
// xivo-ctid-ng of XiVO, with its ACL names) GET/POST /1.0/calls,
// GET/DELETE /1.0/calls/{call_id} and the token user's /1.0/users/me/calls,
// where a "call" is one channel (one leg), as in xivo-calld.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include <map>
#include <optional>

#include <rapidjson/document.h>
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

// The user of a SIP leg: its line's main user (xivo-ctid-ng's user_uuid);
// empty for a trunk, an API leg or a line without user.
std::string leg_user(const sdk::ConfigSnapshot* snap, const sdk::Channel& c) {
  if (!snap || c.backend != "sip") return {};
  auto* line = snap->line_by_username(c.endpoint);
  if (!line || !line->main_user_id) return {};
  auto* user = snap->user(*line->main_user_id);
  return user ? user->uuid : std::string();
}

// One channel in xivo-calld's call shape. The channel's own party is the
// caller on the inbound leg and the callee on an outbound one; the peer is
// the other party.
void write_call(Writer& w, const sdk::Channel& c, const std::string& peer_status, const sdk::ConfigSnapshot* snap) {
  bool caller = c.direction == sdk::ChannelDirection::inbound;
  w.StartObject();
  str(w, "call_id", c.id);
  w.Key("user_uuid");
  if (auto user = leg_user(snap, c); !user.empty()) w.String(user.c_str());
  else w.Null();
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

// {"items": [...]}: `calls` as calld lists them, each with its peer's
// status looked up among `all`.
sdk::HttpResponse items_answer(const std::vector<sdk::Channel>& calls, const std::vector<sdk::Channel>& all,
                               const sdk::ConfigSnapshot* snap) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("items");
  w.StartArray();
  for (auto& c : calls) write_call(w, c, c.peer.empty() ? std::string() : status_of(all, c.peer), snap);
  w.EndArray();
  w.EndObject();
  return sdk::HttpResponse::json(200, std::string(sb.GetString(), sb.GetSize()));
}

}  // namespace

sdk::Status CallCoreImpl::mount(HttpServerImpl& http, std::string_view listener) {
  sdk::Route list;
  list.method = "GET";
  list.path = "/1.0/calls";
  list.acl = "ctid-ng.calls.read";
  list.summary = "List the calls: one item per channel (leg), oldest first";
  list.handler = [this](const sdk::HttpRequest&) {
    auto all = channels();
    std::sort(all.begin(), all.end(), [](const sdk::Channel& a, const sdk::Channel& b) {
      return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.id < b.id;
    });
    std::vector<sdk::Channel> listed;
    for (auto& c : all)
      if (c.backend != "api") listed.push_back(c);
    auto snap = config_snapshot();
    return items_answer(listed, all, snap.get());
  };
  sdk::Route get;
  get.method = "GET";
  get.path = "/1.0/calls/{call_id}";
  get.acl = "ctid-ng.calls.{call_id}.read";
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
    write_call(w, *c, peer_status, config_snapshot().get());
    return sdk::HttpResponse::json(200, std::string(sb.GetString(), sb.GetSize()));
  };
  sdk::Route del;
  del.method = "DELETE";
  del.path = "/1.0/calls/{call_id}";
  del.acl = "ctid-ng.calls.{call_id}.delete";
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
  return mount_originate(http, listener);
}

namespace {

struct ApiError {
  int status;
  std::string message;
};

rapidjson::Document parse_object(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsObject()) throw ApiError{400, "the body must be a JSON object"};
  return d;
}

std::string text(const rapidjson::Value& v, const char* key, bool required, const std::string& where) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || it->value.IsNull()) {
    if (required) throw ApiError{400, where + key + " is missing"};
    return {};
  }
  if (!it->value.IsString() || it->value.GetStringLength() == 0)
    throw ApiError{400, where + key + " must be a non-empty string"};
  return it->value.GetString();
}

std::optional<std::int64_t> integer(const rapidjson::Value& v, const char* key, const std::string& where) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsInt64()) throw ApiError{400, where + key + " must be an integer"};
  return it->value.GetInt64();
}

std::map<std::string, std::string> variables_of(const rapidjson::Value& v) {
  std::map<std::string, std::string> out;
  auto it = v.FindMember("variables");
  if (it == v.MemberEnd() || it->value.IsNull()) return out;
  if (!it->value.IsObject()) throw ApiError{400, "variables must be an object of strings"};
  for (auto& m : it->value.GetObject()) {
    if (!m.value.IsString()) throw ApiError{400, std::string("variables.") + m.name.GetString() + " must be a string"};
    out[m.name.GetString()] = m.value.GetString();
  }
  return out;
}

void refuse_mobile(const rapidjson::Value& v) {
  auto it = v.FindMember("from_mobile");
  if (it != v.MemberEnd() && it->value.IsBool() && it->value.GetBool())
    throw ApiError{400, "from_mobile is not supported: the call starts on one of the user's lines (line_id)"};
}

const sdk::ConfigUser* user_by_uuid(const sdk::ConfigSnapshot& snap, const std::string& uuid) {
  for (auto& [id, u] : snap.users)
    if (u.uuid == uuid) return &u;
  return nullptr;
}

}  // namespace

sdk::Status CallCoreImpl::mount_originate(HttpServerImpl& http, std::string_view listener) {
  // Builds the origination for `user_uuid`, rings, and answers with the
  // user's leg as xivo-calld's call object (201).
  auto start = [this](const std::string& user_uuid, std::optional<std::int64_t> line_id, std::string exten,
                      std::string context, std::map<std::string, std::string> variables) {
    auto snap = config_snapshot();
    if (!snap) throw ApiError{503, "no configuration service: enable api.confd (conf.d/50-confd.conf)"};
    auto* user = user_by_uuid(*snap, user_uuid);
    if (!user) throw ApiError{400, "No such user: " + user_uuid};
    auto o = user_origination(*snap, *user, line_id, std::move(exten), std::move(context));
    if (!o) throw ApiError{400, o.error().message};
    for (auto& [name, value] : variables) o->variables.try_emplace(name, value);
    auto leg = originate(std::move(*o));
    if (!leg) throw ApiError{503, leg.error().message};
    auto c = channel(*leg);
    if (!c) throw ApiError{503, "the user's leg ended at once"};
    rapidjson::StringBuffer sb;
    Writer w(sb);
    write_call(w, *c, "", snap.get());
    return sdk::HttpResponse::json(201, std::string(sb.GetString(), sb.GetSize()));
  };
  auto guarded = [](auto&& f) {
    try {
      return f();
    } catch (const ApiError& e) {
      return sdk::HttpResponse::error(e.status, {e.message});
    }
  };
  // The user's own calls: the legs on their lines.
  auto user_legs = [this](const std::string& user_uuid) {
    std::vector<sdk::Channel> out;
    auto snap = config_snapshot();
    const sdk::ConfigUser* user = snap ? user_by_uuid(*snap, user_uuid) : nullptr;
    if (!user) return out;
    std::vector<std::string> usernames;
    for (auto id : user->line_ids)
      if (auto* l = snap->line(id); l && !l->username.empty()) usernames.push_back(l->username);
    for (auto& c : channels())
      if (c.backend == "sip" && std::find(usernames.begin(), usernames.end(), c.endpoint) != usernames.end())
        out.push_back(c);
    std::sort(out.begin(), out.end(), [](const sdk::Channel& a, const sdk::Channel& b) {
      return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.id < b.id;
    });
    return out;
  };
  auto token_user = [](const sdk::HttpRequest& r) {
    std::string uuid = r.token ? r.token->auth_id : std::string();
    if (uuid.empty()) throw ApiError{400, "the token names no user: create it as the user's account"};
    return uuid;
  };

  sdk::Route create;
  create.method = "POST";
  create.path = "/1.0/calls";
  create.acl = "ctid-ng.calls.create";
  create.summary = "Make a call: ring the source user's line, then the destination";
  create.handler = [start, guarded](const sdk::HttpRequest& r) {
    return guarded([&] {
      auto d = parse_object(r.body);
      auto src = d.FindMember("source");
      auto dst = d.FindMember("destination");
      if (src == d.MemberEnd() || !src->value.IsObject()) throw ApiError{400, "source is missing: {\"user\": <uuid>}"};
      if (dst == d.MemberEnd() || !dst->value.IsObject())
        throw ApiError{400, "destination is missing: {\"extension\", \"context\", \"priority\"}"};
      refuse_mobile(src->value);
      auto user = text(src->value, "user", true, "source.");
      auto line_id = integer(src->value, "line_id", "source.");
      auto exten = text(dst->value, "extension", true, "destination.");
      auto context = text(dst->value, "context", true, "destination.");
      (void)integer(dst->value, "priority", "destination.");
      return start(user, line_id, exten, context, variables_of(d));
    });
  };
  sdk::Route mine;
  mine.method = "GET";
  mine.path = "/1.0/users/me/calls";
  mine.acl = "ctid-ng.users.me.calls.read";
  mine.summary = "The token's user's calls: the legs on their lines";
  mine.handler = [this, user_legs, token_user, guarded](const sdk::HttpRequest& r) {
    return guarded([&] {
      auto legs = user_legs(token_user(r));
      auto all = channels();
      return items_answer(legs, all, config_snapshot().get());
    });
  };
  sdk::Route mine_create;
  mine_create.method = "POST";
  mine_create.path = "/1.0/users/me/calls";
  mine_create.acl = "ctid-ng.users.me.calls.create";
  mine_create.summary = "Make a call from the token's user to an extension of their line's context";
  mine_create.handler = [start, token_user, guarded](const sdk::HttpRequest& r) {
    return guarded([&] {
      auto d = parse_object(r.body);
      refuse_mobile(d);
      auto exten = text(d, "extension", true, "");
      return start(token_user(r), integer(d, "line_id", ""), exten, "", variables_of(d));
    });
  };
  sdk::Route mine_delete;
  mine_delete.method = "DELETE";
  mine_delete.path = "/1.0/users/me/calls/{call_id}";
  mine_delete.acl = "ctid-ng.users.me.calls.{call_id}.delete";
  mine_delete.summary = "Hang up one of the token's user's calls";
  mine_delete.handler = [this, user_legs, token_user, guarded](const sdk::HttpRequest& r) {
    return guarded([&] {
      auto& id = r.params.at("call_id");
      auto legs = user_legs(token_user(r));
      if (std::none_of(legs.begin(), legs.end(), [&](const sdk::Channel& c) { return c.id == id; }))
        throw ApiError{404, "No such call for this user: " + id};
      auto s = hangup_channel(id, 0);
      if (!s) throw ApiError{s.error().code == sdk::ErrorCode::not_found ? 404 : 503, s.error().message};
      return sdk::HttpResponse::empty(204);
    });
  };
  for (auto* r : {&create, &mine, &mine_create, &mine_delete}) {
    if (auto s = http.mount_as("kernel.calls", listener, std::move(*r)); !s) return s;
  }
  return {};
}

}  // namespace dialtone::kernel
