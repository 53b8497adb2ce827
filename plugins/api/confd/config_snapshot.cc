#include "plugins/api/confd/config_snapshot.h"

#include "plugins/api/confd/timezones.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdlib>
#include <type_traits>
#include <unordered_map>

namespace dialtone::plugins::api::confd {
namespace {

using Row = std::vector<std::optional<std::string>>;

std::int64_t num(const Row& r, std::size_t i) { return r[i] ? std::atoll(r[i]->c_str()) : 0; }
std::string text(const Row& r, std::size_t i) { return r[i] ? *r[i] : std::string(); }
std::optional<std::string> opt(const Row& r, std::size_t i) { return r[i]; }
bool flag(const Row& r, std::size_t i) { return r[i] && *r[i] == "t"; }
std::optional<int> opt_int(const Row& r, std::size_t i) {
  if (!r[i]) return std::nullopt;
  return std::atoi(r[i]->c_str());
}

// The value `key` names in `owners`, or null when there is none.
template <class Map, class Key>
auto* find_in(Map& owners, const Key& key) {
  auto it = owners.find(key);
  return it == owners.end() ? nullptr : &it->second;
}

std::vector<std::string> string_list(const std::string& json) {
  std::vector<std::string> out;
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsArray()) return out;
  for (auto& v : d.GetArray())
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  return out;
}

// Each query is one table (or one link table) in a fixed column order.
constexpr const char* kUsers =
    "SELECT id, uuid, firstname, lastname, mobile_phone_number, outgoing_caller_id, enabled, "
    "simultaneous_calls, ring_seconds, forward_busy_enabled, forward_busy_destination, "
    "forward_noanswer_enabled, forward_noanswer_destination, forward_unconditional_enabled, "
    "forward_unconditional_destination, service_dnd_enabled, service_incallfilter_enabled, "
    "call_permission_password, fallbacks::text, music_on_hold, userfield, call_record_enabled, language, "
    "online_call_record_enabled, email, (SELECT v.email FROM confd_user_voicemails uv JOIN confd_voicemails v "
    "ON v.id = uv.voicemail_id WHERE uv.user_id = confd_users.id AND v.enabled) FROM confd_users";
constexpr const char* kFeatureExtensions = "SELECT id, feature, exten, enabled FROM confd_feature_extensions";
constexpr const char* kIvrs = "SELECT id, to_jsonb(t)::text FROM confd_ivr t";
constexpr const char* kMoh = "SELECT name, coalesce(sort, 'alphabetical') FROM confd_moh";
constexpr const char* kLines =
    "SELECT l.id, l.context, l.position, l.caller_id_name, l.caller_id_num, l.device_id, "
    "l.provisioning_code, e.username, e.secret, e.host, e.options::text "
    "FROM confd_lines l LEFT JOIN confd_endpoints_sip e ON e.id = l.endpoint_sip_id";
constexpr const char* kUserLines = "SELECT user_id, line_id, main_user, main_line FROM confd_user_lines";
constexpr const char* kExtensions = "SELECT id, exten, context, commented FROM confd_extensions";
constexpr const char* kLineExtensions = "SELECT line_id, extension_id FROM confd_line_extensions ORDER BY extension_id";
constexpr const char* kContexts = "SELECT id, name, type, enabled FROM confd_contexts";
constexpr const char* kIncalls =
    "SELECT id, destination::text, caller_id_mode, caller_id_name, preprocess_subroutine, fax_detect_enabled, "
    "fax_detect_timeout, fax_detect_email, call_record_enabled FROM confd_incalls";
constexpr const char* kIncallExtensions =
    "SELECT incall_id, extension_id FROM confd_incall_extensions ORDER BY extension_id";
constexpr const char* kTrunks =
    "SELECT t.id, t.context, e.username, e.secret, e.host, e.options::text, e.id IS NOT NULL, "
    "c.interface, c.interface_suffix, coalesce(c.enabled, false) "
    "FROM confd_trunks t LEFT JOIN confd_endpoints_sip e ON e.id = t.endpoint_sip_id "
    "LEFT JOIN confd_endpoints_custom c ON c.id = t.endpoint_custom_id";
constexpr const char* kOutcalls =
    "SELECT id, name, priority, internal_caller_id, enabled, preprocess_subroutine, ring_time, "
    "patterns::text FROM confd_outcalls";
constexpr const char* kContextIncludes =
    "SELECT c.name, i.name FROM confd_context_includes x JOIN confd_contexts c ON c.id = x.context_id "
    "JOIN confd_contexts i ON i.id = x.included_id ORDER BY x.context_id, x.position";
constexpr const char* kOutcallContexts =
    "SELECT x.outcall_id, c.name FROM confd_outcall_contexts x JOIN confd_contexts c ON c.id = x.context_id "
    "ORDER BY x.outcall_id, c.name";
constexpr const char* kOutcallTrunks =
    "SELECT outcall_id, trunk_id FROM confd_outcall_trunks ORDER BY outcall_id, position";
constexpr const char* kGroups =
    "SELECT id, name, ring_strategy, label, preprocess_subroutine, timeout, enabled, user_timeout, retry_delay, "
    "ring_in_use, music_on_hold, fallbacks::text, call_record_enabled FROM confd_groups";
constexpr const char* kGroupMembers =
    "SELECT group_id, user_id, penalty FROM confd_group_members ORDER BY group_id, position, user_id";
constexpr const char* kGroupExtensions =
    "SELECT group_id, extension_id FROM confd_group_extensions ORDER BY extension_id";
constexpr const char* kConferences =
    "SELECT id, name, pin, admin_pin, music_on_hold, preprocess_subroutine, max_users, announce_join_leave, "
    "waiting_room FROM confd_conferences";
constexpr const char* kConferenceExtensions =
    "SELECT conference_id, extension_id FROM confd_conference_extensions ORDER BY extension_id";
constexpr const char* kCallPickups = "SELECT id, name, enabled FROM confd_callpickups";
// (callpickup, category, 'user'|'group', member id).
constexpr const char* kCallPickupMembers =
    "SELECT callpickup_id, category, 'user', user_id FROM confd_callpickup_users UNION ALL "
    "SELECT callpickup_id, category, 'group', group_id FROM confd_callpickup_groups ORDER BY 1, 4";
constexpr const char* kParkingLots =
    "SELECT id, name, slots_start, slots_end, timeout, music_on_hold, timeout_destination::text FROM confd_parkinglots";
constexpr const char* kParkingLotExtensions =
    "SELECT parkinglot_id, extension_id FROM confd_parkinglot_extensions ORDER BY extension_id";
constexpr const char* kPagings =
    "SELECT id, number, name, announce_caller, announce_sound, caller_notification, duplex, ignore_forward, record, "
    "timeout, enabled FROM confd_pagings";
constexpr const char* kPagingUsers = "SELECT paging_id, user_id, caller FROM confd_paging_users ORDER BY 1, 2";
constexpr const char* kCallPermissions =
    "SELECT id, name, mode, extensions::text, coalesce(password, '') <> '', enabled, password FROM confd_callpermissions";
constexpr const char* kUserCallPermissions =
    "SELECT user_id, callpermission_id FROM confd_user_callpermissions ORDER BY callpermission_id";
constexpr const char* kCallFilters =
    "SELECT id, name, strategy, source, caller_id_mode, caller_id_name, surrogates_timeout, enabled, fallbacks::text "
    "FROM confd_callfilters";
constexpr const char* kCallFilterMembers =
    "SELECT id, callfilter_id, user_id, role, timeout, active FROM confd_callfilter_members "
    "ORDER BY callfilter_id, position, id";
constexpr const char* kSchedules =
    "SELECT id, name, timezone, enabled, open_periods::text, exceptional_periods::text, closed_destination::text "
    "FROM confd_schedules";
// (kind, owner id, schedule id) of every schedule attachment.
constexpr const char* kScheduleLinks =
    "SELECT 'user', user_id, schedule_id FROM confd_user_schedules UNION ALL "
    "SELECT 'group', group_id, schedule_id FROM confd_group_schedules UNION ALL "
    "SELECT 'incall', incall_id, schedule_id FROM confd_incall_schedules UNION ALL "
    "SELECT 'outcall', outcall_id, schedule_id FROM confd_outcall_schedules";
constexpr const char* kOtherCallPermissions =
    "SELECT * FROM (SELECT 'group' AS k, group_id AS o, callpermission_id AS c FROM confd_group_callpermissions "
    "UNION ALL SELECT 'outcall', outcall_id, callpermission_id FROM confd_outcall_callpermissions "
    "UNION ALL SELECT 'incall', incall_id, callpermission_id FROM confd_incall_callpermissions) l ORDER BY c";

}  // namespace

sdk::Result<std::shared_ptr<sdk::ConfigSnapshot>> load_snapshot(sdk::Store& store, std::uint64_t version) {
  auto s = std::make_shared<sdk::ConfigSnapshot>();
  s->version = version;
  auto st = store.transaction([&](sdk::Transaction& tx) -> sdk::Status {
    if (auto r = tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) return r.error();
    auto each = [&](const char* sql, const std::function<void(const Row&)>& f) -> sdk::Status {
      auto r = tx.exec(sql);
      if (!r) return r.error();
      for (auto& row : r->rows) f(row);
      return {};
    };
    // A table whose column `key` names an owner read before (its id, or a
    // context's name): `f` gets the owner and the row; rows whose owner is
    // gone are skipped.
    auto each_owned = [&](const char* sql, auto& owners, std::size_t key, auto f) {
      return each(sql, [&](const Row& r) {
        using Key = typename std::decay_t<decltype(owners)>::key_type;
        auto k = [&]() -> Key {
          if constexpr (std::is_same_v<Key, std::string>) return text(r, key);
          else return num(r, key);
        }();
        if (auto* o = find_in(owners, k)) f(*o, r);
      });
    };
    // An (owner id, extension id) link table: the owner lists its extensions
    // and the extension points back at its one owner.
    auto owned_extensions = [&](const char* sql, auto& owners,
                                std::unordered_map<std::int64_t, std::int64_t>& owner_of) {
      return each_owned(sql, owners, 0, [&](auto& o, const Row& r) {
        o.extension_ids.push_back(num(r, 1));
        owner_of[num(r, 1)] = o.id;
      });
    };
    std::vector<std::function<sdk::Status()>> steps = {
        [&] {
          return each(kUsers, [&](const Row& r) {
            sdk::ConfigUser u;
            u.id = num(r, 0);
            u.uuid = text(r, 1);
            u.firstname = text(r, 2);
            u.lastname = opt(r, 3);
            u.mobile_phone_number = opt(r, 4);
            u.outgoing_caller_id = opt(r, 5);
            u.enabled = flag(r, 6);
            u.simultaneous_calls = static_cast<int>(num(r, 7));
            u.ring_seconds = static_cast<int>(num(r, 8));
            u.forward_busy = {flag(r, 9), opt(r, 10)};
            u.forward_noanswer = {flag(r, 11), opt(r, 12)};
            u.forward_unconditional = {flag(r, 13), opt(r, 14)};
            u.dnd = flag(r, 15);
            u.incallfilter = flag(r, 16);
            u.call_permission_password = opt(r, 17);
            if (r[18]) u.fallbacks = *r[18];
            u.music_on_hold = opt(r, 19);
            u.userfield = opt(r, 20);
            u.call_record = flag(r, 21);
            u.language = opt(r, 22);
            u.online_call_record = flag(r, 23);
            u.email = opt(r, 24);
            u.voicemail_email = opt(r, 25);
            s->users.emplace(u.id, std::move(u));
          });
        },
        [&] { return each(kMoh, [&](const Row& r) { s->moh_sort[text(r, 0)] = text(r, 1); }); },
        [&] { return each(kIvrs, [&](const Row& r) { s->ivrs[num(r, 0)] = text(r, 1); }); },
        [&] {
          return each(kFeatureExtensions, [&](const Row& r) {
            s->feature_extensions[text(r, 1)] = {num(r, 0), text(r, 1), text(r, 2), flag(r, 3)};
          });
        },
        [&] {
          return each(kLines, [&](const Row& r) {
            sdk::ConfigLine l;
            l.id = num(r, 0);
            l.context = text(r, 1);
            l.position = static_cast<int>(num(r, 2));
            l.caller_id_name = opt(r, 3);
            l.caller_id_num = opt(r, 4);
            l.device_id = opt(r, 5);
            l.provisioning_code = text(r, 6);
            l.username = text(r, 7);
            l.secret = text(r, 8);
            l.host = text(r, 9);
            if (r[10]) l.endpoint_options = *r[10];
            if (!l.username.empty()) s->line_by_username_[l.username] = l.id;
            s->lines.emplace(l.id, std::move(l));
          });
        },
        [&] {
          // Main user first on each line; per user, line order is fixed below.
          std::vector<std::tuple<std::int64_t, std::int64_t, bool, bool>> links;
          auto st = each(kUserLines, [&](const Row& r) {
            links.emplace_back(num(r, 0), num(r, 1), flag(r, 2), flag(r, 3));
          });
          std::stable_sort(links.begin(), links.end(),
                           [](auto& a, auto& b) { return std::get<2>(a) > std::get<2>(b); });
          for (auto& [uid, lid, main_user, main_line] : links) {
            auto l = s->lines.find(lid);
            auto u = s->users.find(uid);
            if (l == s->lines.end() || u == s->users.end()) continue;
            l->second.user_ids.push_back(uid);
            if (main_user) l->second.main_user_id = uid;
            u->second.line_ids.push_back(lid);
            if (main_line) u->second.main_line_id = lid;
          }
          return st;
        },
        [&] {
          return each(kExtensions, [&](const Row& r) {
            sdk::ConfigExtension x{num(r, 0), text(r, 1), text(r, 2), flag(r, 3)};
            s->extension_by_key_[x.exten + "@" + x.context] = x.id;
            s->extensions.emplace(x.id, std::move(x));
          });
        },
        [&] {
          return each_owned(kLineExtensions, s->lines, 0, [&](sdk::ConfigLine& l, const Row& r) {
            l.extension_ids.push_back(num(r, 1));
            s->lines_of_extension_[num(r, 1)].push_back(l.id);
          });
        },
        [&] {
          return each(kContexts, [&](const Row& r) {
            sdk::ConfigContext c{num(r, 0), text(r, 1), text(r, 2), flag(r, 3), {}};
            s->contexts.emplace(c.name, std::move(c));
          });
        },
        [&] {
          return each(kIncalls, [&](const Row& r) {
            sdk::ConfigIncall i;
            i.id = num(r, 0);
            if (r[1]) i.destination = *r[1];
            i.caller_id_mode = opt(r, 2);
            i.caller_id_name = opt(r, 3);
            i.preprocess_subroutine = opt(r, 4);
            i.fax_detect = flag(r, 5);
            i.fax_detect_timeout = static_cast<int>(num(r, 6));
            i.fax_detect_email = opt(r, 7);
            i.call_record = flag(r, 8);
            s->incalls.emplace(i.id, std::move(i));
          });
        },
        [&] { return owned_extensions(kIncallExtensions, s->incalls, s->incall_of_extension_); },
        [&] {
          return each(kTrunks, [&](const Row& r) {
            sdk::ConfigTrunk t;
            t.id = num(r, 0);
            t.context = opt(r, 1);
            t.username = text(r, 2);
            t.secret = text(r, 3);
            t.host = text(r, 4);
            if (r[5]) t.endpoint_options = *r[5];
            t.has_endpoint = flag(r, 6);
            t.interface = text(r, 7);
            t.interface_suffix = text(r, 8);
            t.custom_enabled = flag(r, 9);
            s->trunks.emplace(t.id, std::move(t));
          });
        },
        [&] {
          return each(kOutcalls, [&](const Row& r) {
            sdk::ConfigOutcall o;
            o.id = num(r, 0);
            o.name = text(r, 1);
            o.priority = static_cast<int>(num(r, 2));
            o.internal_caller_id = flag(r, 3);
            o.enabled = flag(r, 4);
            o.preprocess_subroutine = opt(r, 5);
            o.ring_time = opt_int(r, 6);
            if (r[7]) o.patterns = *r[7];
            s->outcalls.emplace(o.id, std::move(o));
          });
        },
        [&] {
          return each_owned(kContextIncludes, s->contexts, 0,
                            [&](sdk::ConfigContext& c, const Row& r) { c.includes.push_back(text(r, 1)); });
        },
        [&] {
          return each_owned(kOutcallContexts, s->outcalls, 0,
                            [&](sdk::ConfigOutcall& o, const Row& r) { o.contexts.push_back(text(r, 1)); });
        },
        [&] {
          return each_owned(kOutcallTrunks, s->outcalls, 0,
                            [&](sdk::ConfigOutcall& o, const Row& r) { o.trunk_ids.push_back(num(r, 1)); });
        },
        [&] {
          return each(kGroups, [&](const Row& r) {
            sdk::ConfigGroup g;
            g.id = num(r, 0);
            g.name = text(r, 1);
            g.ring_strategy = text(r, 2);
            g.label = opt(r, 3);
            g.preprocess_subroutine = opt(r, 4);
            g.timeout = opt_int(r, 5);
            g.enabled = flag(r, 6);
            g.user_timeout = opt_int(r, 7);
            g.retry_delay = static_cast<int>(num(r, 8));
            g.ring_in_use = flag(r, 9);
            g.music_on_hold = opt(r, 10);
            if (r[11]) g.fallbacks = *r[11];
            g.call_record = flag(r, 12);
            s->groups.emplace(g.id, std::move(g));
          });
        },
        [&] {
          return each_owned(kGroupMembers, s->groups, 0, [&](sdk::ConfigGroup& g, const Row& r) {
            g.member_user_ids.push_back(num(r, 1));
            g.member_penalties.push_back(static_cast<int>(num(r, 2)));
            if (auto* u = find_in(s->users, num(r, 1))) u->group_ids.push_back(g.id);
          });
        },
        [&] { return owned_extensions(kGroupExtensions, s->groups, s->group_of_extension_); },
        [&] {
          return each(kConferences, [&](const Row& r) {
            sdk::ConfigConference c;
            c.id = num(r, 0);
            c.name = opt(r, 1);
            c.pin = opt(r, 2);
            c.admin_pin = opt(r, 3);
            c.music_on_hold = opt(r, 4);
            c.preprocess_subroutine = opt(r, 5);
            c.max_users = static_cast<int>(num(r, 6));
            c.announce_join_leave = flag(r, 7);
            c.waiting_room = flag(r, 8);
            s->conferences.emplace(c.id, std::move(c));
          });
        },
        [&] {
          return each(kCallPickups, [&](const Row& r) {
            sdk::ConfigCallPickup p;
            p.id = num(r, 0);
            p.name = text(r, 1);
            p.enabled = flag(r, 2);
            s->callpickups.emplace(p.id, std::move(p));
          });
        },
        [&] {
          return each_owned(kCallPickupMembers, s->callpickups, 0, [&](sdk::ConfigCallPickup& p, const Row& r) {
            bool interceptor = text(r, 1) == "interceptor", user = text(r, 2) == "user";
            auto& list = interceptor ? (user ? p.interceptor_user_ids : p.interceptor_group_ids)
                                     : (user ? p.target_user_ids : p.target_group_ids);
            list.push_back(num(r, 3));
          });
        },
        [&] {
          return each(kParkingLots, [&](const Row& r) {
            sdk::ConfigParkingLot p;
            p.id = num(r, 0);
            p.name = opt(r, 1);
            p.slots_start = text(r, 2);
            p.slots_end = text(r, 3);
            p.timeout = opt_int(r, 4);
            p.music_on_hold = opt(r, 5);
            p.timeout_destination = opt(r, 6);
            s->parkinglots.emplace(p.id, std::move(p));
          });
        },
        [&] {
          return each(kPagings, [&](const Row& r) {
            sdk::ConfigPaging p;
            p.id = num(r, 0);
            p.number = text(r, 1);
            p.name = opt(r, 2);
            p.announce_caller = flag(r, 3);
            p.announce_sound = opt(r, 4);
            p.caller_notification = flag(r, 5);
            p.duplex = flag(r, 6);
            p.ignore_forward = flag(r, 7);
            p.record = flag(r, 8);
            p.timeout = static_cast<int>(num(r, 9));
            p.enabled = flag(r, 10);
            s->paging_by_number_[p.number] = p.id;
            s->pagings.emplace(p.id, std::move(p));
          });
        },
        [&] {
          return each_owned(kPagingUsers, s->pagings, 0, [&](sdk::ConfigPaging& p, const Row& r) {
            (flag(r, 2) ? p.caller_user_ids : p.member_user_ids).push_back(num(r, 1));
          });
        },
        [&] { return owned_extensions(kParkingLotExtensions, s->parkinglots, s->parkinglot_of_extension_); },
        [&] { return owned_extensions(kConferenceExtensions, s->conferences, s->conference_of_extension_); },
        [&] {
          return each(kCallPermissions, [&](const Row& r) {
            sdk::ConfigCallPermission c;
            c.id = num(r, 0);
            c.name = text(r, 1);
            c.mode = text(r, 2);
            c.extensions = string_list(text(r, 3));
            c.password_protected = flag(r, 4);
            c.enabled = flag(r, 5);
            c.password = opt(r, 6);
            s->callpermissions.emplace(c.id, std::move(c));
          });
        },
        [&] {
          return each_owned(kUserCallPermissions, s->users, 0,
                            [&](sdk::ConfigUser& u, const Row& r) { u.callpermission_ids.push_back(num(r, 1)); });
        },
        [&] {
          return each(kCallFilters, [&](const Row& r) {
            sdk::ConfigCallFilter f;
            f.id = num(r, 0);
            f.name = text(r, 1);
            f.strategy = text(r, 2);
            f.source = text(r, 3);
            f.caller_id_mode = opt(r, 4);
            f.caller_id_name = opt(r, 5);
            f.surrogates_timeout = opt_int(r, 6);
            f.enabled = flag(r, 7);
            if (r[8]) f.fallbacks = *r[8];
            s->callfilters.emplace(f.id, std::move(f));
          });
        },
        [&] {
          return each_owned(kCallFilterMembers, s->callfilters, 1, [&](sdk::ConfigCallFilter& f, const Row& r) {
            f.members.push_back({num(r, 0), num(r, 2), text(r, 3), opt_int(r, 4), flag(r, 5)});
          });
        },
        [&] {
          return each(kSchedules, [&](const Row& r) {
            sdk::ConfigSchedule c;
            c.id = num(r, 0);
            c.name = text(r, 1);
            c.timezone = opt(r, 2);
            c.enabled = flag(r, 3);
            if (r[4]) c.open_periods = *r[4];
            if (r[5]) c.exceptional_periods = *r[5];
            if (r[6]) c.closed_destination = *r[6];
            s->schedules.emplace(c.id, std::move(c));
          });
        },
        [&] {
          return each(kScheduleLinks, [&](const Row& r) {
            auto attach = [&](auto& owners) {
              if (auto* o = find_in(owners, num(r, 1))) o->schedule_id = num(r, 2);
            };
            std::string kind = text(r, 0);
            if (kind == "user") attach(s->users);
            else if (kind == "group") attach(s->groups);
            else if (kind == "incall") attach(s->incalls);
            else attach(s->outcalls);
          });
        },
        [&] {
          return each(kOtherCallPermissions, [&](const Row& r) {
            auto attach = [&](auto& owners) {
              if (auto* o = find_in(owners, num(r, 1))) o->callpermission_ids.push_back(num(r, 2));
            };
            std::string kind = text(r, 0);
            if (kind == "group") attach(s->groups);
            else if (kind == "incall") attach(s->incalls);
            else attach(s->outcalls);
          });
        },
    };
    for (auto& step : steps)
      if (auto st = step(); !st) return st;
    return {};
  });
  if (!st) return st.error();
  // The files are read here, on the executor, never when a call asks.
  for (auto& [id, sc] : s->schedules) {
    std::string zone = sc.timezone.value_or("");
    if (s->zones.count(zone)) continue;
    if (auto z = read_zone(zone)) s->zones.emplace(zone, std::move(*z));
    // Without /etc/localtime the server's clock is UTC (an empty zone).
    else if (zone.empty()) s->zones.emplace(zone, sdk::ConfigZone{});
  }
  // A user's lines: main line first, then by position and id (the order
  // phones are rung in).
  for (auto& [id, u] : s->users)
    std::sort(u.line_ids.begin(), u.line_ids.end(), [&](std::int64_t a, std::int64_t b) {
      auto& la = s->lines.at(a);
      auto& lb = s->lines.at(b);
      bool ma = u.main_line_id == a, mb = u.main_line_id == b;
      if (ma != mb) return ma;
      if (la.position != lb.position) return la.position < lb.position;
      return a < b;
    });
  for (auto& [ext, lines] : s->lines_of_extension_)
    std::stable_sort(lines.begin(), lines.end(), [&](std::int64_t a, std::int64_t b) {
      return s->lines.at(a).position < s->lines.at(b).position;
    });
  return s;
}

}  // namespace dialtone::plugins::api::confd
