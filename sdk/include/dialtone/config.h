// The PBX configuration (users, lines, extensions, routes, trunks, groups...)
// as an immutable in-memory snapshot, and the writes the call path may make.
//
// @code
//   auto config = host_.services().find<dialtone::sdk::ConfigService>();   // api.confd provides it
//   auto snap = config->snapshot();            // any thread, never waits: one atomic load
//   if (auto* line = snap->line_by_username("1001"))
//     use(line->secret, line->context);
//   // Told after each new snapshot is published (on the service's thread):
//   auto watch = config->watch([this](const dialtone::sdk::ConfigSnapshot& s) { forget_cache(s.version); });
//   // Same validation, NOTIFY and bus event as PUT /1.1/users/{id}/forwards/busy:
//   config->set_forward(42, "busy", true, "1002", [](dialtone::sdk::Result<dialtone::sdk::ConfigForward> r) {});
// @endcode
//
// Threads: snapshot() may be called from any thread, including the SIP and
// dialplan threads: it never touches PostgreSQL. A snapshot is shared and
// never changes; keep the shared_ptr for as long as you read from it (a
// whole call, say) and you see one consistent configuration. Writes run on
// the executor and call `done` there, after the new snapshot that holds
// them is published.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dialtone/result.h"

namespace dialtone::sdk {

struct ConfigForward {
  bool enabled = false;
  std::optional<std::string> destination;
};

struct ConfigUser {
  std::int64_t id = 0;
  std::string uuid, firstname;
  std::optional<std::string> lastname, mobile_phone_number, outgoing_caller_id;
  bool enabled = true;
  int simultaneous_calls = 5;
  int ring_seconds = 30;
  ConfigForward forward_busy, forward_noanswer, forward_unconditional;
  bool dnd = false, incallfilter = false;
  std::vector<std::int64_t> line_ids;            // main line first, then position, id
  std::optional<std::int64_t> main_line_id;
  std::vector<std::int64_t> callpermission_ids;  // by id
  std::optional<std::int64_t> schedule_id;
  std::optional<std::string> call_permission_password;  // XiVO's rightcall code
  std::string fallbacks = "{}";  // JSON object of destinations, as confd stores it
  std::vector<std::int64_t> group_ids;  // groups the user is a member of, by id
  std::optional<std::string> music_on_hold;  // the class its held parties hear
  std::optional<std::string> userfield;      // XiVO's free "user field" (CEL userfield of its outgoing calls)
  bool call_record = false;  // every call to or from the user is recorded (XiVO's *26)
  std::optional<std::string> language;  // prompt language ("fr_FR"); nil: the engine's
  bool online_call_record = false;  // may record a call in progress with *3 (XiVO's online call recording)
  std::optional<std::string> email;  // the user's own address (confd's email)
  // The address of the user's voicemail, when it has one with an address
  // (XiVO's XIVO_USEREMAIL: where a fax detected on a call to it is mailed).
  std::optional<std::string> voicemail_email;
};

// A line with its SIP endpoint (username empty when it has none yet).
struct ConfigLine {
  std::int64_t id = 0;
  std::string context;
  int position = 1;
  std::optional<std::string> caller_id_name, caller_id_num, device_id;
  std::string provisioning_code;
  std::optional<std::int64_t> main_user_id;
  std::vector<std::int64_t> user_ids;       // main user first
  std::vector<std::int64_t> extension_ids;  // by id
  std::string username, secret, host;
  std::string endpoint_options = "[]";      // the endpoint's options, JSON [[name, value], ...]
};

struct ConfigExtension {
  std::int64_t id = 0;
  std::string exten, context;
  bool commented = false;
};

struct ConfigContext {
  std::int64_t id = 0;
  std::string name, type;
  bool enabled = true;
  std::vector<std::string> includes;  // names of the contexts it includes, in order
};

struct ConfigIncall {
  std::int64_t id = 0;
  std::vector<std::int64_t> extension_ids;
  std::string destination = "{\"type\":\"none\"}";  // JSON object, as confd stores it
  std::optional<std::string> caller_id_mode, caller_id_name, preprocess_subroutine;
  std::optional<std::int64_t> schedule_id;
  std::vector<std::int64_t> callpermission_ids;
  // Fax detection (XiVO's faxdetectenable, faxdetecttimeout, faxdetectemail).
  bool fax_detect = false;
  int fax_detect_timeout = 4;
  std::optional<std::string> fax_detect_email;
  bool call_record = false;  // the calls it takes are recorded
};

struct ConfigTrunk {
  std::int64_t id = 0;
  std::optional<std::string> context;
  std::string username, secret, host;  // of its SIP endpoint; empty when it has none
  std::string endpoint_options = "[]";
  bool has_endpoint = false;            // a SIP endpoint
  // Its custom endpoint (XiVO's customized trunk): dialed as
  // <interface>/<number><interface_suffix>, e.g. dahdi/g1; empty when none.
  std::string interface, interface_suffix;
  bool custom_enabled = false;
};

struct ConfigOutcall {
  std::int64_t id = 0;
  std::string name;
  int priority = 5;
  bool internal_caller_id = false, enabled = true;
  std::optional<std::string> preprocess_subroutine;
  std::optional<int> ring_time;
  std::string patterns = "[]";             // JSON list, as confd stores it
  std::vector<std::int64_t> trunk_ids;     // in position order
  std::optional<std::int64_t> schedule_id;
  std::vector<std::int64_t> callpermission_ids;
  std::vector<std::string> contexts;  // attached to these contexts; empty: every context
};

struct ConfigGroup {
  std::int64_t id = 0;
  std::string name, ring_strategy;
  std::optional<std::string> label, preprocess_subroutine;
  std::optional<int> timeout;
  std::optional<int> user_timeout = 15;  // one member's ring time; nil: the group's
  int retry_delay = 5;                   // seconds between two rounds (or members)
  bool ring_in_use = true;               // ring members already in a call
  std::optional<std::string> music_on_hold;
  bool enabled = true;
  std::vector<std::int64_t> member_user_ids;  // in position order
  std::vector<int> member_penalties;          // one per member id
  std::vector<std::int64_t> extension_ids;
  std::optional<std::int64_t> schedule_id;
  std::vector<std::int64_t> callpermission_ids;
  std::string fallbacks = "{}";
  bool call_record = false;  // the calls it takes are recorded
};

// A conference room (seed 5.7).
struct ConfigConference {
  std::int64_t id = 0;
  std::optional<std::string> name, pin, admin_pin, music_on_hold, preprocess_subroutine;
  int max_users = 0;  // 0: no limit
  bool announce_join_leave = true;
  bool waiting_room = false;  // non-organizers wait for an organizer
  std::vector<std::int64_t> extension_ids;
};

// A call pickup group (seed 5.17): interceptors may take the calls ringing
// on the targets' lines (users, and the members of the groups named).
struct ConfigCallPickup {
  std::int64_t id = 0;
  std::string name;
  bool enabled = true;
  std::vector<std::int64_t> interceptor_user_ids, interceptor_group_ids;
  std::vector<std::int64_t> target_user_ids, target_group_ids;
};

// A parking lot (seed 5.25): calls parked on its extension wait in slots
// slots_start..slots_end of the same context.
struct ConfigParkingLot {
  std::int64_t id = 0;
  std::optional<std::string> name, music_on_hold;
  std::string slots_start, slots_end;
  std::optional<int> timeout = 45;  // seconds; nil: none
  std::optional<std::string> timeout_destination;  // JSON destination; nil: back to the parker
  std::vector<std::int64_t> extension_ids;
};

// A paging group (seed 5.24): dialing *11<number> makes the members' phones
// answer on their own and hear the caller (one way unless `duplex`).
struct ConfigPaging {
  std::int64_t id = 0;
  std::string number;
  std::optional<std::string> name, announce_sound;
  bool announce_caller = true;      // the caller hears the announcement too
  bool caller_notification = true;  // a beep tells the caller to speak (XiVO: not "quiet")
  bool duplex = false, ignore_forward = false, record = false, enabled = true;
  int timeout = 30;                 // seconds the members' phones are given to answer
  std::vector<std::int64_t> member_user_ids, caller_user_ids;  // by id
};

struct ConfigCallPermission {
  std::int64_t id = 0;
  std::string name, mode;
  std::vector<std::string> extensions;
  bool password_protected = false, enabled = true;
  std::optional<std::string> password;
};

// One consistent view of the configuration, read in one transaction.
struct ConfigSchedule {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::string> timezone;  // IANA name; nil: the server's zone
  bool enabled = true;
  std::string open_periods = "[]", exceptional_periods = "[]";  // JSON, as confd stores them
  std::string closed_destination = "{\"type\":\"none\"}";
};

// A boss-secretary filter (seed 5.2). Member ids are what *37<id> toggles.
struct ConfigCallFilterMember {
  std::int64_t id = 0, user_id = 0;
  std::string role;  // boss, secretary
  std::optional<int> timeout;
  bool active = false;
};

struct ConfigCallFilter {
  std::int64_t id = 0;
  std::string name, strategy, source;
  std::optional<std::string> caller_id_mode, caller_id_name;
  std::optional<int> surrogates_timeout;
  bool enabled = true;
  std::string fallbacks = "{}";
  std::vector<ConfigCallFilterMember> members;  // by role's position, then id
};

// A time zone's UTC offsets, from its TZif file: `offsets[i]` holds from
// `transitions[i]` (Unix seconds) on, `initial` before the first one.
struct ConfigZone {
  std::vector<std::int64_t> transitions;
  std::vector<std::int32_t> offsets;
  std::int32_t initial = 0;
  std::int32_t offset_at(std::int64_t unix_seconds) const {
    std::size_t lo = 0, hi = transitions.size();
    while (lo < hi) {
      std::size_t mid = (lo + hi) / 2;
      if (transitions[mid] <= unix_seconds) lo = mid + 1;
      else hi = mid;
    }
    return lo == 0 ? initial : offsets[lo - 1];
  }
};

// A feature code (XiVO's extensions of context xivo-features; confd's
// /1.1/extensions/features): `exten` as XiVO writes it, "*25" for that
// code alone, "_*21." for *21 followed by one character or more.
struct ConfigFeatureExtension {
  std::int64_t id = 0;
  std::string feature;  // XiVO's name: fwdunc, enablednd, bsfilter...
  std::string exten;
  bool enabled = true;
  // The digits a phone dials: `exten` without the pattern's "_" and ".".
  std::string code() const {
    std::string c = exten;
    if (!c.empty() && c.front() == '_') c.erase(0, 1);
    if (!c.empty() && c.back() == '.') c.pop_back();
    return c;
  }
};

// XiVO's default feature codes: what confd seeds, and what applies where no
// confd runs. `enabled` false where XiVO comments the code out and Dialtone
// has no use for it.
struct DefaultFeatureExtension {
  const char* feature;
  const char* exten;
  bool enabled;
};
inline constexpr DefaultFeatureExtension kDefaultFeatureExtensions[] = {
    {"agentstaticlogin", "_*31.", true},  {"agentstaticlogoff", "_*32.", true},
    {"agentstaticlogtoggle", "_*30.", true}, {"bsfilter", "_*37.", true},
    {"callgroup", "_*664.", true},       {"calllistening", "*34", false},
    {"callmeetme", "_*667.", true},      {"callqueue", "_*665.", true},
    {"callrecord", "*26", true},         {"calluser", "_*666.", true},
    {"directoryaccess", "*36", true},    {"enablednd", "*25", true},
    {"enablevm", "*90", true},           {"enablevmslt", "_*90.", true},
    {"fwdbusy", "_*23.", true},          {"fwdrna", "_*22.", true},
    {"fwdunc", "_*21.", true},           {"fwdundoall", "*20", true},
    {"autoprov", "*48378", true},        {"incallfilter", "*27", true},
    {"phonestatus", "*10", true},        {"phoneprogfunckey", "_*735.", true},
    {"pickup", "_*8.", true},            {"recsnd", "*9", true},
    {"vmboxmsgslt", "_*99.", true},      {"vmboxpurgeslt", "_*93.", false},
    {"vmboxslt", "_*97.", true},         {"vmusermsg", "*98", true},
    {"vmuserpurge", "*92", false},       {"vmuserpurgeslt", "_*92.", false},
    {"vmuserslt", "_*96.", true},        {"paging", "_*11.", true},
    {"cctoggle", "*40", true},           {"groupmembertoggle", "_*50.", true},
    {"groupmemberjoin", "_*51.", true},  {"groupmemberleave", "_*52.", true},
};

struct ConfigSnapshot {
  std::uint64_t version = 0;  // grows with each snapshot published
  std::map<std::int64_t, ConfigUser> users;
  std::map<std::int64_t, ConfigLine> lines;
  std::map<std::int64_t, ConfigExtension> extensions;
  std::map<std::string, ConfigContext> contexts;  // by name
  std::map<std::int64_t, ConfigIncall> incalls;
  std::map<std::int64_t, ConfigOutcall> outcalls;
  std::map<std::int64_t, ConfigTrunk> trunks;
  std::map<std::int64_t, ConfigGroup> groups;
  std::map<std::int64_t, ConfigCallPermission> callpermissions;
  std::map<std::int64_t, ConfigSchedule> schedules;
  std::map<std::int64_t, ConfigCallFilter> callfilters;
  std::map<std::int64_t, ConfigConference> conferences;
  std::map<std::int64_t, ConfigCallPickup> callpickups;
  std::map<std::int64_t, ConfigParkingLot> parkinglots;
  // The zones schedules name ("" for the server's own), read off the call
  // path when the snapshot is built; a zone whose file is missing is absent.
  std::map<std::string, ConfigZone> zones;

  // Indexes, built with the snapshot.
  std::unordered_map<std::string, std::int64_t> line_by_username_;         // SIP username -> line
  std::unordered_map<std::string, std::int64_t> extension_by_key_;         // "exten@context" -> extension
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> lines_of_extension_;  // by line position
  std::unordered_map<std::int64_t, std::int64_t> incall_of_extension_;
  std::unordered_map<std::int64_t, std::int64_t> group_of_extension_;
  std::unordered_map<std::int64_t, std::int64_t> conference_of_extension_;
  std::unordered_map<std::int64_t, std::int64_t> parkinglot_of_extension_;
  // Appended after the indexes above so that their offsets stay.
  std::map<std::int64_t, ConfigPaging> pagings;
  std::unordered_map<std::string, std::int64_t> paging_by_number_;
  // Music on hold classes (confd /1.1/moh) by name: their `sort`
  // (alphabetical, random, random_start).
  std::map<std::string, std::string> moh_sort;
  // Feature codes by feature name (confd's /1.1/extensions/features).
  std::map<std::string, ConfigFeatureExtension> feature_extensions;
  // IVR menus (confd's /1.1/ivr) by id: each a JSON object as the API shows
  // it (name, greeting_sound, menu_sound, choices ...), read by lib/ivr.lua.
  std::map<std::int64_t, std::string> ivrs;

  template <class M>
  static const typename M::mapped_type* find(const M& m, const typename M::key_type& k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  }
  const ConfigUser* user(std::int64_t id) const { return find(users, id); }
  const ConfigLine* line(std::int64_t id) const { return find(lines, id); }
  const ConfigGroup* group(std::int64_t id) const { return find(groups, id); }
  const ConfigTrunk* trunk(std::int64_t id) const { return find(trunks, id); }
  const ConfigExtension* extension(std::int64_t id) const { return find(extensions, id); }
  const ConfigLine* line_by_username(const std::string& username) const {
    auto id = find(line_by_username_, username);
    return id ? line(*id) : nullptr;
  }
  // The extension `exten` of `context`, commented or not.
  const ConfigExtension* extension(const std::string& exten, const std::string& context) const {
    auto id = find(extension_by_key_, exten + "@" + context);
    return id ? extension(*id) : nullptr;
  }
  // The digits that dial `feature` ("*21" for fwdunc), or "" when the
  // administrator turned it off; XiVO's default where confd stores none.
  std::string feature_code(std::string_view feature) const {
    if (!feature_extensions.empty()) {
      auto it = feature_extensions.find(std::string(feature));
      return it != feature_extensions.end() && it->second.enabled ? it->second.code() : std::string();
    }
    for (auto& d : kDefaultFeatureExtensions)
      if (feature == d.feature && d.enabled) return ConfigFeatureExtension{0, d.feature, d.exten, true}.code();
    return {};
  }
  // Lines owning an extension, in line position order.
  const std::vector<std::int64_t>& lines_of(std::int64_t extension_id) const {
    static const std::vector<std::int64_t> none;
    auto v = find(lines_of_extension_, extension_id);
    return v ? *v : none;
  }
};

class ConfigService {
 public:
  static constexpr std::string_view kServiceName = "config";
  static constexpr int kServiceVersion = 1;
  virtual ~ConfigService() = default;

  // The current snapshot; never null once the service is provided. Any
  // thread, never blocks.
  virtual std::shared_ptr<const ConfigSnapshot> snapshot() const = 0;

  // `on_change` runs on the service's thread after each new snapshot is
  // published, until the returned handle is destroyed. Keep it short.
  class Watch {
   public:
    virtual ~Watch() = default;
  };
  virtual std::unique_ptr<Watch> watch(std::function<void(const ConfigSnapshot&)> on_change) = 0;

  // The user's forward `kind` (busy, noanswer, unconditional) set as PUT
  // /1.1/users/{id}/forwards/{kind} does; destination nullopt keeps the
  // saved one. `done` gets the forward as saved (not_found: no such user,
  // invalid: bad kind or destination).
  virtual void set_forward(std::int64_t user_id, std::string kind, bool enabled,
                           std::optional<std::string> destination,
                           std::function<void(Result<ConfigForward>)> done) = 0;
  // The user's service (dnd, incallfilter) set as PUT
  // /1.1/users/{id}/services/{service} does; `enabled` nullopt turns it
  // over. `done` gets the new state.
  virtual void set_service(std::int64_t user_id, std::string service, std::optional<bool> enabled,
                           std::function<void(Result<bool>)> done) = 0;
  // Lines whose provisioning code is `code` take device `device_id`, as PUT
  // /1.1/lines/{id}/devices/{device_id} does; `done` gets the line ids
  // (not_found: no line has that code).
  virtual void associate_device(std::string code, std::string device_id,
                                std::function<void(Result<std::vector<std::int64_t>>)> done) = 0;
  // Every line of device `device_id` loses it (DELETE
  // /1.1/lines/{id}/devices/{device_id} for each); `done` gets the line ids.
  virtual void dissociate_device(std::string device_id,
                                 std::function<void(Result<std::vector<std::int64_t>>)> done) = 0;
};

}  // namespace dialtone::sdk
