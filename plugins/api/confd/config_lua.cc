// The `config` Lua module: the dialplan's view of users, groups, routes and
// permissions, read from the snapshot (no SQL, no suspension), and the
// feature-code writes, which go through ConfigService like a confd PUT.
// Table shapes are those lua-dialplan/lib/*.lua document.
#include <rapidjson/document.h>

#include <algorithm>
#include <set>
#include <cctype>

#include "plugins/api/confd/config_service.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::ConfigSnapshot;
using sdk::LuaTable;
using sdk::LuaValue;
using sdk::LuaValues;
using Table = std::shared_ptr<LuaTable>;

// The longest forward destination api.confd accepts.
constexpr std::size_t kMaxDestination = 128;

LuaValue lua_from_json(const rapidjson::Value& v) {
  if (v.IsNull()) return {};
  if (v.IsBool()) return v.GetBool();
  if (v.IsInt64()) return static_cast<std::int64_t>(v.GetInt64());
  if (v.IsNumber()) return v.GetDouble();
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  auto t = std::make_shared<LuaTable>();
  if (v.IsArray())
    for (auto& e : v.GetArray()) t->array.push_back(lua_from_json(e));
  if (v.IsObject())
    for (auto& m : v.GetObject())
      t->fields[std::string(m.name.GetString(), m.name.GetStringLength())] = lua_from_json(m.value);
  return t;
}

LuaValue lua_from_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  if (d.HasParseError()) return {};
  return lua_from_json(static_cast<const rapidjson::Value&>(d));
}

// NULL columns are absent fields, as when the rows came from json_build_object.
void set(LuaTable& t, const char* key, const std::optional<std::string>& v) {
  if (v) t.fields[key] = *v;
}
void set(LuaTable& t, const char* key, const std::optional<int>& v) {
  if (v) t.fields[key] = *v;
}

std::string arg_string(const LuaValues& args, std::size_t i) {
  if (i >= args.size()) return {};
  if (auto* s = args[i].as_string()) return *s;
  if (auto n = args[i].as_int()) return std::to_string(*n);
  return {};
}

std::int64_t arg_id(const LuaValues& args, std::size_t i) {
  if (i >= args.size()) return 0;
  if (auto n = args[i].as_int(); n && *n > 0 && *n < 1000000000) return *n;
  if (auto* s = args[i].as_string();
      s && !s->empty() && s->size() <= 9 &&
      std::all_of(s->begin(), s->end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::atoll(s->c_str());
  return 0;
}

Table usernames(const ConfigSnapshot& s, const std::vector<std::int64_t>& line_ids) {
  auto t = std::make_shared<LuaTable>();
  for (auto id : line_ids)
    if (auto* l = s.line(id); l && !l->username.empty()) t->array.emplace_back(l->username);
  return t;
}

// The user as lib/users.lua reads it; `x` is the extension it was found by.
LuaValue user_view(const ConfigSnapshot& s, const sdk::ConfigUser& u, const sdk::ConfigExtension& x) {
  auto t = std::make_shared<LuaTable>();
  t->fields["id"] = u.id;
  t->fields["uuid"] = u.uuid;
  t->fields["firstname"] = u.firstname;
  set(*t, "lastname", u.lastname);
  set(*t, "mobile_phone_number", u.mobile_phone_number);
  t->fields["outgoing_caller_id"] = u.outgoing_caller_id.value_or("default");
  t->fields["simultaneous_calls"] = u.simultaneous_calls;
  t->fields["ring_seconds"] = u.ring_seconds;
  t->fields["dnd"] = u.dnd;
  t->fields["incallfilter"] = u.incallfilter;
  t->fields["call_record"] = u.call_record;
  t->fields["online_call_record"] = u.online_call_record;
  for (auto [name, f] : {std::pair{"unconditional", &u.forward_unconditional}, std::pair{"busy", &u.forward_busy},
                         std::pair{"noanswer", &u.forward_noanswer}}) {
    t->fields[std::string("forward_") + name + "_enabled"] = f->enabled;
    if (f->destination) t->fields[std::string("forward_") + name + "_destination"] = *f->destination;
  }
  t->fields["exten"] = x.exten;
  t->fields["context"] = x.context;
  t->fields["lines"] = usernames(s, u.line_ids);
  if (u.schedule_id) t->fields["schedule_id"] = *u.schedule_id;
  set(*t, "call_permission_password", u.call_permission_password);
  set(*t, "music_on_hold", u.music_on_hold);
  set(*t, "language", u.language);
  set(*t, "email", u.email);
  set(*t, "voicemail_email", u.voicemail_email);
  t->fields["fallbacks"] = lua_from_json(u.fallbacks);
  auto groups = std::make_shared<LuaTable>();
  for (auto gid : u.group_ids) groups->array.emplace_back(gid);
  t->fields["group_ids"] = groups;
  return t;
}

// The user's own extension: on the main line first, then the lowest id.
const sdk::ConfigExtension* main_extension(const ConfigSnapshot& s, const sdk::ConfigUser& u) {
  const sdk::ConfigExtension* best = nullptr;
  bool best_main = false;
  for (auto lid : u.line_ids) {
    auto* l = s.line(lid);
    if (!l) continue;
    bool main = u.main_line_id == lid;
    for (auto xid : l->extension_ids) {
      auto* x = s.extension(xid);
      if (!x || x->commented) continue;
      if (!best || (main && !best_main) || (main == best_main && x->id < best->id)) {
        best = x;
        best_main = main;
      }
    }
  }
  return best;
}

LuaValue user_by_exten(const ConfigSnapshot& s, const std::string& exten, const std::string& context) {
  auto* x = s.extension(exten, context);
  if (!x || x->commented) return {};
  const sdk::ConfigUser* best = nullptr;
  for (auto lid : s.lines_of(x->id)) {
    auto* l = s.line(lid);
    for (auto uid : l->user_ids) {
      auto* u = s.user(uid);
      if (!u || !u->enabled) continue;
      if (!best || (u->main_line_id == lid && best->main_line_id != lid)) best = u;
    }
  }
  return best ? user_view(s, *best, *x) : LuaValue();
}

LuaValue user_by_id(const ConfigSnapshot& s, std::int64_t id) {
  auto* u = s.user(id);
  if (!u || !u->enabled) return {};
  auto* x = main_extension(s, *u);
  return x ? user_view(s, *u, *x) : LuaValue();
}

// The group as lib/groups.lua reads it, enabled members in position order.
LuaValue group_view(const ConfigSnapshot& s, const sdk::ConfigGroup& g, const sdk::ConfigExtension* x) {
  auto t = std::make_shared<LuaTable>();
  t->fields["id"] = g.id;
  t->fields["name"] = g.name;
  set(*t, "label", g.label);
  t->fields["ring_strategy"] = g.ring_strategy;
  set(*t, "timeout", g.timeout);
  set(*t, "user_timeout", g.user_timeout);
  t->fields["retry_delay"] = g.retry_delay;
  t->fields["ring_in_use"] = g.ring_in_use;
  set(*t, "music_on_hold", g.music_on_hold);
  if (g.schedule_id) t->fields["schedule_id"] = *g.schedule_id;
  t->fields["fallbacks"] = lua_from_json(g.fallbacks);
  set(*t, "preprocess_subroutine", g.preprocess_subroutine);
  t->fields["call_record"] = g.call_record;
  if (x) {
    t->fields["exten"] = x->exten;
    t->fields["context"] = x->context;
  }
  auto members = std::make_shared<LuaTable>();
  for (std::size_t i = 0; i < g.member_user_ids.size(); ++i) {
    auto* u = s.user(g.member_user_ids[i]);
    if (!u || !u->enabled) continue;
    auto m = std::make_shared<LuaTable>();
    m->fields["user_id"] = u->id;
    m->fields["penalty"] = i < g.member_penalties.size() ? g.member_penalties[i] : 0;
    m->fields["firstname"] = u->firstname;
    set(*m, "lastname", u->lastname);
    m->fields["lines"] = usernames(s, u->line_ids);
    members->array.emplace_back(m);
  }
  t->fields["members"] = members;
  return t;
}

LuaValue group_by_exten(const ConfigSnapshot& s, const std::string& exten, const std::string& context) {
  auto* x = s.extension(exten, context);
  if (!x || x->commented) return {};
  auto gid = ConfigSnapshot::find(s.group_of_extension_, x->id);
  auto* g = gid ? s.group(*gid) : nullptr;
  return g && g->enabled ? group_view(s, *g, x) : LuaValue();
}

LuaValue group_by_id(const ConfigSnapshot& s, std::int64_t id) {
  auto* g = s.group(id);
  if (!g || !g->enabled) return {};
  const sdk::ConfigExtension* x = nullptr;
  for (auto xid : g->extension_ids)
    if (auto* e = s.extension(xid); e && !e->commented) {
      x = e;
      break;
    }
  return group_view(s, *g, x);
}

LuaValue callpermissions(const ConfigSnapshot& s, const std::vector<std::int64_t>& ids) {
  auto t = std::make_shared<LuaTable>();
  for (auto cid : ids) {
    auto* c = ConfigSnapshot::find(s.callpermissions, cid);
    if (!c || !c->enabled) continue;
    auto p = std::make_shared<LuaTable>();
    p->fields["id"] = c->id;
    p->fields["name"] = c->name;
    p->fields["mode"] = c->mode;
    auto ext = std::make_shared<LuaTable>();
    for (auto& e : c->extensions) ext->array.emplace_back(e);
    p->fields["extensions"] = ext;
    p->fields["password_protected"] = c->password_protected;
    if (c->password_protected) p->fields["password"] = *c->password;
    t->array.emplace_back(p);
  }
  return t;
}

LuaValue callpermissions(const ConfigSnapshot& s, const std::string& kind, std::int64_t id) {
  static const std::vector<std::int64_t> none;
  const std::vector<std::int64_t>* ids = &none;
  if (kind == "user") {
    if (auto* u = s.user(id)) ids = &u->callpermission_ids;
  } else if (kind == "group") {
    if (auto* g = s.group(id)) ids = &g->callpermission_ids;
  } else if (kind == "outcall") {
    if (auto* o = ConfigSnapshot::find(s.outcalls, id)) ids = &o->callpermission_ids;
  } else if (kind == "incall") {
    if (auto* i = ConfigSnapshot::find(s.incalls, id)) ids = &i->callpermission_ids;
  }
  return callpermissions(s, *ids);
}

LuaValue callfilter_view(const sdk::ConfigCallFilter& f) {
  auto t = std::make_shared<LuaTable>();
  t->fields["id"] = f.id;
  t->fields["name"] = f.name;
  t->fields["strategy"] = f.strategy;
  t->fields["source"] = f.source;
  set(*t, "caller_id_mode", f.caller_id_mode);
  set(*t, "caller_id_name", f.caller_id_name);
  set(*t, "surrogates_timeout", f.surrogates_timeout);
  t->fields["fallbacks"] = lua_from_json(f.fallbacks);
  auto bosses = std::make_shared<LuaTable>();
  auto secretaries = std::make_shared<LuaTable>();
  for (auto& m : f.members) {
    auto e = std::make_shared<LuaTable>();
    e->fields["member_id"] = m.id;
    e->fields["user_id"] = m.user_id;
    set(*e, "timeout", m.timeout);
    e->fields["active"] = m.active;
    (m.role == "boss" ? bosses : secretaries)->array.emplace_back(e);
  }
  t->fields["bosses"] = bosses;
  t->fields["secretaries"] = secretaries;
  return t;
}

// The enabled filter where `user_id` is a boss (the lowest id when several).
LuaValue callfilter_of_boss(const ConfigSnapshot& s, std::int64_t user_id) {
  for (auto& [id, f] : s.callfilters) {
    if (!f.enabled) continue;
    for (auto& m : f.members)
      if (m.user_id == user_id && m.role == "boss") return callfilter_view(f);
  }
  return {};
}

// A conference room as lib/conferences.lua reads it.
LuaValue conference_view(const ConfigSnapshot& s, const sdk::ConfigConference& c) {
  auto t = std::make_shared<LuaTable>();
  t->fields["id"] = c.id;
  set(*t, "name", c.name);
  set(*t, "pin", c.pin);
  set(*t, "admin_pin", c.admin_pin);
  set(*t, "music_on_hold", c.music_on_hold);
  set(*t, "preprocess_subroutine", c.preprocess_subroutine);
  t->fields["max_users"] = c.max_users;
  t->fields["announce_join_leave"] = c.announce_join_leave;
  t->fields["waiting_room"] = c.waiting_room;
  for (auto xid : c.extension_ids)
    if (auto* x = s.extension(xid); x && !x->commented) {
      t->fields["exten"] = x->exten;
      t->fields["context"] = x->context;
      break;
    }
  return t;
}

LuaValue conference_by_exten(const ConfigSnapshot& s, const std::string& exten, const std::string& context) {
  auto* x = s.extension(exten, context);
  if (!x || x->commented) return {};
  auto id = ConfigSnapshot::find(s.conference_of_extension_, x->id);
  auto* c = id ? ConfigSnapshot::find(s.conferences, *id) : nullptr;
  return c ? conference_view(s, *c) : LuaValue();
}

// The lines of the enabled `users` but `skip`, once each, as the call core
// names them ("sip/<line>"), appended to `out`.
void add_interfaces(const ConfigSnapshot& s, const std::vector<std::int64_t>& users, std::int64_t skip,
                    LuaTable& out) {
  std::vector<std::string> seen;
  for (auto uid : users) {
    const auto* u = s.user(uid);
    if (!u || !u->enabled || uid == skip) continue;
    for (auto lid : u->line_ids)
      if (const auto* l = s.line(lid); l && !l->username.empty()) {
        std::string i = "sip/" + l->username;
        if (std::find(seen.begin(), seen.end(), i) != seen.end()) continue;
        seen.push_back(i);
        out.array.emplace_back(i);
      }
  }
}

// The lines of the calls `user_id` may pick up as a group interceptor
// (seed 5.17): every target of the enabled pickup groups where the user, or
// a group the user is in, intercepts; "sip/<line>" as the call core names
// them. The interceptor's own lines are left out.
LuaValue pickup_interfaces(const ConfigSnapshot& s, std::int64_t user_id) {
  auto t = std::make_shared<LuaTable>();
  const auto* me = s.user(user_id);
  if (!me) return t;
  auto in = [](const std::vector<std::int64_t>& v, std::int64_t id) { return std::find(v.begin(), v.end(), id) != v.end(); };
  std::vector<std::int64_t> users;
  for (auto& [_, p] : s.callpickups) {
    if (!p.enabled) continue;
    bool intercepts = in(p.interceptor_user_ids, user_id);
    for (auto g : p.interceptor_group_ids) intercepts = intercepts || in(me->group_ids, g);
    if (!intercepts) continue;
    for (auto u : p.target_user_ids) users.push_back(u);
    for (auto gid : p.target_group_ids)
      if (const auto* g = s.group(gid))
        for (auto u : g->member_user_ids) users.push_back(u);
  }
  add_interfaces(s, users, user_id, *t);
  return t;
}

// A paging group as lib/paging.lua reads it: its settings, `members` (the
// lines to page, "sip/<line>") and `callers` (user ids allowed to page).
LuaValue paging_by_number(const ConfigSnapshot& s, const std::string& number) {
  auto id = ConfigSnapshot::find(s.paging_by_number_, number);
  auto* p = id ? ConfigSnapshot::find(s.pagings, *id) : nullptr;
  if (!p || !p->enabled) return {};
  auto t = std::make_shared<LuaTable>();
  t->fields["id"] = p->id;
  t->fields["number"] = p->number;
  set(*t, "name", p->name);
  set(*t, "announce_sound", p->announce_sound);
  t->fields["announce_caller"] = p->announce_caller;
  t->fields["caller_notification"] = p->caller_notification;
  t->fields["duplex"] = p->duplex;
  t->fields["ignore_forward"] = p->ignore_forward;
  t->fields["record"] = p->record;
  t->fields["timeout"] = p->timeout;
  auto members = std::make_shared<LuaTable>();
  add_interfaces(s, p->member_user_ids, 0, *members);
  t->fields["members"] = members;
  auto callers = std::make_shared<LuaTable>();
  for (auto uid : p->caller_user_ids) callers->array.emplace_back(uid);
  t->fields["callers"] = callers;
  return t;
}

// Every parking lot as lib/parking.lua reads it: {id, name, slots_start,
// slots_end, timeout, music_on_hold, timeout_destination, extensions =
// {{exten, context}}} (no extensions: the dialplan's default one).
LuaValue parkinglots(const ConfigSnapshot& s) {
  auto out = std::make_shared<LuaTable>();
  for (auto& [_, p] : s.parkinglots) {
    auto t = std::make_shared<LuaTable>();
    t->fields["id"] = p.id;
    set(*t, "name", p.name);
    t->fields["slots_start"] = p.slots_start;
    t->fields["slots_end"] = p.slots_end;
    t->fields["timeout"] = p.timeout ? *p.timeout : 0;
    set(*t, "music_on_hold", p.music_on_hold);
    if (p.timeout_destination) t->fields["timeout_destination"] = lua_from_json(*p.timeout_destination);
    auto xs = std::make_shared<LuaTable>();
    for (auto xid : p.extension_ids)
      if (auto* x = s.extension(xid); x && !x->commented) {
        auto e = std::make_shared<LuaTable>();
        e->fields["exten"] = x->exten;
        e->fields["context"] = x->context;
        xs->array.emplace_back(e);
      }
    t->fields["extensions"] = xs;
    out->array.emplace_back(t);
  }
  return out;
}

LuaValue schedule(const ConfigSnapshot& s, std::int64_t id) {
  auto* c = ConfigSnapshot::find(s.schedules, id);
  if (!c) return {};
  auto t = std::make_shared<LuaTable>();
  t->fields["id"] = c->id;
  t->fields["name"] = c->name;
  set(*t, "timezone", c->timezone);
  t->fields["enabled"] = c->enabled;
  t->fields["open_periods"] = lua_from_json(c->open_periods);
  t->fields["exceptional_periods"] = lua_from_json(c->exceptional_periods);
  t->fields["closed_destination"] = lua_from_json(c->closed_destination);
  return t;
}

// Civil date and time of `ms` (Unix milliseconds) in `zone`, or nil and why.
LuaValues localtime(const ConfigSnapshot& s, std::int64_t ms, const std::string& zone) {
  auto* z = ConfigSnapshot::find(s.zones, zone);
  if (!z)
    return {LuaValue(), "time zone '" + zone + "' is not known here (no such file under /usr/share/zoneinfo, "
                        "or no schedule names it)"};
  std::int64_t secs = (ms >= 0 ? ms / 1000 : (ms - 999) / 1000) + z->offset_at(ms / 1000);
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  std::int64_t rem = secs - days * 86400;
  // Days to civil date (H. Hinnant's algorithm).
  std::int64_t zd = days + 719468;
  std::int64_t era = (zd >= 0 ? zd : zd - 146096) / 146097;
  std::int64_t doe = zd - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  auto t = std::make_shared<LuaTable>();
  t->fields["year"] = year;
  t->fields["month"] = month;
  t->fields["day"] = day;
  t->fields["hour"] = rem / 3600;
  t->fields["min"] = rem % 3600 / 60;
  // 1970-01-01 was a Thursday; 1 is Monday as XiVO's week_days.
  t->fields["wday"] = ((days % 7 + 7) % 7 + 3) % 7 + 1;
  t->fields["offset"] = static_cast<std::int64_t>(z->offset_at(ms / 1000));
  return {LuaValue(t)};
}

LuaValue incalls(const ConfigSnapshot& s, const std::string& context) {
  auto t = std::make_shared<LuaTable>();
  for (auto& [id, i] : s.incalls)
    for (auto xid : i.extension_ids) {
      auto* x = s.extension(xid);
      if (!x || x->commented || x->context != context) continue;
      auto e = std::make_shared<LuaTable>();
      e->fields["id"] = i.id;
      e->fields["exten"] = x->exten;
      e->fields["context"] = x->context;
      e->fields["destination"] = lua_from_json(i.destination);
      set(*e, "caller_id_mode", i.caller_id_mode);
      set(*e, "caller_id_name", i.caller_id_name);
      set(*e, "preprocess_subroutine", i.preprocess_subroutine);
      if (i.schedule_id) e->fields["schedule_id"] = *i.schedule_id;
      e->fields["fax_detect"] = i.fax_detect;
      e->fields["fax_detect_timeout"] = i.fax_detect_timeout;
      set(*e, "fax_detect_email", i.fax_detect_email);
      e->fields["call_record"] = i.call_record;
      t->array.emplace_back(e);
    }
  return t;
}

// `context` and every context it includes, directly or through others
// (XiVO's include chain; each once, so a loop written in the store ends).
std::set<std::string> reachable_contexts(const ConfigSnapshot& s, const std::string& context) {
  std::set<std::string> seen{context};
  std::vector<std::string> pending{context};
  while (!pending.empty()) {
    auto name = std::move(pending.back());
    pending.pop_back();
    auto* c = ConfigSnapshot::find(s.contexts, name);
    if (!c) continue;
    for (auto& i : c->includes)
      if (seen.insert(i).second) pending.push_back(i);
  }
  return seen;
}

// The enabled routes a caller of `context` may use ("": every route): those
// attached to no context, and those attached to a context it reaches.
LuaValue outcalls(const ConfigSnapshot& s, const std::string& context) {
  std::vector<const sdk::ConfigOutcall*> list;
  std::set<std::string> reach;
  if (!context.empty()) reach = reachable_contexts(s, context);
  for (auto& [id, o] : s.outcalls) {
    if (!o.enabled) continue;
    if (!context.empty() && !o.contexts.empty() &&
        std::none_of(o.contexts.begin(), o.contexts.end(), [&](auto& c) { return reach.count(c) > 0; }))
      continue;
    list.push_back(&o);
  }
  std::stable_sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->priority < b->priority; });
  auto t = std::make_shared<LuaTable>();
  for (auto* o : list) {
    auto e = std::make_shared<LuaTable>();
    e->fields["id"] = o->id;
    e->fields["name"] = o->name;
    e->fields["priority"] = o->priority;
    e->fields["internal_caller_id"] = o->internal_caller_id;
    set(*e, "preprocess_subroutine", o->preprocess_subroutine);
    set(*e, "ring_time", o->ring_time);
    if (o->schedule_id) e->fields["schedule_id"] = *o->schedule_id;
    e->fields["patterns"] = lua_from_json(o->patterns);
    auto contexts = std::make_shared<LuaTable>();
    for (auto& c : o->contexts) contexts->array.emplace_back(c);
    e->fields["contexts"] = contexts;
    auto trunks = std::make_shared<LuaTable>();
    for (auto tid : o->trunk_ids) {
      auto* tr = s.trunk(tid);
      bool custom = tr && !tr->has_endpoint && !tr->interface.empty() && tr->custom_enabled;
      if (!tr || (!tr->has_endpoint && !custom)) continue;
      auto x = std::make_shared<LuaTable>();
      x->fields["id"] = tr->id;
      x->fields["name"] = tr->username;
      x->fields["host"] = tr->host;
      if (custom) {
        x->fields["interface"] = tr->interface;
        x->fields["interface_suffix"] = tr->interface_suffix;
      }
      set(*x, "context", tr->context);
      trunks->array.emplace_back(x);
    }
    e->fields["trunks"] = trunks;
    t->array.emplace_back(e);
  }
  return t;
}

LuaValues failure(const std::string& reason) { return {LuaValue(), reason}; }

bool valid_destination(const std::string& d) {
  return !d.empty() && d.size() <= kMaxDestination && std::all_of(d.begin(), d.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || c == '*' || c == '#' || c == '+';
         });
}

}  // namespace

sdk::Status ConfigServiceImpl::export_lua(sdk::LuaHost& lua) {
  return lua.export_module("config", config_lua_functions(weak_from_this()));
}

namespace {

// A write of the service answering the Lua caller with its boolean result,
// or nil and "<code>: <why>".
sdk::LuaReply written(std::weak_ptr<ConfigServiceImpl> weak,
                      std::function<void(ConfigServiceImpl&, std::function<void(sdk::Result<bool>)>)> write) {
  return sdk::LuaReply::async([weak, write](sdk::LuaResume resume) {
    auto self = weak.lock();
    if (!self) {
      resume(failure("the configuration service stopped"));
      return;
    }
    write(*self, [resume](sdk::Result<bool> r) {
      if (!r) {
        resume(failure(std::string(sdk::to_string(r.error().code)) + ": " + r.error().message));
        return;
      }
      resume(LuaValues{*r});
    });
  });
}

}  // namespace

namespace {
// ConfigSnapshot::feature_code of every feature that has a code in force.
LuaValue feature_codes(const ConfigSnapshot& s) {
  auto t = std::make_shared<LuaTable>();
  auto keep = [&](std::string_view feature) {
    if (auto code = s.feature_code(feature); !code.empty()) t->fields[std::string(feature)] = std::move(code);
  };
  if (!s.feature_extensions.empty())
    for (auto& [feature, _] : s.feature_extensions) keep(feature);
  else
    for (auto& d : sdk::kDefaultFeatureExtensions) keep(d.feature);
  return LuaValue(t);
}
}  // namespace

std::vector<sdk::LuaFunctionSpec> config_lua_functions(std::weak_ptr<ConfigServiceImpl> weak) {
  // The Lua states hold these functions beyond a plugin stop: a weak
  // reference, and an empty snapshot once the service is gone.
  auto snap = [weak]() -> std::shared_ptr<const ConfigSnapshot> {
    if (auto self = weak.lock()) return self->snapshot();
    return std::make_shared<const ConfigSnapshot>();
  };
  auto value = [](LuaValue v) { return sdk::LuaReply(LuaValues{std::move(v)}); };
  // config.toggle_<service>: the user's service turned over, as set_service does.
  auto toggle = [weak](std::string service) {
    return [weak, service](const LuaValues& args) {
      auto uid = arg_id(args, 0);
      if (uid == 0) return sdk::LuaReply::error("config.toggle_" + service + ": user_id must be a user id");
      return sdk::LuaReply::async([weak, uid, service](sdk::LuaResume resume) {
        auto self = weak.lock();
        if (!self) {
          resume(failure("the configuration service stopped"));
          return;
        }
        self->set_service(uid, service, std::nullopt, [resume](sdk::Result<bool> r) {
          if (!r) {
            resume(failure(r.error().message));
            return;
          }
          resume(LuaValues{*r});
        });
      });
    };
  };
  return {{"user_by_exten", "exten: string, context: string", "user: table|nil",
           "The enabled user owning extension `exten` in `context` (fields in lib/users.lua), or nil.",
           [snap, value](const LuaValues& args) {
             return value(user_by_exten(*snap(), arg_string(args, 0), arg_string(args, 1)));
           }},
          {"user", "id: integer", "user: table|nil", "The enabled user `id`, or nil.",
           [snap, value](const LuaValues& args) { return value(user_by_id(*snap(), arg_id(args, 0))); }},
          {"group_by_exten", "exten: string, context: string", "group: table|nil",
           "The enabled group owning extension `exten` in `context` (fields in lib/groups.lua), or nil.",
           [snap, value](const LuaValues& args) {
             return value(group_by_exten(*snap(), arg_string(args, 0), arg_string(args, 1)));
           }},
          {"group", "id: integer", "group: table|nil", "The enabled group `id`, or nil.",
           [snap, value](const LuaValues& args) { return value(group_by_id(*snap(), arg_id(args, 0))); }},
          {"conference_by_exten", "exten: string, context: string", "conference: table|nil",
           "The conference room owning extension `exten` in `context` (fields in lib/conferences.lua), or nil.",
           [snap, value](const LuaValues& args) {
             return value(conference_by_exten(*snap(), arg_string(args, 0), arg_string(args, 1)));
           }},
          {"conference", "id: integer", "conference: table|nil", "The conference room `id`, or nil.",
           [snap, value](const LuaValues& args) {
             auto s = snap();
             auto* c = ConfigSnapshot::find(s->conferences, arg_id(args, 0));
             return value(c ? conference_view(*s, *c) : LuaValue());
           }},
          {"paging", "number: string", "paging: table|nil",
           "The enabled paging group `number` (dialed as *11<number>; seed 5.24): {id, number, name, "
           "announce_sound, announce_caller, caller_notification, duplex, ignore_forward, record, timeout, "
           "members = {\"sip/<line>\"...}, callers = {user ids}} (lib/paging.lua), or nil.",
           [snap, value](const LuaValues& args) { return value(paging_by_number(*snap(), arg_string(args, 0))); }},
          {"ivr", "id: integer", "ivr: table|nil",
           "IVR menu `id` as confd's /1.1/ivr shows it: {id, name, greeting_sound, menu_sound, invalid_sound, "
           "abort_sound, timeout, max_tries, invalid_destination, timeout_destination, abort_destination, "
           "choices = {{exten, destination}...}} (lib/ivr.lua runs it), or nil.",
           [snap, value](const LuaValues& args) {
             auto s = snap();
             auto* j = ConfigSnapshot::find(s->ivrs, arg_id(args, 0));
             return value(j ? lua_from_json(*j) : LuaValue());
           }},
          {"feature_code", "feature: string", "code: string|nil",
           "The digits that dial XiVO feature `feature` (\"fwdunc\" -> \"*21\", \"enablednd\" -> \"*25\"; "
           "confd /1.1/extensions/features), or nil when the administrator turned it off.",
           [snap, value](const LuaValues& args) {
             auto code = snap()->feature_code(arg_string(args, 0));
             return value(code.empty() ? LuaValue() : LuaValue(code));
           }},
          {"feature_codes", "", "codes: table",
           "Every feature code in force by XiVO feature name ({fwdunc = \"*21\", enablednd = \"*25\", ...}; "
           "a feature the administrator turned off is absent): config.feature_code for all of them in "
           "one call (lib/featurecodes.lua reads it once per call).",
           [snap, value](const LuaValues&) { return value(feature_codes(*snap())); }},
          {"pickup_interfaces", "user_id: integer", "interfaces: table",
           "The lines (`\"sip/<username>\"`) whose ringing calls user `user_id` may pick up with the "
           "group pickup code: the targets (users, members of target groups) of every enabled call pickup "
           "the user intercepts in, directly or through a group (seed 5.17; lib/pickup.lua).",
           [snap, value](const LuaValues& args) { return value(pickup_interfaces(*snap(), arg_id(args, 0))); }},
          {"parkinglots", "", "lots: table",
           "Every parking lot: {{id, name, slots_start, slots_end, timeout, music_on_hold, "
           "timeout_destination, extensions = {{exten, context}}}} (seed 5.25; lib/parking.lua).",
           [snap, value](const LuaValues&) { return value(parkinglots(*snap())); }},
          {"callpermissions", "user_id: integer|string, id?: integer", "permissions: table",
           "The enabled call permissions of a user (`config.callpermissions(user_id)`) or of "
           "`config.callpermissions(kind, id)` with kind user, group, outcall or incall: {{id, name, "
           "mode=\"allow\"|\"deny\", extensions, password_protected, password}} "
           "(lib/callpermissions.lua applies them).",
           [snap, value](const LuaValues& args) {
             if (args.size() > 1 && args[0].as_string() && !arg_id(args, 0))
               return value(callpermissions(*snap(), *args[0].as_string(), arg_id(args, 1)));
             return value(callpermissions(*snap(), "user", arg_id(args, 0)));
           }},
          {"callfilter_of_boss", "user_id: integer", "filter: table|nil",
           "The enabled boss-secretary filter (seed 5.2) whose boss is `user_id`: {id, name, strategy, "
           "source, caller_id_mode, caller_id_name, surrogates_timeout, fallbacks, bosses = {{member_id, "
           "user_id, timeout, active}}, secretaries = {...} in ring order}, or nil (lib/bsfilter.lua).",
           [snap, value](const LuaValues& args) { return value(callfilter_of_boss(*snap(), arg_id(args, 0))); }},
          {"toggle_callfilter", "member_id: integer, user_id: integer", "active: boolean|nil, reason: string",
           "*37<member_id>: turns the filter member on when off and off when on, for `user_id`, a boss "
           "or secretary of the same filter; the new state, or nil and why (\"forbidden: ...\" when "
           "the user is not in the filter, \"not_found: ...\" when the member does not exist).",
           [weak](const LuaValues& args) {
             auto member = arg_id(args, 0), uid = arg_id(args, 1);
             if (member == 0) return sdk::LuaReply::error("config.toggle_callfilter: member_id must be a member id");
             if (uid == 0) return sdk::LuaReply::error("config.toggle_callfilter: user_id must be a user id");
             return written(weak, [member, uid](ConfigServiceImpl& s, auto done) {
               s.toggle_callfilter(member, uid, done);
             });
           }},
          {"toggle_voicemail", "user_id: integer", "enabled: boolean|nil, reason: string",
           "*90: turns the user's voicemail (confd's voicemail `enabled`) on when it is off and off when "
           "it is on; the new state, or nil and why (\"not_found: ...\" when the user has none).",
           [weak](const LuaValues& args) {
             auto uid = arg_id(args, 0);
             if (uid == 0) return sdk::LuaReply::error("config.toggle_voicemail: user_id must be a user id");
             return written(weak, [uid](ConfigServiceImpl& s, auto done) { s.toggle_voicemail(uid, done); });
           }},
          {"set_group_member", "group_id: integer, user_id: integer, member: boolean|nil",
           "member: boolean|nil, reason: string",
           "*51/*52/*50<group_id>: puts `user_id` in group `group_id` (member true, last in ring order), "
           "takes the user out (false) or the other way round (nil), as PUT "
           "/1.1/groups/{id}/members/users would; whether a member now, or nil and why (\"not_found: "
           "...\" for a group that does not exist).",
           [weak](const LuaValues& args) {
             auto gid = arg_id(args, 0), uid = arg_id(args, 1);
             if (gid == 0) return sdk::LuaReply::error("config.set_group_member: group_id must be a group id");
             if (uid == 0) return sdk::LuaReply::error("config.set_group_member: user_id must be a user id");
             std::optional<bool> member;
             if (args.size() > 2 && !args[2].is_nil()) {
               const bool* b = std::get_if<bool>(&args[2].v);
               if (!b) return sdk::LuaReply::error("config.set_group_member: member must be true, false or nil");
               member = *b;
             }
             return written(weak, [gid, uid, member](ConfigServiceImpl& s, auto done) {
               s.set_group_member(gid, uid, member, done);
             });
           }},
          {"schedule", "id: integer", "schedule: table|nil",
           "Schedule `id`: {id, name, timezone, enabled, open_periods, exceptional_periods, "
           "closed_destination} as confd stores them (lib/schedules.lua applies them), or nil.",
           [snap, value](const LuaValues& args) { return value(schedule(*snap(), arg_id(args, 0))); }},
          {"localtime", "ms: integer, zone?: string", "time: table|nil, reason: string",
           "Civil time of `ms` (Unix milliseconds, e.g. dialtone.now()) in time zone `zone` (nil or "
           "\"\": the server's), one a schedule names: {year, month, day, hour, min, wday (1 Monday "
           "to 7 Sunday), offset (seconds east of UTC)}; nil and why for a zone not known.",
           [snap](const LuaValues& args) {
             auto ms = args.empty() ? std::nullopt : args[0].as_int();
             if (!ms) return sdk::LuaReply::error("config.localtime: ms must be an integer");
             return sdk::LuaReply::values(localtime(*snap(), *ms, arg_string(args, 1)));
           }},
          {"incalls", "context: string", "incalls: table",
           "Incoming calls of `context`: {id, exten (DID or pattern), destination, caller_id_mode, "
           "caller_id_name, preprocess_subroutine, schedule_id, fax_detect, fax_detect_timeout, fax_detect_email, "
           "call_record}.",
           [snap, value](const LuaValues& args) { return value(incalls(*snap(), arg_string(args, 0))); }},
          {"outcalls", "context: string|nil", "outcalls: table",
           "Enabled outgoing routes a caller of `context` may use (attached to no context, or to "
           "`context` or a context it includes; nil: every route), by priority: {id, name, priority, "
           "internal_caller_id, preprocess_subroutine, ring_time, contexts, patterns, trunks = {{id, "
           "name, host, context}}}.",
           [snap, value](const LuaValues& args) { return value(outcalls(*snap(), arg_string(args, 0))); }},
          {"set_forward", "user_id: integer, kind: string, enabled: boolean, destination: string|nil",
           "forward: table|nil, reason: string",
           "Sets the user's forward `kind` (unconditional, busy, noanswer; `all` with enabled=false "
           "turns the three off) and, when given, its destination; returns {enabled, destination} "
           "as saved. Saved as PUT /1.1/users/{id}/forwards does (same checks, event and notify).",
           [weak](const LuaValues& args) {
             auto uid = arg_id(args, 0);
             std::string kind = args.size() > 1 && args[1].as_string() ? *args[1].as_string() : "";
             const bool* flag = args.size() > 2 ? std::get_if<bool>(&args[2].v) : nullptr;
             std::optional<std::string> destination;
             if (args.size() > 3 && !args[3].is_nil()) {
               auto* s = args[3].as_string();
               if (!s || !valid_destination(*s))
                 return sdk::LuaReply::error(
                     "config.set_forward: destination must be a number (digits, *, #, +; at most 128)");
               destination = *s;
             }
             if (uid == 0) return sdk::LuaReply::error("config.set_forward: user_id must be a user id");
             if (!flag) return sdk::LuaReply::error("config.set_forward: enabled must be true or false");
             bool enabled = *flag;
             if (kind == "all" && (enabled || destination))
               return sdk::LuaReply::error(
                   "config.set_forward: kind 'all' only turns forwards off (enabled=false, no destination)");
             if (kind != "all" && kind != "unconditional" && kind != "busy" && kind != "noanswer")
               return sdk::LuaReply::error("config.set_forward: kind '" + kind +
                                           "' is not unconditional, busy, noanswer or all");
             return sdk::LuaReply::async([weak, uid, kind, enabled, destination](sdk::LuaResume resume) {
               auto self = weak.lock();
               if (!self) {
                 resume(failure("the configuration service stopped"));
                 return;
               }
               self->set_forward(uid, kind, enabled, destination, [resume](sdk::Result<sdk::ConfigForward> r) {
                 if (!r) {
                   resume(failure(r.error().message));
                   return;
                 }
                 auto t = std::make_shared<LuaTable>();
                 t->fields["enabled"] = r->enabled;
                 t->fields["destination"] = r->destination.value_or("");
                 resume(LuaValues{t});
               });
             });
           }},
          {"toggle_dnd", "user_id: integer", "enabled: boolean|nil, reason: string",
           "Turns the user's do-not-disturb on when it is off and off when it is on; returns the "
           "new state. Saved as PUT /1.1/users/{id}/services/dnd does.",
           toggle("dnd")},
          {"toggle_incallfilter", "user_id: integer", "enabled: boolean|nil, reason: string",
           "Turns the user's incoming call filtering (call screening, *27) on when it is off and "
           "off when it is on; returns the new state. Saved as PUT "
           "/1.1/users/{id}/services/incallfilter does.",
           toggle("incallfilter")},
          {"toggle_callrecord", "user_id: integer", "enabled: boolean|nil, reason: string",
           "Turns the recording of all the user's calls (call_record_enabled, *26) on when it is off "
           "and off when it is on; returns the new state. Saved as PUT /1.1/users/{id} with "
           "call_record_enabled does, with the same notification.",
           toggle("callrecord")}};
}

}  // namespace dialtone::plugins::api::confd
