#include "plugins/api/confd/confd_api.h"
#include "plugins/api/confd/context_routing.h"

#include <algorithm>
#include <regex>
#include <set>

#include <dialtone/bus.h>
#include <dialtone/json_member.h>
#include <dialtone/services.h>
#include <dialtone/store.h>
#include <dialtone/random.h>
#include <dialtone/text.h>

#include "plugins/api/confd/embeds.h"
#include "plugins/api/confd/schema.h"
#include "plugins/api/confd/user_features.h"

namespace dialtone::plugins::api::confd {

const sdk::OptionSpec kOptions[] = {
    {"confd.listener", sdk::OptionType::string, "confd",
     "HTTP listener (conf.d of the kernel) the /1.1 routes are mounted on"},
    {"moh.path", sdk::OptionType::path, "",
     "music on hold classes (/1.1/moh): one directory each, `default` being this one; empty: the "
     "media.engine's sounds.moh_path (so uploaded files are what is played), or /usr/share/asterisk/moh "
     "on a node without the media engine"},
    {}};

namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;
using Check = std::function<std::optional<std::string>(const rapidjson::Value&)>;

Check one_of(std::set<std::string> values) {
  return [values](const rapidjson::Value& v) -> std::optional<std::string> {
    if (values.count(v.GetString())) return std::nullopt;
    std::string all;
    for (auto& s : values) all += (all.empty() ? "" : ", ") + s;
    return "Must be one of: " + all + ".";
  };
}

Check int_range(long lo, long hi, long multiple = 1) {
  return [=](const rapidjson::Value& v) -> std::optional<std::string> {
    long n = v.GetInt64();
    if (n < lo || n > hi) return "Must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ".";
    if (n % multiple) return "Must be a multiple of " + std::to_string(multiple) + ".";
    return std::nullopt;
  };
}

Check matches(const char* pattern, std::string why) {
  auto re = std::make_shared<std::regex>(pattern);
  return [re, why](const rapidjson::Value& v) -> std::optional<std::string> {
    if (std::regex_match(v.GetString(), *re)) return std::nullopt;
    return why;
  };
}

Check non_empty() {
  return [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (v.GetStringLength() == 0) return "Shorter than minimum length 1.";
    return std::nullopt;
  };
}

Check string_list() {
  return [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsArray()) return "Must be a list of strings.";
    for (auto& e : v.GetArray())
      if (!e.IsString()) return "Must be a list of strings.";
    return std::nullopt;
  };
}

Check ranges(bool incall) {
  return [incall](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsArray()) return "Must be a list of {\"start\", \"end\"} objects.";
    for (auto& r : v.GetArray()) {
      if (!r.IsObject() || !r.HasMember("start") || !r["start"].IsString())
        return "Each range needs a numeric string \"start\".";
      std::string s = r["start"].GetString();
      std::string e = r.HasMember("end") && r["end"].IsString() ? r["end"].GetString() : s;
      static const std::regex digits("[0-9]{1,40}");
      if (!std::regex_match(s, digits) || !std::regex_match(e, digits))
        return "Range bounds must be digits.";
      if (s.size() != e.size() || s > e) return "Range start must not exceed end (same length).";
      for (auto m = r.MemberBegin(); m != r.MemberEnd(); ++m) {
        std::string k = m->name.GetString();
        if (k != "start" && k != "end" && !(incall && k == "did_length"))
          return "Unknown range key '" + k + "'.";
      }
      if (incall && r.HasMember("did_length") && !r["did_length"].IsInt())
        return "did_length must be an integer.";
    }
    return std::nullopt;
  };
}

Check sip_options() {
  return [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsArray()) return "Must be a list of [key, value] pairs.";
    for (auto& o : v.GetArray())
      if (!o.IsArray() || o.Size() != 2 || !o[0].IsString() || !o[1].IsString())
        return "Must be a list of [key, value] pairs of strings.";
    return std::nullopt;
  };
}

// Destinations of incalls and schedules (XiVO's dialaction types).
Check destination() {
  return [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsObject() || !v.HasMember("type") || !v["type"].IsString())
      return "Must be an object with a \"type\".";
    std::string t = v["type"].GetString();
    static const std::map<std::string, std::string> need = {
        {"user", "user_id"}, {"group", "group_id"}, {"voicemail", "voicemail_id"}, {"queue", "queue_id"},
        {"ivr", "ivr_id"}, {"conference", "conference_id"}, {"outcall", "outcall_id"},
        {"application", "application"}, {"sound", "filename"}, {"none", ""}, {"hangup", ""},
        {"custom", "command"}, {"extension", "exten"}};
    auto it = need.find(t);
    if (it == need.end())
      return "Unknown destination type '" + t + "' (user, group, queue, voicemail, ivr, conference, outcall, "
             "application, sound, extension, custom, hangup, none).";
    if (!it->second.empty() && !v.HasMember(it->second.c_str()))
      return "Destination '" + t + "' needs '" + it->second + "'.";
    if (it->second.size() > 3 && it->second.compare(it->second.size() - 3, 3, "_id") == 0 &&
        !v[it->second.c_str()].IsInt())
      return "'" + it->second + "' must be an integer.";
    if (t == "hangup" && v.HasMember("cause")) {
      static const std::set<std::string> causes = {"normal", "busy", "congestion"};
      if (!v["cause"].IsString() || !causes.count(v["cause"].GetString()))
        return "'cause' must be normal, busy or congestion.";
    }
    if (t == "application") {
      static const std::set<std::string> apps = {"callback_disa", "directory", "disa", "fax_to_mail", "voicemail"};
      if (!v["application"].IsString() || !apps.count(v["application"].GetString()))
        return "'application' must be callback_disa, directory, disa, fax_to_mail or voicemail.";
    }
    return std::nullopt;
  };
}

// The function key model of seed 12.6 (Function Keys / Destination).
std::optional<std::string> funckey_destination(const rapidjson::Value& v) {
  if (!v.IsObject() || !v.HasMember("type") || !v["type"].IsString())
    return "destination must be an object with a \"type\"";
  std::string t = v["type"].GetString();
  static const std::map<std::string, std::vector<std::string>> need = {
      {"agent", {"agent_id"}}, {"bsfilter", {"filter_member_id"}}, {"conference", {"conference_id"}},
      {"custom", {"exten"}}, {"forward", {"forward"}}, {"group", {"group_id"}}, {"onlinerec", {}},
      {"paging", {"paging_id"}}, {"park", {}}, {"parking", {}}, {"park_position", {"position"}}, {"queue", {"queue_id"}},
      {"service", {"service"}}, {"transfer", {"transfer"}}, {"user", {"user_id"}}};
  auto it = need.find(t);
  if (it == need.end()) return "unknown destination type '" + t + "'";
  for (auto& k : it->second)
    if (!v.HasMember(k.c_str())) return "destination '" + t + "' needs '" + k + "'";
  if (t == "forward") {
    std::string f = v["forward"].IsString() ? v["forward"].GetString() : "";
    if (f != "busy" && f != "noanswer" && f != "unconditional")
      return "forward must be busy, noanswer or unconditional";
  }
  if (t == "transfer") {
    std::string f = v["transfer"].IsString() ? v["transfer"].GetString() : "";
    if (f != "blind" && f != "attended") return "transfer must be blind or attended";
  }
  if (t == "service") {
    static const std::set<std::string> services = {
        "phonestatus", "recsnd", "callrecord", "incallfilter", "enablednd", "pickup",
        "calllistening", "directoryaccess", "fwdundoall", "enablevm", "vmusermsg", "vmuserpurge"};
    if (!v["service"].IsString() || !services.count(v["service"].GetString()))
      return "unknown service";
  }
  return std::nullopt;
}

// {"<position>": {"blf", "label", "destination"}} of a template or a bulk PUT.
Check funckey_map() {
  return [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsObject()) return "Must be an object of positions.";
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      std::string pos = m->name.GetString();
      if (pos.empty() || pos.size() > 3 || !std::all_of(pos.begin(), pos.end(), ::isdigit) || std::stoi(pos) < 1)
        return "position '" + pos + "' must be a number from 1 to 999.";
      if (!m->value.IsObject() || !m->value.HasMember("destination"))
        return "key " + pos + " needs a destination.";
      if (auto why = funckey_destination(m->value["destination"])) return "key " + pos + ": " + *why;
    }
    return std::nullopt;
  };
}

std::string qstr(const std::string& s) { return "'" + s + "'"; }

HttpResponse guard(const std::function<HttpResponse()>& f) {
  try {
    return f();
  } catch (const ApiError& e) {
    return HttpResponse::error(e.status, e.messages);
  }
}

// Extension range rule: `kind` is the owner type (user/group/incall/any).
void check_extension_range(sdk::Transaction& tx, long extension_id, const std::string& kind) {
  auto q = run(tx,
               "SELECT e.exten, e.context, c.type, c.user_ranges, c.group_ranges, c.queue_ranges, "
               "c.conference_room_ranges, c.incall_ranges FROM confd_extensions e "
               "JOIN confd_contexts c ON c.name = e.context WHERE e.id = $1",
               {std::to_string(extension_id)});
  if (q.rows.empty()) throw ApiError{404, {not_found("Extension", "id", std::to_string(extension_id))}};
  std::string exten = q.get(0, "exten"), context = q.get(0, "context"), type = q.get(0, "type");
  // A parking extension (700) sits outside the numbering ranges, as in XiVO.
  if (kind == "parking") return;
  std::string expr;
  if (kind == "user") expr = "confd_in_ranges(c.user_ranges, $1)";
  else if (kind == "group") expr = "confd_in_ranges(c.group_ranges, $1)";
  else if (kind == "incall") expr = "confd_in_ranges(c.incall_ranges, $1)";
  else if (kind == "conference") expr = "confd_in_ranges(c.conference_room_ranges, $1)";
  else if (type == "outcall" || type == "services" || type == "others") return;
  else
    expr = "(confd_in_ranges(c.user_ranges, $1) OR confd_in_ranges(c.group_ranges, $1) OR "
           "confd_in_ranges(c.queue_ranges, $1) OR confd_in_ranges(c.conference_room_ranges, $1) OR "
           "confd_in_ranges(c.incall_ranges, $1))";
  if (kind == "incall" && type != "incall")
    throw ApiError{400, {"Input Error - extension " + exten + "@" + context +
                         " is not in an incall context (context type is '" + type + "')"}};
  auto in = run(tx, "SELECT " + expr + " AS ok FROM confd_contexts c WHERE c.name = $2", {exten, context});
  if (in.get(0, "ok") != "t")
    throw ApiError{400, {"Input Error - exten " + exten + " not inside " +
                         (kind == "any" ? std::string("a") : kind) + " range of context '" + context + "'"}};
}

std::string extension_owner(sdk::Transaction& tx, long extension_id) {
  auto q = run(tx,
               "SELECT CASE WHEN EXISTS (SELECT 1 FROM confd_line_extensions WHERE extension_id=$1) THEN 'user' "
               "WHEN EXISTS (SELECT 1 FROM confd_incall_extensions WHERE extension_id=$1) THEN 'incall' "
               "WHEN EXISTS (SELECT 1 FROM confd_group_extensions WHERE extension_id=$1) THEN 'group' "
               "WHEN EXISTS (SELECT 1 FROM confd_conference_extensions WHERE extension_id=$1) THEN 'conference' "
               "WHEN EXISTS (SELECT 1 FROM confd_parkinglot_extensions WHERE extension_id=$1) THEN 'parking' "
               "ELSE 'any' END AS k",
               {std::to_string(extension_id)});
  return q.get(0, "k");
}

void require_row(sdk::Transaction& tx, const std::string& table, const std::string& singular, long id) {
  auto q = run(tx, "SELECT 1 FROM " + table + " WHERE id = $1 FOR UPDATE", {std::to_string(id)});
  if (q.rows.empty()) throw ApiError{404, {not_found(singular, "id", std::to_string(id))}};
}

void refuse_if(sdk::Transaction& tx, const std::string& sql, long id, const std::string& message) {
  auto q = run(tx, sql, {std::to_string(id)});
  if (!q.rows.empty()) throw ApiError{400, {"Resource Error - " + message}};
}

}  // namespace

long ConfdApi::user_id(sdk::Transaction* tx, const std::string& ref) {
  bool numeric = !ref.empty() && ref.size() <= 9 && std::all_of(ref.begin(), ref.end(), ::isdigit);
  if (!numeric && !sdk::text::is_uuid(ref))
    throw ApiError{404, {not_found("User", "id", qstr(ref))}};
  std::string sql = numeric ? "SELECT id FROM confd_users WHERE id = $1"
                            : "SELECT id FROM confd_users WHERE uuid = $1::uuid";
  sdk::QueryResult q;
  if (tx) {
    q = run(*tx, sql + " FOR UPDATE", {ref});
  } else {
    auto r = engine_->store().exec(sql, {ref});
    if (!r) throw ApiError{503, {"Resource Error - " + r.error().message}};
    q = std::move(*r);
  }
  if (q.rows.empty()) throw ApiError{404, {not_found("User", numeric ? "id" : "uuid", qstr(ref))}};
  return std::stol(q.get(0, "id"));
}

void ConfdApi::define_resources() {
  using F = FieldType;
  auto res = [&](Resource r) {
    auto p = std::make_shared<Resource>(std::move(r));
    resources_.push_back(p);
    return p;
  };

  res({.path = "contexts", .table = "confd_contexts", .singular = "Context", .event = "context",
       .fields = {{"name", F::string, true, false, matches("[A-Za-z0-9_.-]{1,39}", "Must match [A-Za-z0-9_.-]{1,39}.")},
                  {"label", F::string},
                  {"type", F::string, false, false, one_of({"internal", "incall", "outcall", "services", "others"})},
                  {"description", F::string},
                  {"enabled", F::boolean, false, false},
                  {"user_ranges", F::json, false, false, ranges(false)},
                  {"group_ranges", F::json, false, false, ranges(false)},
                  {"queue_ranges", F::json, false, false, ranges(false)},
                  {"conference_room_ranges", F::json, false, false, ranges(false)},
                  {"incall_ranges", F::json, false, false, ranges(true)}},
       .searchable = {"name", "label", "type", "description"},
       .sortable = {"name", "id", "label", "type"},
       .uniques = {{"name"}},
       .before_delete = [](sdk::Transaction& tx, long id) {
         auto q = run(tx,
                      "SELECT (SELECT count(*) FROM confd_lines l WHERE l.context = c.name) + "
                      "(SELECT count(*) FROM confd_extensions e WHERE e.context = c.name) + "
                      "(SELECT count(*) FROM confd_voicemails v WHERE v.context = c.name) + "
                      "(SELECT count(*) FROM confd_trunks t WHERE t.context = c.name) AS n "
                      "FROM confd_contexts c WHERE c.id = $1",
                      {std::to_string(id)});
         if (q.get(0, "n", "0") != "0")
           throw ApiError{400, {"Resource Error - Context is used by " + q.get(0, "n") +
                                " lines, extensions, voicemails or trunks: delete or move them first"}};
       }});

  res({.path = "labels", .table = "confd_labels", .singular = "Label", .event = "label",
       .fields = {{"name", F::string, true, false, non_empty()}, {"description", F::string}},
       .searchable = {"name", "description"},
       .sortable = {"name", "id"},
       .uniques = {{"name"}}});

  res({.path = "users", .table = "confd_users", .singular = "User", .event = "user",
       .fields = {{"firstname", F::string, true, false, non_empty()},
                  {"lastname", F::string},
                  {"email", F::string},
                  {"language", F::string, false, true, one_of({"de_DE", "en_US", "es_ES", "fr_FR", "fr_CA"})},
                  {"mobile_phone_number", F::string, false, true, matches("\\+?[0-9*#]{0,40}", "Must be digits, *, # with an optional leading +.")},
                  {"outgoing_caller_id", F::string},
                  {"enabled", F::boolean, false, false},
                  {"supervision_enabled", F::boolean, false, false},
                  {"call_transfer_enabled", F::boolean, false, false},
                  {"dtmf_hangup_enabled", F::boolean, false, false},
                  {"simultaneous_calls", F::integer, false, false, int_range(1, 20)},
                  {"ring_seconds", F::integer, false, false, int_range(0, 60, 5)},
                  {"call_permission_password", F::string, false, true, matches("[0-9#*]{1,16}", "Must be 1 to 16 digits, # or *.")},
                  {"labels", F::json, false, false, string_list()},
                  {"caller_id", F::string, false, true, matches("\"(.*)\"( <\\+?[0-9]+>)?", "Must be \"Name\" or \"Name\" <number>.")},
                  {"userfield", F::string},
                  {"description", F::string},
                  {"timezone", F::string},
                  {"username", F::string, false, true, matches("[a-zA-Z0-9\\-._~!$&'()*+,;=%@]{2,254}", "Must be 2 to 254 URL-safe characters.")},
                  {"password", F::string, false, true, matches("[a-zA-Z0-9\\-._~!$&'()*+,;=%]{4,64}", "Must be 4 to 64 URL-safe characters.")},
                  {"music_on_hold", F::string},
                  {"preprocess_subroutine", F::string},
                  {"call_record_enabled", F::boolean, false, false},
                  {"online_call_record_enabled", F::boolean, false, false}},
       .searchable = {"firstname", "lastname", "email", "mobile_phone_number", "outgoing_caller_id", "uuid",
                      "userfield", "description", "username"},
       .sortable = {"firstname", "id", "lastname", "email", "mobile_phone_number", "outgoing_caller_id",
                    "userfield", "description", "username"},
       .uniques = {{"username"}},
       .hidden = {"password", "fallbacks", "forward_busy_enabled", "forward_busy_destination", "forward_noanswer_enabled",
                  "forward_noanswer_destination", "forward_unconditional_enabled",
                  "forward_unconditional_destination", "service_dnd_enabled", "service_incallfilter_enabled"},
       .has_uuid = true,
       .after_write = [](sdk::Transaction& tx, long id) {
         // XiVO fills the caller id from the name when none is given.
         run(tx, "UPDATE confd_users SET caller_id = '\"' || firstname || coalesce(' ' || lastname, '') || '\"' "
                 "WHERE id = $1 AND caller_id IS NULL", {std::to_string(id)});
         auto q = run(tx,
                      "SELECT l FROM confd_users u, jsonb_array_elements_text(u.labels) l WHERE u.id = $1 "
                      "AND l NOT IN (SELECT name FROM confd_labels)",
                      {std::to_string(id)});
         if (!q.rows.empty())
           throw ApiError{400, {"Input Error - field 'labels': label '" + q.get(0, "l") +
                                "' does not exist (create it with POST /1.1/labels first)"}};
       },
       .before_delete = [](sdk::Transaction& tx, long id) {
         refuse_if(tx, "SELECT 1 FROM confd_user_lines WHERE user_id = $1", id,
                   "User is associated with a Line (DELETE /1.1/users/{id}/lines/{line_id} first)");
       },
       .embed = user_embed,
       .filters = {{"exten", "t.id IN (SELECT ul.user_id FROM confd_user_lines ul JOIN confd_line_extensions le "
                             "ON le.line_id = ul.line_id JOIN confd_extensions e ON e.id = le.extension_id WHERE e.exten = ?)"},
                   {"context", "t.id IN (SELECT ul.user_id FROM confd_user_lines ul JOIN confd_lines l ON l.id = ul.line_id "
                               "WHERE l.context = ?)"},
                   {"line_id", "t.id IN (SELECT ul.user_id FROM confd_user_lines ul WHERE ul.line_id::text = ?)"}},
       .views = {{"directory", user_directory_view}, {"summary", user_summary_view}}});

  res({.path = "endpoints/sip", .table = "confd_endpoints_sip", .singular = "SIPEndpoint", .event = "endpoint_sip",
       .fields = {{"username", F::string, true, false, matches("[A-Za-z0-9_.+-]{1,40}", "Must match [A-Za-z0-9_.+-]{1,40}.")},
                  {"secret", F::string, true, false, matches("[^\\s]{1,80}", "Must be 1 to 80 non-space characters.")},
                  {"type", F::string, false, false, one_of({"friend", "peer", "user"})},
                  {"host", F::string, false, false, non_empty()},
                  {"options", F::json, false, false, sip_options()}},
       .searchable = {"username", "type", "host"},
       .sortable = {"username", "id", "type", "host"},
       .uniques = {{"username"}},
       .before_delete = [](sdk::Transaction& tx, long id) {
         refuse_if(tx, "SELECT 1 FROM confd_lines WHERE endpoint_sip_id = $1", id, "SIPEndpoint is associated with a Line");
         refuse_if(tx, "SELECT 1 FROM confd_trunks WHERE endpoint_sip_id = $1", id, "SIPEndpoint is associated with a Trunk");
       },
       // XiVO generates both when absent (8 lowercase letters / digits).
       .fill_defaults = [](rapidjson::Document& d) {
         for (auto* k : {"username", "secret"})
           if (!d.HasMember(k))
             d.AddMember(rapidjson::StringRef(k), rapidjson::Value(sdk::random_token(8).c_str(), d.GetAllocator()), d.GetAllocator());
       },
       .embed = endpoint_sip_embed});

  res({.path = "lines", .table = "confd_lines", .singular = "Line", .event = "line",
       .fields = {{"context", F::string, true, false},
                  {"provisioning_code", F::string, false, false, matches("[1-9][0-9]{5}", "Must be 6 digits, not starting with 0.")},
                  {"position", F::integer, false, false, int_range(1, 99)},
                  {"caller_id_name", F::string},
                  {"caller_id_num", F::string}},
       // XiVO also searches a line's name (its SIP endpoint's username) and protocol.
       .searchable = {"context", "provisioning_code", "caller_id_name", "caller_id_num", "device_id", "protocol",
                      "(SELECT s.username FROM confd_endpoints_sip s WHERE s.id = t.endpoint_sip_id)"},
       .sortable = {"id", "context", "provisioning_code", "position", "caller_id_name", "caller_id_num"},
       .uniques = {{"provisioning_code"}},
       .after_write = [](sdk::Transaction& tx, long id) {
         auto q = run(tx, "SELECT c.type FROM confd_lines l LEFT JOIN confd_contexts c ON c.name = l.context WHERE l.id = $1",
                      {std::to_string(id)});
         if (q.get(0, "type").empty())
           throw ApiError{400, {"Input Error - field 'context': context does not exist (create it with POST /1.1/contexts)"}};
         if (q.get(0, "type") != "internal")
           throw ApiError{400, {"Input Error - field 'context': a line needs an internal context"}};
       },
       .before_delete = [](sdk::Transaction& tx, long id) {
         refuse_if(tx, "SELECT 1 FROM confd_user_lines WHERE line_id = $1", id,
                   "Line is associated with a User (DELETE /1.1/users/{user_id}/lines/{id} first)");
       },
       .embed = line_embed,
       .filters = {{"user_id", "t.id IN (SELECT ul.line_id FROM confd_user_lines ul WHERE ul.user_id::text = ?)"},
                   {"exten", "t.id IN (SELECT le.line_id FROM confd_line_extensions le JOIN confd_extensions e "
                             "ON e.id = le.extension_id WHERE e.exten = ?)"},
                   {"name", "t.endpoint_sip_id IN (SELECT s.id FROM confd_endpoints_sip s WHERE s.username = ?)"},
                   {"device_id", "t.device_id = ?"},
                   {"protocol", "t.protocol = ?"}}});

  res({.path = "extensions", .table = "confd_extensions", .singular = "Extension", .event = "extension",
       .fields = {{"exten", F::string, true, false, matches("[0-9*#]{1,40}|_[0-9A-Za-z*#\\[\\].!-]{1,40}", "Must be digits, * or #, or a pattern starting with _.")},
                  {"context", F::string, true, false},
                  {"commented", F::boolean, false, false}},
       .searchable = {"exten", "context"},
       .sortable = {"exten", "id", "context"},
       .uniques = {{"exten", "context"}},
       .after_write = [](sdk::Transaction& tx, long id) {
         auto q = run(tx, "SELECT 1 FROM confd_extensions e JOIN confd_contexts c ON c.name = e.context WHERE e.id = $1",
                      {std::to_string(id)});
         if (q.rows.empty())
           throw ApiError{400, {"Input Error - field 'context': context does not exist (create it with POST /1.1/contexts)"}};
         check_extension_range(tx, id, extension_owner(tx, id));
       },
       .before_delete = [](sdk::Transaction& tx, long id) {
         refuse_if(tx, "SELECT 1 FROM confd_line_extensions WHERE extension_id = $1", id, "Extension is associated with a Line");
         refuse_if(tx, "SELECT 1 FROM confd_incall_extensions WHERE extension_id = $1", id, "Extension is associated with an Incall");
         refuse_if(tx, "SELECT 1 FROM confd_group_extensions WHERE extension_id = $1", id, "Extension is associated with a Group");
         refuse_if(tx, "SELECT 1 FROM confd_conference_extensions WHERE extension_id = $1", id, "Extension is associated with a Conference");
         refuse_if(tx, "SELECT 1 FROM confd_parkinglot_extensions WHERE extension_id = $1", id, "Extension is associated with a ParkingLot");
       },
       .embed = extension_embed,
       .filters = {{"line_id", "t.id IN (SELECT le.extension_id FROM confd_line_extensions le WHERE le.line_id::text = ?)"},
                   {"type", "CASE WHEN EXISTS (SELECT 1 FROM confd_incall_extensions ie WHERE ie.extension_id = t.id) "
                            "THEN 'incall' ELSE 'internal' END = ?"}}});

  auto context_exists = [](const char* table) {
    return [table](sdk::Transaction& tx, long id) {
      auto q = run(tx, std::string("SELECT t.context, c.name FROM ") + table +
                           " t LEFT JOIN confd_contexts c ON c.name = t.context WHERE t.id = $1",
                   {std::to_string(id)});
      if (!q.get(0, "context").empty() && q.get(0, "name").empty())
        throw ApiError{400, {"Input Error - field 'context': context '" + q.get(0, "context") + "' does not exist"}};
    };
  };

  res({.path = "trunks", .table = "confd_trunks", .singular = "Trunk", .event = "trunk",
       .fields = {{"context", F::string}, {"description", F::string}},
       .searchable = {"context", "description"},
       .sortable = {"id", "context", "description"},
       .after_write = context_exists("confd_trunks"),
       .embed = trunk_embed});

  // XiVO's customized interfaces (seed 5.19.5): what the dialplan dials as
  // <interface>/<number><interface_suffix>, e.g. dahdi/g1 for a DAHDI group.
  res({.path = "endpoints/custom", .table = "confd_endpoints_custom", .singular = "CustomEndpoint",
       .event = "endpoint_custom",
       .fields = {{"interface", F::string, true, false,
                   matches("[A-Za-z][A-Za-z0-9_-]*/[^\\s]{1,120}",
                           "Must be <technology>/<address>, e.g. dahdi/g1 (a DAHDI group) or dahdi/2 (a span).")},
                  {"interface_suffix", F::string, false, true,
                   matches("[^\\s/]{0,32}", "Must be at most 32 characters without spaces or '/'.")},
                  {"context", F::string},
                  {"enabled", F::boolean, false, false}},
       .searchable = {"interface", "context"},
       .sortable = {"id", "interface", "context"},
       .after_write = context_exists("confd_endpoints_custom"),
       .embed = endpoint_custom_embed});

  res({.path = "incalls", .table = "confd_incalls", .singular = "Incall", .event = "incall",
       .fields = {{"preprocess_subroutine", F::string},
                  {"description", F::string},
                  {"caller_id_mode", F::string, false, true, one_of({"prepend", "overwrite", "append"})},
                  {"caller_id_name", F::string},
                  {"destination", F::json, true, false, destination()},
                  // XiVO's incall Fax tab (faxdetectenable, faxdetecttimeout, faxdetectemail).
                  {"fax_detect_enabled", F::boolean, false, false},
                  {"fax_detect_timeout", F::integer, false, false, int_range(1, 60)},
                  {"fax_detect_email", F::string, false, true,
                   matches("[^@\\s]{1,128}@[^@\\s]{1,128}", "Must be an e-mail address (name@domain).")},
                  {"call_record_enabled", F::boolean, false, false}},
       .searchable = {"description", "preprocess_subroutine", "caller_id_name"},
       .sortable = {"id", "description", "preprocess_subroutine"},
       .after_write = [](sdk::Transaction& tx, long id) {
         auto q = run(tx,
                      "SELECT d->>'type' AS type, CASE d->>'type' "
                      "WHEN 'user' THEN EXISTS (SELECT 1 FROM confd_users WHERE id = (d->>'user_id')::int) "
                      "WHEN 'group' THEN EXISTS (SELECT 1 FROM confd_groups WHERE id = (d->>'group_id')::int) "
                      "WHEN 'voicemail' THEN EXISTS (SELECT 1 FROM confd_voicemails WHERE id = (d->>'voicemail_id')::int) "
                      "WHEN 'ivr' THEN EXISTS (SELECT 1 FROM confd_ivr WHERE id = (d->>'ivr_id')::int) "
                      "ELSE true END AS ok FROM (SELECT destination AS d FROM confd_incalls WHERE id = $1) s",
                      {std::to_string(id)});
         if (q.get(0, "ok") != "t")
           throw ApiError{400, {"Input Error - field 'destination': the " + q.get(0, "type") + " does not exist"}};
       }});

  auto patterns_check = [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsArray()) return "Must be a list of patterns.";
    for (auto& p : v.GetArray()) {
      if (!p.IsObject() || !p.HasMember("pattern") || !p["pattern"].IsString())
        return "Each pattern needs a string 'pattern'.";
      for (auto m = p.MemberBegin(); m != p.MemberEnd(); ++m) {
        std::string k = m->name.GetString();
        if (k == "strip_digits") {
          if (!m->value.IsInt() || m->value.GetInt() < 0) return "strip_digits must be a positive integer.";
        } else if (k == "prefix" || k == "caller_id" || k == "pattern" || k == "regexp" || k == "target") {
          if (!m->value.IsString() && !m->value.IsNull()) return k + " must be a string.";
        } else {
          return "Unknown pattern key '" + k + "' (pattern, strip_digits, prefix, caller_id, regexp, target).";
        }
      }
      // RegExp and Target (seed 5.23.2): checked here rather than failing
      // calls later in the dialplan.
      auto str = [&](const char* k) { return sdk::json::string_member(p, k); };
      if (!str("regexp").empty()) {
        if (auto problem = outcall_regexp_problem(str("regexp"), str("target"))) return *problem;
      } else if (!str("target").empty()) {
        return "target needs a regexp.";
      }
    }
    return std::nullopt;
  };
  res({.path = "outcalls", .table = "confd_outcalls", .singular = "Outcall", .event = "outcall",
       .fields = {{"name", F::string, true, false, non_empty()},
                  {"description", F::string},
                  {"internal_caller_id", F::boolean, false, false},
                  {"preprocess_subroutine", F::string},
                  {"priority", F::integer, false, false, int_range(0, 100)},
                  {"ring_time", F::integer, false, true, int_range(0, 3600)},
                  {"enabled", F::boolean, false, false},
                  {"patterns", F::json, false, false, patterns_check}},
       .searchable = {"name", "description", "preprocess_subroutine"},
       .sortable = {"name", "id", "priority", "description"},
       .uniques = {{"name"}}});

  res({.path = "groups", .table = "confd_groups", .singular = "Group", .event = "group",
       .fields = {{"name", F::string, true, false, matches("[A-Za-z0-9_-]{1,128}", "Must match [A-Za-z0-9_-]{1,128}.")},
                  {"label", F::string},
                  {"ring_strategy", F::string, false, false,
                   one_of({"all", "linear", "least_recent", "fewest_calls", "memorized_round_robin", "random", "weight_random"})},
                  {"timeout", F::integer, false, true, int_range(0, 86400)},
                  {"user_timeout", F::integer, false, true, int_range(0, 86400)},
                  {"retry_delay", F::integer, false, false, int_range(0, 86400)},
                  {"ring_in_use", F::boolean, false, false},
                  {"music_on_hold", F::string},
                  {"preprocess_subroutine", F::string},
                  {"enabled", F::boolean, false, false},
                  {"call_record_enabled", F::boolean, false, false}},
       .searchable = {"name", "label", "preprocess_subroutine"},
       .sortable = {"name", "id", "label"},
       .uniques = {{"name"}},
       .hidden = {"fallbacks"}});

  // Conference rooms (seed 5.7; wazo-confd's /conferences fields). The
  // dialplan (lib/conferences.lua) asks for `pin` when set; `admin_pin` makes
  // the caller an organizer, who may mute the others; with `waiting_room`
  // (XiVO's *Waiting room*) the others wait for an organizer.
  res({.path = "conferences", .table = "confd_conferences", .singular = "Conference", .event = "conference",
       .fields = {{"name", F::string},
                  {"max_users", F::integer, false, false, int_range(0, 1000)},
                  {"pin", F::string, false, true, matches("[0-9]{1,80}", "A sequence of digits.")},
                  {"admin_pin", F::string, false, true, matches("[0-9]{1,80}", "A sequence of digits.")},
                  {"announce_join_leave", F::boolean, false, false},
                  {"waiting_room", F::boolean, false, false},
                  {"music_on_hold", F::string},
                  {"preprocess_subroutine", F::string}},
       .searchable = {"name", "preprocess_subroutine"},
       .sortable = {"name", "id"},
       .after_write = [](sdk::Transaction& tx, long id) {
         // XiVO: the organizer PIN needs the room's PIN (callers without a
         // PIN prompt could never become organizers), and the two differ.
         auto q = run(tx, "SELECT pin IS NULL AND admin_pin IS NOT NULL AS orphan, pin = admin_pin AS same "
                          "FROM confd_conferences WHERE id = $1", {std::to_string(id)});
         if (q.get(0, "orphan") == "t")
           throw ApiError{400, {"Input Error - field 'admin_pin': set 'pin' too (callers are asked for a PIN only when the room has one)"}};
         if (q.get(0, "same") == "t")
           throw ApiError{400, {"Input Error - field 'admin_pin': must differ from 'pin'"}};
       }});

  // Call pickup groups (seed 5.17; wazo-confd's /callpickups): members are
  // set with PUT /callpickups/{id}/{interceptors,targets}/{users,groups}
  // (callpickups.cc) and shown here as XiVO shows them.
  res({.path = "callpickups", .table = "confd_callpickups", .singular = "CallPickup", .event = "call_pickup",
       .fields = {{"name", F::string, true, false, matches("[-_.a-zA-Z0-9 ]{1,128}", "Must match [-_.a-zA-Z0-9 ]{1,128}.")},
                  {"description", F::string},
                  {"enabled", F::boolean, false, false}},
       .searchable = {"name", "description"},
       .sortable = {"name", "id", "description"},
       .uniques = {{"name"}},
       .embed = callpickup_embed});

  // Parking lots (seed 5.25; wazo-confd's /parkinglots). Its extension (PUT
  // /parkinglots/{id}/extensions/{extension_id}) is where calls are parked;
  // its slots are dialed to take them out. `timeout_destination` (Dialtone's)
  // is where a call whose time ran out goes; null: back to who parked it.
  auto slot_number = matches("[0-9]{1,9}", "A number of 1 to 9 digits.");
  res({.path = "parkinglots", .table = "confd_parkinglots", .singular = "ParkingLot", .event = "parking_lot",
       .fields = {{"name", F::string},
                  {"slots_start", F::string, true, false, slot_number},
                  {"slots_end", F::string, true, false, slot_number},
                  {"timeout", F::integer, false, true, int_range(0, 86400)},
                  {"music_on_hold", F::string},
                  {"timeout_destination", F::json, false, true, destination()}},
       .searchable = {"name", "slots_start", "slots_end", "music_on_hold"},
       .sortable = {"name", "id", "slots_start", "slots_end", "timeout"},
       .after_write = [](sdk::Transaction& tx, long id) {
         auto q = run(tx, "SELECT slots_start::bigint > slots_end::bigint AS backwards FROM confd_parkinglots WHERE id = $1",
                      {std::to_string(id)});
         if (q.get(0, "backwards") == "t")
           throw ApiError{400, {"Input Error - field 'slots_end': must not be lower than slots_start"}};
         // Two lots sharing a slot number in one context would make a
         // dialed slot ambiguous.
         auto o = run(tx,
                      "SELECT o.id FROM confd_parkinglots t, confd_parkinglots o WHERE t.id = $1 AND o.id <> t.id "
                      "AND o.slots_start::bigint <= t.slots_end::bigint AND t.slots_start::bigint <= o.slots_end::bigint "
                      "AND (SELECT coalesce(array_agg(e.context ORDER BY e.context), '{}') FROM confd_parkinglot_extensions pe "
                      "JOIN confd_extensions e ON e.id = pe.extension_id WHERE pe.parkinglot_id = t.id) = "
                      "(SELECT coalesce(array_agg(e.context ORDER BY e.context), '{}') FROM confd_parkinglot_extensions pe "
                      "JOIN confd_extensions e ON e.id = pe.extension_id WHERE pe.parkinglot_id = o.id) LIMIT 1",
                      {std::to_string(id)});
         if (!o.rows.empty())
           throw ApiError{400, {"Input Error - field 'slots_start': the slots overlap those of parking lot " +
                                o.get(0, "id") + " in the same context"}};
       },
       .embed = parkinglot_embed});

  // Paging groups (seed 5.24; wazo-confd's /pagings): *11<number> pages the
  // members, set with PUT /pagings/{id}/members/users and
  // /pagings/{id}/callers/users (pagings.cc). XiVO's "quiet" is
  // caller_notification false, its "do not play the announcement to the
  // caller" announce_caller false.
  res({.path = "pagings", .table = "confd_pagings", .singular = "Paging", .event = "paging",
       .fields = {{"number", F::string, true, false, matches("[0-9]{1,32}", "A number of 1 to 32 digits.")},
                  {"name", F::string, false, true, matches(".{0,128}", "At most 128 characters.")},
                  {"announce_caller", F::boolean, false, false},
                  {"announce_sound", F::string, false, true, matches("[-_.a-zA-Z0-9/]{1,64}", "A sound name or path of at most 64 characters.")},
                  {"caller_notification", F::boolean, false, false},
                  {"duplex", F::boolean, false, false},
                  {"ignore_forward", F::boolean, false, false},
                  {"record", F::boolean, false, false},
                  {"timeout", F::integer, false, false, int_range(0, 86400)},
                  {"enabled", F::boolean, false, false}},
       .searchable = {"name", "number"},
       .sortable = {"number", "id", "name"},
       .uniques = {{"number"}},
       .embed = paging_embed});

  // IVR menus (seed 5.20; wazo-confd's /ivr): an incall to {"type": "ivr",
  // "ivr_id"} runs the menu with lib/ivr.lua. `choices` are the digits and
  // where they lead; a destination left null replays the menu (invalid,
  // timeout) or hangs up after `abort_sound` (abort).
  auto sound = matches("[-_.a-zA-Z0-9/]{1,255}", "A sound name or path of at most 255 characters.");
  auto ivr_choices = [dest = destination()](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsArray()) return "Must be a list of {\"exten\", \"destination\"}.";
    static const std::regex exten("[0-9*#]{1,40}");
    for (auto& c : v.GetArray()) {
      if (!c.IsObject() || !c.HasMember("exten") || !c["exten"].IsString() || !c.HasMember("destination"))
        return "Each choice needs a string 'exten' and a 'destination'.";
      if (!std::regex_match(c["exten"].GetString(), exten))
        return std::string("Choice '") + c["exten"].GetString() + "': exten must be 1 to 40 of 0-9, * and #.";
      if (auto why = dest(c["destination"])) return std::string("Choice '") + c["exten"].GetString() + "': " + *why;
    }
    return std::nullopt;
  };
  res({.path = "ivr", .table = "confd_ivr", .singular = "IVR", .event = "ivr",
       .fields = {{"name", F::string, true, false, matches(".{1,128}", "1 to 128 characters.")},
                  {"description", F::string},
                  {"greeting_sound", F::string, false, true, sound},
                  {"menu_sound", F::string, true, false, sound},
                  {"invalid_sound", F::string, false, true, sound},
                  {"abort_sound", F::string, false, true, sound},
                  {"timeout", F::integer, false, false, int_range(0, 3600)},
                  {"max_tries", F::integer, false, false, int_range(1, 100)},
                  {"invalid_destination", F::json, false, true, destination()},
                  {"timeout_destination", F::json, false, true, destination()},
                  {"abort_destination", F::json, false, true, destination()},
                  {"choices", F::json, false, false, ivr_choices}},
       .searchable = {"name", "description"},
       .sortable = {"name", "id", "description"},
       .before_delete = [](sdk::Transaction& tx, long id) {
         // An incall to a deleted menu goes nowhere rather than to a missing one.
         run(tx, "UPDATE confd_incalls SET destination = '{\"type\": \"none\"}' "
                 "WHERE destination->>'type' = 'ivr' AND destination->>'ivr_id' = $1", {std::to_string(id)});
       },
       .embed = [](const std::string& b) {
         return "jsonb_build_object('links', jsonb_build_array(" + sql_link(b, "ivr", "ivr", "t.id") +
                "), 'incalls', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', i.id, 'links', "
                "jsonb_build_array(" + sql_link(b, "incalls", "incalls", "i.id") + ")) ORDER BY i.id), '[]') "
                "FROM confd_incalls i WHERE i.destination->>'type' = 'ivr' AND i.destination->>'ivr_id' = t.id::text))";
       }});

  res({.path = "voicemails", .table = "confd_voicemails", .singular = "Voicemail", .event = "voicemail",
       .fields = {{"number", F::string, true, false, matches("[0-9]{1,40}", "Must be digits.")},
                  {"context", F::string, true, false},
                  {"name", F::string, true, false, non_empty()},
                  {"password", F::string, false, true, matches("[0-9#]{0,80}", "A sequence of digits or #.")},
                  {"email", F::string},
                  {"attach_audio", F::boolean, false, false},
                  {"delete_messages", F::boolean, false, false},
                  {"ask_password", F::boolean, false, false},
                  {"max_messages", F::integer, false, true, int_range(0, 100000)},
                  {"options", F::json, false, false, sip_options()},
                  {"enabled", F::boolean, false, false}},
       .searchable = {"name", "number", "email", "context"},
       .sortable = {"number", "id", "name", "context", "email"},
       .uniques = {{"number", "context"}},
       .full_delete_event = true,
       .after_write = context_exists("confd_voicemails"),
       .before_delete = [](sdk::Transaction& tx, long id) {
         refuse_if(tx, "SELECT 1 FROM confd_user_voicemails WHERE voicemail_id = $1", id, "Voicemail is associated with a User");
       },
       .embed = voicemail_embed,
       .filters = {{"user_id", "t.id IN (SELECT uv.voicemail_id FROM confd_user_voicemails uv WHERE uv.user_id::text = ?)"}}});

  auto periods = [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (!v.IsArray()) return "Must be a list of periods.";
    static const std::regex hhmm("([01][0-9]|2[0-3]):[0-5][0-9]|24:00");
    for (auto& p : v.GetArray()) {
      if (!p.IsObject()) return "Each period must be an object (hours_start, hours_end, week_days, month_days, months).";
      for (auto* k : {"hours_start", "hours_end"})
        if (p.HasMember(k) && (!p[k].IsString() || !std::regex_match(p[k].GetString(), hhmm)))
          return std::string("'") + k + "' must be HH:MM (00:00 to 24:00).";
      for (auto [k, hi] : {std::pair{"week_days", 7}, std::pair{"month_days", 31}, std::pair{"months", 12}}) {
        if (!p.HasMember(k)) continue;
        if (!p[k].IsArray()) return std::string("'") + k + "' must be a list of numbers.";
        for (auto& n : p[k].GetArray())
          if (!n.IsInt() || n.GetInt() < 1 || n.GetInt() > hi)
            return std::string("'") + k + "' must hold numbers from 1 to " + std::to_string(hi) + ".";
      }
      if (p.HasMember("destination"))
        if (auto why = destination()(p["destination"])) return "destination: " + *why;
    }
    return std::nullopt;
  };
  res({.path = "schedules", .table = "confd_schedules", .singular = "Schedule", .event = "schedule",
       .fields = {{"name", F::string, true, false, non_empty()},
                  {"timezone", F::string},
                  {"enabled", F::boolean, false, false},
                  {"open_periods", F::json, false, false, periods},
                  {"exceptional_periods", F::json, false, false, periods},
                  {"closed_destination", F::json, false, false, destination()}},
       .searchable = {"name", "timezone"},
       .sortable = {"name", "id", "timezone"}});

  res({.path = "callpermissions", .table = "confd_callpermissions", .singular = "CallPermission", .event = "callpermission",
       .fields = {{"name", F::string, true, false, non_empty()},
                  {"password", F::string, false, true, matches("[0-9]{0,16}", "Must be digits.")},
                  {"mode", F::string, false, false, one_of({"allow", "deny"})},
                  {"extensions", F::json, false, false, string_list()},
                  {"enabled", F::boolean, false, false},
                  {"description", F::string}},
       .searchable = {"name", "description"},
       .sortable = {"name", "id", "mode", "description"},
       .uniques = {{"name"}},
       .filters = {{"user_id", "t.id IN (SELECT uc.callpermission_id FROM confd_user_callpermissions uc WHERE uc.user_id::text = ?)"}}});

  res({.path = "callfilters", .table = "confd_callfilters", .singular = "CallFilter", .event = "call_filter",
       .fields = {{"name", F::string, true, false, non_empty()},
                  {"strategy", F::string, false, false,
                   one_of({"all-recipients-then-linear-surrogates", "all-recipients-then-all-surrogates",
                           "all-surrogates-then-all-recipients", "linear-surrogates-then-all-recipients", "all"})},
                  {"source", F::string, false, false, one_of({"internal", "external", "all"})},
                  {"caller_id_mode", F::string, false, true, one_of({"prepend", "overwrite", "append"})},
                  {"caller_id_name", F::string},
                  {"surrogates_timeout", F::integer, false, true, int_range(0, 86400)},
                  {"description", F::string},
                  {"enabled", F::boolean, false, false}},
       .searchable = {"name", "description"},
       .sortable = {"name", "id", "strategy", "source", "description"},
       .uniques = {{"name"}},
       .hidden = {"fallbacks"}});

  res({.path = "funckeys/templates", .table = "confd_funckey_templates", .singular = "FuncKeyTemplate",
       .event = "func_key_template",
       .fields = {{"name", F::string}, {"keys", F::json, false, false, funckey_map()}},
       .searchable = {"name"},
       .sortable = {"name", "id"}});

  // Every other resource carries at least its own link, as in XiVO.
  for (auto& r : resources_) {
    if (r->embed) continue;
    std::string rel = r->path == "funckeys/templates" ? "func_key_templates" : r->path;
    std::string path = r->path;
    r->embed = [rel, path](const std::string& b) { return links_embed(b, rel, path); };
  }
}

sdk::Status ConfdApi::configure(const sdk::Options& options) {
  listener_ = options.get("confd.listener", "confd");
  moh_path_ = options.get("moh.path", "");
  return {};
}

sdk::Status ConfdApi::start() {
  auto* store = host_.store();
  if (!store) return sdk::Error::unavailable("api.confd needs the store: set store.dsn in conf.d/00-kernel.conf");
  if (!host_.http()) return sdk::Error::unavailable("api.confd needs the kernel HTTP server");
  if (auto s = store->migrate(kOwner, migrations()); !s) return s;
  config_ = std::make_shared<ConfigServiceImpl>(*store, host_.bus(), host_.executor(), host_.log());
  if (auto s = config_->start(); !s) return s;
  engine_ = &config_->engine();
  if (auto s = host_.services().provide<sdk::ConfigService>("", config_); !s) return s;
  if (auto* lua = host_.lua())
    if (auto s = config_->export_lua(*lua); !s) return s;
  if (resources_.empty()) define_resources();
  for (auto& r : routes()) {
    if (auto s = host_.http()->mount(listener_, std::move(r)); !s) {
      host_.http()->unmount_all(host_.plugin_id());
      return s;
    }
  }
  mounted_ = true;
  host_.log().info("configuration API mounted on listener '" + listener_ + "' under /1.1");
  return {};
}

void ConfdApi::stop() {
  if (mounted_ && host_.http()) host_.http()->unmount_all(host_.plugin_id());
  mounted_ = false;
  if (config_) {
    host_.services().withdraw<sdk::ConfigService>("");
    config_->stop();
  }
  engine_ = nullptr;
  config_.reset();
}

std::vector<sdk::Route> ConfdApi::routes() {
  if (resources_.empty()) define_resources();
  std::vector<sdk::Route> out;
  auto add = [&](std::string method, std::string path, std::string acl, std::string summary,
                 std::function<HttpResponse(const HttpRequest&)> h, std::vector<std::string> sort = {}) {
    sdk::Route r;
    r.method = std::move(method);
    r.path = "/1.1" + path;
    r.acl = std::move(acl);
    r.summary = std::move(summary);
    r.sort_columns = std::move(sort);
    r.handler = [h](const HttpRequest& req) { return guard([&] { return h(req); }); };
    out.push_back(std::move(r));
  };

  {
    sdk::Route spec;
    spec.method = "GET";
    spec.path = "/1.1/api/api.yml";
    spec.auth = sdk::RouteAuth::none;
    spec.summary = "OpenAPI description of this API";
    spec.handler = [](const HttpRequest&) { return HttpResponse::text(200, kApiSpec, "application/x-yaml"); };
    out.push_back(std::move(spec));
  }

  // Literal paths first so /users/import is not taken for /users/{id}.
  add("POST", "/users/import", "confd.users.import.create", "Import users from CSV (all or nothing)",
      [this](auto& req) { return import_users(req); });
  add("PUT", "/users/import", "confd.users.import.update", "Update users from CSV by uuid (all or nothing)",
      [this](auto& req) { return update_users_csv(req); });
  add("GET", "/users/export", "confd.users.export.read", "Export users as CSV",
      [this](auto& req) { return export_users(req); });

  AddRoute adder = [&add](std::string method, std::string path, std::string acl, std::string summary, Handler h) {
    add(std::move(method), std::move(path), std::move(acl), std::move(summary), std::move(h));
  };
  // Before /extensions/{id}.
  feature_extension_routes([&add](std::string method, std::string path, std::string acl, std::string summary,
                                  Handler h, std::vector<std::string> sort) {
    add(std::move(method), std::move(path), std::move(acl), std::move(summary), std::move(h), std::move(sort));
  });

  for (auto& rp : resources_) {
    auto r = rp;
    std::string acl = "confd." + r->path;
    std::replace(acl.begin(), acl.end(), '/', '.');
    bool users = r->path == "users";
    std::string p = "/" + r->path;
    add("GET", p, acl + ".read", "List " + r->path,
        [this, r](auto& req) { return engine_->list(*r, req); }, r->sortable);
    add("POST", p, acl + ".create", "Create a " + r->singular,
        [this, r](auto& req) { return engine_->create(*r, req.body, base_url(req)); });
    auto resolve = [this, r, users](const HttpRequest& req) {
      return users ? user_id(nullptr, req.params.at("id")) : parse_id(r->singular, req.params.at("id"));
    };
    add("GET", p + "/{id}", acl + ".{id}.read", "Read a " + r->singular,
        [this, r, resolve](auto& req) { return engine_->get(*r, resolve(req), base_url(req)); });
    add("PUT", p + "/{id}", acl + ".{id}.update", "Update a " + r->singular,
        [this, r, resolve](auto& req) { return engine_->update(*r, resolve(req), req.body); });
    add("DELETE", p + "/{id}", acl + ".{id}.delete", "Delete a " + r->singular,
        [this, r, resolve](auto& req) { return engine_->remove(*r, resolve(req)); });
  }

  auto id_of = [](const HttpRequest& req, const char* name, const char* singular) {
    return parse_id(singular, req.params.at(name));
  };
  auto assoc_event = [this](sdk::Transaction& tx, const std::string& ev, const std::string& action,
                            long a, const char* an, long b, const char* bn) {
    engine_->notify(tx, ev, action, a,
                    sdk::json::object({{an, a}, {bn, b}}));
  };

  // users <-> lines
  add("GET", "/users/{user_id}/lines", "confd.users.{user_id}.lines.read", "Lines of a user",
      [this](auto& req) {
        long uid = user_id(nullptr, req.params.at("user_id"));
        auto q = read(engine_->store(),
                      "SELECT count(*) AS n, coalesce(jsonb_agg(jsonb_build_object('user_id', user_id, 'line_id', line_id, "
                      "'main_user', main_user, 'main_line', main_line, 'links', jsonb_build_array(" +
                          sql_link("$2::text", "lines", "lines", "line_id") + ", " +
                          sql_link("$2::text", "users", "users", "user_id") +
                          ")) ORDER BY main_line DESC, line_id), '[]') AS j FROM confd_user_lines WHERE user_id = $1",
                      {std::to_string(uid), base_url(req)});
        return HttpResponse::json(200, items_body(q));
      });
  add("PUT", "/users/{user_id}/lines/{line_id}", "confd.users.{user_id}.lines.{line_id}.update", "Associate a line to a user",
      [this, id_of, assoc_event](auto& req) {
        long lid = id_of(req, "line_id", "Line");
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          require_row(tx, "confd_lines", "Line", lid);
          if (!run(tx, "SELECT 1 FROM confd_user_lines WHERE user_id=$1 AND line_id=$2",
                   {std::to_string(uid), std::to_string(lid)}).rows.empty())
            return HttpResponse::empty(204);
          run(tx,
              "INSERT INTO confd_user_lines (user_id, line_id, main_user, main_line) VALUES ($1, $2, "
              "NOT EXISTS (SELECT 1 FROM confd_user_lines WHERE line_id = $2), "
              "NOT EXISTS (SELECT 1 FROM confd_user_lines WHERE user_id = $1))",
              {std::to_string(uid), std::to_string(lid)});
          assoc_event(tx, "user_line", "created", uid, "user_id", lid, "line_id");
          return HttpResponse::empty(204);
        });
      });
  add("DELETE", "/users/{user_id}/lines/{line_id}", "confd.users.{user_id}.lines.{line_id}.delete", "Dissociate a line from a user",
      [this, id_of, assoc_event](auto& req) {
        long lid = id_of(req, "line_id", "Line");
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          auto q = run(tx, "SELECT main_user FROM confd_user_lines WHERE user_id=$1 AND line_id=$2",
                       {std::to_string(uid), std::to_string(lid)});
          if (q.rows.empty())
            throw ApiError{404, {"Resource Not Found - UserLine was not found ('user_id': " + std::to_string(uid) +
                                 ", 'line_id': " + std::to_string(lid) + ")"}};
          if (q.get(0, "main_user") == "t")
            refuse_if(tx, "SELECT 1 FROM confd_user_lines WHERE line_id = $1 AND NOT main_user", lid,
                      "There are secondary users associated to the line: dissociate them first");
          run(tx, "DELETE FROM confd_user_lines WHERE user_id=$1 AND line_id=$2", {std::to_string(uid), std::to_string(lid)});
          run(tx,
              "UPDATE confd_user_lines SET main_line = true WHERE user_id = $1 AND line_id = "
              "(SELECT min(line_id) FROM confd_user_lines WHERE user_id = $1) "
              "AND NOT EXISTS (SELECT 1 FROM confd_user_lines WHERE user_id = $1 AND main_line)",
              {std::to_string(uid)});
          assoc_event(tx, "user_line", "deleted", uid, "user_id", lid, "line_id");
          return HttpResponse::empty(204);
        });
      });

  // Extension associations share one shape: owner table, link table, range kind.
  struct ExtAssoc {
    const char* path;
    const char* param;
    const char* owner_table;
    const char* owner;
    const char* link;
    const char* link_col;
    const char* kind;
    const char* event;
  };
  for (auto a : {ExtAssoc{"lines", "line_id", "confd_lines", "Line", "confd_line_extensions", "line_id", "user", "line_extension"},
                 ExtAssoc{"incalls", "incall_id", "confd_incalls", "Incall", "confd_incall_extensions", "incall_id", "incall", "incall_extension"},
                 ExtAssoc{"groups", "group_id", "confd_groups", "Group", "confd_group_extensions", "group_id", "group", "group_extension"},
                 ExtAssoc{"conferences", "conference_id", "confd_conferences", "Conference", "confd_conference_extensions",
                          "conference_id", "conference", "conference_extension"},
                 ExtAssoc{"parkinglots", "parkinglot_id", "confd_parkinglots", "ParkingLot", "confd_parkinglot_extensions",
                          "parkinglot_id", "parking", "parkinglot_extension"}}) {
    std::string base = std::string("/") + a.path + "/{" + a.param + "}/extensions";
    std::string acl = std::string("confd.") + a.path + ".{" + a.param + "}.extensions";
    add("GET", base, acl + ".read", std::string("Extensions of a ") + a.owner,
        [this, a, id_of](auto& req) {
          long oid = id_of(req, a.param, a.owner);
          auto q = engine_->store().exec(
              std::string("SELECT coalesce(json_agg(json_build_object('") + a.link_col + "', l." + a.link_col +
                  ", 'extension_id', e.id, 'exten', e.exten, 'context', e.context) ORDER BY e.id), '[]') AS j, "
                  "count(*) AS n FROM " +
                  a.link + " l JOIN confd_extensions e ON e.id = l.extension_id WHERE l." + a.link_col + " = $1",
              {std::to_string(oid)});
          if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
          // xivo-confd-client's list_extensions() callers read "total".
          return HttpResponse::json(200, items_body(*q));
        });
    add("PUT", base + "/{extension_id}", acl + ".{extension_id}.update", std::string("Associate an extension to a ") + a.owner,
        [this, a, id_of, assoc_event](auto& req) {
          long oid = id_of(req, a.param, a.owner);
          long eid = id_of(req, "extension_id", "Extension");
          return engine_->write([&](sdk::Transaction& tx) {
            require_row(tx, a.owner_table, a.owner, oid);
            require_row(tx, "confd_extensions", "Extension", eid);
            std::string owner = extension_owner(tx, eid);
            if (owner != "any") {
              if (!run(tx, std::string("SELECT 1 FROM ") + a.link + " WHERE " + a.link_col + "=$1 AND extension_id=$2",
                       {std::to_string(oid), std::to_string(eid)}).rows.empty())
                return HttpResponse::empty(204);
              throw ApiError{400, {"Resource Error - Extension is already associated with a " +
                                   std::string(owner == "user"     ? "Line"
                                               : owner == "incall"   ? "Incall"
                                               : owner == "conference" ? "Conference"
                                               : owner == "parking"    ? "ParkingLot"
                                                                     : "Group")}};
            }
            check_extension_range(tx, eid, a.kind);
            if (std::string(a.kind) == "user") {
              auto c = run(tx, "SELECT 1 FROM confd_lines l, confd_extensions e WHERE l.id=$1 AND e.id=$2 AND l.context=e.context",
                           {std::to_string(oid), std::to_string(eid)});
              if (c.rows.empty())
                throw ApiError{400, {"Input Error - the extension's context must be the line's context"}};
            }
            run(tx, std::string("INSERT INTO ") + a.link + " (" + a.link_col + ", extension_id) VALUES ($1, $2)",
                {std::to_string(oid), std::to_string(eid)});
            assoc_event(tx, a.event, "created", oid, a.link_col, eid, "extension_id");
            return HttpResponse::empty(204);
          });
        });
    add("DELETE", base + "/{extension_id}", acl + ".{extension_id}.delete", std::string("Dissociate an extension from a ") + a.owner,
        [this, a, id_of, assoc_event](auto& req) {
          long oid = id_of(req, a.param, a.owner);
          long eid = id_of(req, "extension_id", "Extension");
          return engine_->write([&](sdk::Transaction& tx) {
            auto q = run(tx, std::string("DELETE FROM ") + a.link + " WHERE " + a.link_col + "=$1 AND extension_id=$2 RETURNING 1",
                         {std::to_string(oid), std::to_string(eid)});
            if (q.rows.empty())
              throw ApiError{404, {std::string("Resource Not Found - ") + a.owner + "Extension was not found ('" + a.link_col +
                                   "': " + std::to_string(oid) + ", 'extension_id': " + std::to_string(eid) + ")"}};
            assoc_event(tx, a.event, "deleted", oid, a.link_col, eid, "extension_id");
            return HttpResponse::empty(204);
          });
        });
  }

  // lines <-> devices (the device id is provd's string id)
  add("PUT", "/lines/{line_id}/devices/{device_id}", "confd.lines.{line_id}.devices.{device_id}.update", "Associate a device to a line",
      [this, id_of](auto& req) {
        long lid = id_of(req, "line_id", "Line");
        std::string dev = req.params.at("device_id");
        static const std::regex dev_re("[A-Za-z0-9_.:-]{1,64}");
        if (!std::regex_match(dev, dev_re))
          throw ApiError{400, {"Input Error - device id '" + dev + "' must match [A-Za-z0-9_.:-]{1,64}"}};
        return engine_->write([&](sdk::Transaction& tx) {
          require_row(tx, "confd_lines", "Line", lid);
          run(tx, "UPDATE confd_lines SET device_id = $2 WHERE id = $1", {std::to_string(lid), dev});
          engine_->notify_line_device(tx, "created", lid, dev);
          return HttpResponse::empty(204);
        });
      });
  add("DELETE", "/lines/{line_id}/devices/{device_id}", "confd.lines.{line_id}.devices.{device_id}.delete", "Dissociate a device from a line",
      [this, id_of](auto& req) {
        long lid = id_of(req, "line_id", "Line");
        std::string dev = req.params.at("device_id");
        return engine_->write([&](sdk::Transaction& tx) {
          auto q = run(tx, "UPDATE confd_lines SET device_id = NULL WHERE id = $1 AND device_id = $2 RETURNING id",
                       {std::to_string(lid), dev});
          if (q.rows.empty())
            throw ApiError{404, {"Resource Not Found - LineDevice was not found ('line_id': " + std::to_string(lid) +
                                 ", 'device_id': '" + dev + "')"}};
          engine_->notify_line_device(tx, "deleted", lid, dev);
          return HttpResponse::empty(204);
        });
      });

  // lines / trunks <-> SIP endpoints, trunks <-> custom endpoints (a trunk
  // has one endpoint of either kind)
  struct EndpointLink {
    const char *path, *param, *table, *owner, *event, *kind, *column, *endpoint_table, *noun, *described;
  };
  for (auto l : {EndpointLink{"lines", "line_id", "confd_lines", "Line", "line_endpoint_sip", "sip", "endpoint_sip_id",
                              "confd_endpoints_sip", "SIPEndpoint", "a SIP endpoint"},
                 EndpointLink{"trunks", "trunk_id", "confd_trunks", "Trunk", "trunk_endpoint_sip", "sip",
                              "endpoint_sip_id", "confd_endpoints_sip", "SIPEndpoint", "a SIP endpoint"},
                 EndpointLink{"trunks", "trunk_id", "confd_trunks", "Trunk", "trunk_endpoint_custom", "custom",
                              "endpoint_custom_id", "confd_endpoints_custom", "CustomEndpoint", "a custom endpoint"}}) {
    std::string base = std::string("/") + l.path + "/{" + l.param + "}/endpoints/" + l.kind + "/{endpoint_id}";
    std::string acl = std::string("confd.") + l.path + ".{" + l.param + "}.endpoints." + l.kind + ".{endpoint_id}";
    std::string P = l.param, T = l.table, O = l.owner, E = l.event, C = l.column, ET = l.endpoint_table, N = l.noun;
    // Every endpoint column of the owner: a trunk with a SIP endpoint has no custom one.
    std::string all = T == "confd_trunks" ? "coalesce(endpoint_sip_id::text, endpoint_custom_id::text)" : C + "::text";
    add("PUT", base, acl + ".update", std::string("Associate ") + l.described + " to a " + O,
        [this, P, T, O, E, C, ET, N, all, id_of, assoc_event](auto& req) {
          long oid = id_of(req, P.c_str(), O.c_str());
          long sid = id_of(req, "endpoint_id", N.c_str());
          return engine_->write([&](sdk::Transaction& tx) {
            require_row(tx, T, O, oid);
            require_row(tx, ET, N, sid);
            auto cur = run(tx, "SELECT " + C + " AS mine, " + all + " AS any FROM " + T + " WHERE id = $1",
                           {std::to_string(oid)});
            if (cur.get(0, "mine") == std::to_string(sid)) return HttpResponse::empty(204);
            if (!cur.get(0, "any").empty())
              throw ApiError{400, {"Resource Error - " + O + " already has an endpoint: dissociate it first"}};
            if (ET == "confd_endpoints_sip")
              refuse_if(tx, "SELECT 1 FROM confd_lines WHERE endpoint_sip_id = $1", sid, N + " is already associated with a Line");
            refuse_if(tx, "SELECT 1 FROM confd_trunks WHERE " + C + " = $1", sid, N + " is already associated with a Trunk");
            run(tx, "UPDATE " + T + " SET " + C + " = $2 WHERE id = $1", {std::to_string(oid), std::to_string(sid)});
            assoc_event(tx, E, "created", oid, P.c_str(), sid, "endpoint_id");
            return HttpResponse::empty(204);
          });
        });
    add("DELETE", base, acl + ".delete", std::string("Dissociate ") + l.described + " from a " + O,
        [this, P, T, O, E, C, N, id_of, assoc_event](auto& req) {
          long oid = id_of(req, P.c_str(), O.c_str());
          long sid = id_of(req, "endpoint_id", N.c_str());
          return engine_->write([&](sdk::Transaction& tx) {
            auto q = run(tx, "UPDATE " + T + " SET " + C + " = NULL WHERE id = $1 AND " + C + " = $2 RETURNING id",
                         {std::to_string(oid), std::to_string(sid)});
            if (q.rows.empty())
              throw ApiError{404, {"Resource Not Found - " + O + "Endpoint was not found ('" + P + "': " +
                                   std::to_string(oid) + ", 'endpoint_id': " + std::to_string(sid) + ")"}};
            assoc_event(tx, E, "deleted", oid, P.c_str(), sid, "endpoint_id");
            return HttpResponse::empty(204);
          });
        });
  }

  // Ordered member lists (an outcall's trunks, a group's users): GET reads
  // them in position order (404 for a parent that does not exist), PUT
  // replaces the whole list, positions from 1.
  struct MemberList {
    std::string path, acl;     // "/outcalls/{outcall_id}/trunks", "confd.outcalls.{outcall_id}.trunks"
    const char* parent_param;  // "outcall_id"
    const char* parent;        // "Outcall"
    const char* parent_table;  // "confd_outcalls"
    const char* link_table;    // "confd_outcall_trunks"
    const char* field;         // "trunks": the body's and the answer's list
    const char* noun;          // "trunk", in "trunk 3 is listed twice"
    const char* missing;       // the 400's words when the list is absent
    const char* event;         // "outcall_trunks"
    std::string select;        // one row, "j": the json list; $1 the parent id
    // Checks one item: its reference (id or uuid) first, then the other
    // columns' values; throws the 400 naming what is wrong.
    std::function<std::vector<std::string>(const rapidjson::Value&)> parse;
    // The member's id for a reference, or the 400 naming it.
    std::function<long(sdk::Transaction&, const std::string&)> resolve;
    // The INSERT: $1 parent, $2 member, $3 position, then parse's other values.
    std::string insert;
  };
  auto member_routes = [this, &add, id_of](const char* read_summary, const char* set_summary, MemberList m) {
    add("GET", m.path, m.acl + ".read", read_summary, [this, m, id_of](auto& req) {
      long pid = id_of(req, m.parent_param, m.parent);
      auto found = engine_->store().exec(std::string("SELECT 1 FROM ") + m.parent_table + " WHERE id = $1",
                                         {std::to_string(pid)});
      if (!found) throw ApiError{503, {"Resource Error - " + found.error().message}};
      if (found->rows.empty()) throw ApiError{404, {not_found(m.parent, "id", std::to_string(pid))}};
      auto q = engine_->store().exec(m.select, {std::to_string(pid)});
      if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
      return HttpResponse::json(200, sdk::json::object({{m.field, sdk::json::Raw{q->get(0, "j")}}}));
    });
    add("PUT", m.path, m.acl + ".update", set_summary, [this, m, id_of](auto& req) {
      long pid = id_of(req, m.parent_param, m.parent);
      auto doc = parse_body(req.body);
      if (!doc.IsObject() || !doc.HasMember(m.field) || !doc[m.field].IsArray())
        throw ApiError{400, {std::string("Input Error - field '") + m.field + "': " + m.missing}};
      std::vector<std::vector<std::string>> items;
      for (auto& v : doc[m.field].GetArray()) items.push_back(m.parse(v));
      return engine_->write([&](sdk::Transaction& tx) {
        require_row(tx, m.parent_table, m.parent, pid);
        run(tx, std::string("DELETE FROM ") + m.link_table + " WHERE " + m.parent_param + " = $1", {std::to_string(pid)});
        std::set<long> seen;
        for (std::size_t i = 0; i < items.size(); ++i) {
          long id = m.resolve(tx, items[i][0]);
          if (!seen.insert(id).second)
            throw ApiError{400, {std::string("Input Error - field '") + m.field + "': " + m.noun + " " + items[i][0] +
                                 " is listed twice"}};
          sdk::Params ps{std::to_string(pid), std::to_string(id), std::to_string(i + 1)};
          ps.insert(ps.end(), items[i].begin() + 1, items[i].end());
          run(tx, m.insert, ps);
        }
        engine_->notify(tx, m.event, "edited", pid, sdk::json::object({{m.parent_param, pid}}));
        return HttpResponse::empty(204);
      });
    });
  };

  member_routes(
      "Trunks of an outcall, in order", "Set the ordered trunks of an outcall",
      {"/outcalls/{outcall_id}/trunks", "confd.outcalls.{outcall_id}.trunks", "outcall_id", "Outcall", "confd_outcalls",
       "confd_outcall_trunks", "trunks", "trunk", "Missing list of {\"id\": <trunk id>}.", "outcall_trunks",
       "SELECT coalesce(json_agg(json_build_object('id', trunk_id, 'position', position) ORDER BY position), '[]') AS j "
       "FROM confd_outcall_trunks WHERE outcall_id = $1",
       [](const rapidjson::Value& t) -> std::vector<std::string> {
         if (!t.IsObject() || !t.HasMember("id") || !t["id"].IsInt())
           throw ApiError{400, {"Input Error - field 'trunks': each item must be {\"id\": <integer>}."}};
         return {std::to_string(t["id"].GetInt())};
       },
       [](sdk::Transaction& tx, const std::string& id) {
         if (run(tx, "SELECT 1 FROM confd_trunks WHERE id = $1", {id}).rows.empty())
           throw ApiError{400, {"Input Error - field 'trunks': " + not_found("Trunk", "id", id)}};
         return std::stol(id);
       },
       "INSERT INTO confd_outcall_trunks (outcall_id, trunk_id, position) VALUES ($1, $2, $3)"});

  member_routes(
      "Member users of a group", "Set the member users of a group",
      {"/groups/{group_id}/members/users", "confd.groups.{group_id}.members.users", "group_id", "Group", "confd_groups",
       "confd_group_members", "users", "user", "Missing list of {\"uuid\": ...} or {\"id\": ...}.", "group_members",
       "SELECT coalesce(json_agg(json_build_object('id', u.id, 'uuid', u.uuid, 'firstname', u.firstname, "
       "'lastname', u.lastname, 'priority', m.position, 'penalty', m.penalty) ORDER BY m.position), '[]') AS j "
       "FROM confd_group_members m JOIN confd_users u ON u.id = m.user_id WHERE m.group_id = $1",
       [](const rapidjson::Value& u) -> std::vector<std::string> {
         std::string ref;
         if (u.IsObject() && u.HasMember("uuid") && u["uuid"].IsString()) ref = u["uuid"].GetString();
         else if (u.IsObject() && u.HasMember("id") && u["id"].IsInt()) ref = std::to_string(u["id"].GetInt());
         else throw ApiError{400, {"Input Error - field 'users': each item must be {\"uuid\": <string>} or {\"id\": <integer>}."}};
         // The weight of ring strategy weight_random: a higher penalty rings first less often.
         int penalty = 0;
         if (u.HasMember("penalty")) {
           if (!u["penalty"].IsInt() || u["penalty"].GetInt() < 0 || u["penalty"].GetInt() > 99)
             throw ApiError{400, {"Input Error - field 'users': penalty must be an integer from 0 to 99."}};
           penalty = u["penalty"].GetInt();
         }
         return {ref, std::to_string(penalty)};
       },
       [this](sdk::Transaction& tx, const std::string& ref) {
         try {
           return user_id(&tx, ref);
         } catch (ApiError& e) {
           e.status = 400;
           throw;
         }
       },
       "INSERT INTO confd_group_members (group_id, user_id, position, penalty) VALUES ($1, $2, $3, $4)"});

  // users -> forwards (the checks and the write are user_features.cc's,
  // shared with the feature codes through the config service)
  auto forward_json = [](const sdk::QueryResult& q, const std::string& f) {
    const auto& destination = q.rows[0][q.column("forward_" + f + "_destination")];
    return sdk::json::object({{"enabled", q.get(0, "forward_" + f + "_enabled") == "t"}, {"destination", destination}});
  };
  auto read_user = [this](long uid) {
    auto q = engine_->store().exec("SELECT * FROM confd_users WHERE id = $1", {std::to_string(uid)});
    if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
    if (q->rows.empty()) throw ApiError{404, {not_found("User", "id", std::to_string(uid))}};
    return std::move(*q);
  };
  auto save_user = [this](const HttpRequest& req, const std::string& sets, sdk::Params ps) {
    return engine_->write([&](sdk::Transaction& tx) {
      save_user_features(*engine_, tx, user_id(&tx, req.params.at("user_id")), sets, ps);
      return HttpResponse::empty(204);
    });
  };
  auto service_json = [](const sdk::QueryResult& q, const std::string& s) {
    return sdk::json::object({{"enabled", q.get(0, "service_" + s + "_enabled") == "t"}});
  };
  // A user's forwards and services: the whole set and each one by name, read
  // from and written to the user's row.
  struct Features {
    const char* path;    // "forwards"
    const char* param;   // "forward"
    const char* noun;    // "Forward"
    const char* plural;  // "Forwards", in the summaries
    const std::vector<std::string>* names;
    const char* unknown;  // the 400 for a name not in `names`
    std::function<std::string(const sdk::QueryResult&, const std::string&)> json;
    void (*sets)(const rapidjson::Value&, const std::string&, sdk::Params&, std::string&);
  };
  auto feature_routes = [this, &add, read_user, save_user](const Features& f) {
    std::string base = std::string("/users/{user_id}/") + f.path;
    std::string acl = std::string("confd.users.{user_id}.") + f.path;
    std::string one = std::string("/{") + f.param + "}";
    std::string one_acl = std::string(".{") + f.param + "}";
    auto known = [f](const std::string& name) {
      if (std::find(f.names->begin(), f.names->end(), name) == f.names->end())
        throw ApiError{404, {std::string("Resource Not Found - ") + f.noun + " was not found ('" + f.param + "': '" +
                             name + "')"}};
    };
    add("GET", base, acl + ".read", std::string(f.plural) + " of a user", [this, f, read_user](auto& req) {
      auto q = read_user(user_id(nullptr, req.params.at("user_id")));
      std::vector<sdk::json::Member> members;
      for (auto& n : *f.names) members.emplace_back(n, sdk::json::Raw{f.json(q, n)});
      return HttpResponse::json(200, sdk::json::object(members));
    });
    add("PUT", base, acl + ".update", "Set all " + std::string(f.path) + " of a user", [f, save_user](auto& req) {
      auto doc = parse_body(req.body);
      if (!doc.IsObject()) throw ApiError{400, {"Input Error - body must be a JSON object"}};
      sdk::Params ps;
      std::string sets;
      for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
        std::string n = m->name.GetString();
        if (std::find(f.names->begin(), f.names->end(), n) == f.names->end())
          throw ApiError{400, {"Input Error - field '" + n + "': " + f.unknown}};
        f.sets(m->value, n, ps, sets);
      }
      return save_user(req, sets, ps);
    });
    add("GET", base + one, acl + one_acl + ".read", "One " + std::string(f.param) + " of a user",
        [this, f, known, read_user](auto& req) {
          auto n = req.params.at(f.param);
          known(n);
          return HttpResponse::json(200, f.json(read_user(user_id(nullptr, req.params.at("user_id"))), n));
        });
    add("PUT", base + one, acl + one_acl + ".update", "Set one " + std::string(f.param) + " of a user",
        [f, known, save_user](auto& req) {
          auto n = req.params.at(f.param);
          known(n);
          auto doc = parse_body(req.body);
          sdk::Params ps;
          std::string sets;
          f.sets(doc, n, ps, sets);
          return save_user(req, sets, ps);
        });
  };
  feature_routes({"forwards", "forward", "Forward", "Forwards", &kForwardKinds,
                  "Unknown forward (busy, noanswer, unconditional).", forward_json, forward_sets});
  feature_routes({"services", "service", "Service", "Services", &kServiceNames, "Unknown service (dnd, incallfilter).",
                  service_json, service_sets});

  // users -> funckeys
  auto position_of = [](const HttpRequest& req) {
    auto p = req.params.at("position");
    if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit) || std::stoi(p) < 1)
      throw ApiError{404, {"Resource Not Found - FuncKey was not found ('position': '" + p + "')"}};
    return std::stol(p);
  };
  add("GET", "/users/{user_id}/funckeys", "confd.users.{user_id}.funckeys.read", "Function keys of a user",
      [this](auto& req) {
        long uid = user_id(nullptr, req.params.at("user_id"));
        // The user's own keys, then keys of associated templates at free positions.
        auto q = engine_->store().exec(
            "SELECT coalesce(jsonb_object_agg(k.pos, k.j), '{}') AS j FROM ("
            "SELECT position::text AS pos, jsonb_build_object('blf', blf, 'label', label, 'inherited', false, "
            "'destination', destination) AS j FROM confd_user_funckeys WHERE user_id = $1 UNION ALL "
            "(SELECT DISTINCT ON (kv.key) kv.key, kv.value || '{\"inherited\": true}' FROM confd_user_funckey_templates ut "
            "JOIN confd_funckey_templates ft ON ft.id = ut.template_id, jsonb_each(ft.keys) kv WHERE ut.user_id = $1 "
            "AND kv.key NOT IN (SELECT position::text FROM confd_user_funckeys WHERE user_id = $1) "
            "ORDER BY kv.key, ut.template_id)) k",
            {std::to_string(uid)});
        if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
        return HttpResponse::json(200, sdk::json::object({{"keys", sdk::json::Raw{q->get(0, "j")}}}));
      });
  add("GET", "/users/{user_id}/funckeys/{position}", "confd.users.{user_id}.funckeys.{position}.read", "One function key",
      [this, position_of](auto& req) {
        long uid = user_id(nullptr, req.params.at("user_id"));
        long pos = position_of(req);
        auto q = engine_->store().exec(
            "SELECT json_build_object('blf', blf, 'label', label, 'destination', destination) AS j "
            "FROM confd_user_funckeys WHERE user_id = $1 AND position = $2", {std::to_string(uid), std::to_string(pos)});
        if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
        if (q->rows.empty())
          throw ApiError{404, {"Resource Not Found - FuncKey was not found ('position': " + std::to_string(pos) + ")"}};
        return HttpResponse::json(200, q->get(0, "j"));
      });
  add("PUT", "/users/{user_id}/funckeys/{position}", "confd.users.{user_id}.funckeys.{position}.update", "Set one function key",
      [this, position_of](auto& req) {
        long pos = position_of(req);
        auto doc = parse_body(req.body);
        std::vector<std::string> errs;
        if (!doc.IsObject()) throw ApiError{400, {"Input Error - body must be a JSON object"}};
        for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
          std::string k = m->name.GetString();
          if (k == "blf" && !m->value.IsBool()) errs.push_back("Input Error - field 'blf': Not a valid boolean.");
          else if (k == "label" && !m->value.IsString() && !m->value.IsNull()) errs.push_back("Input Error - field 'label': Not a valid string.");
          else if (k == "destination") {
            if (auto why = funckey_destination(m->value)) errs.push_back("Input Error - field 'destination': " + *why);
          } else if (k != "blf" && k != "label" && k != "inherited") errs.push_back("Input Error - field '" + k + "': Unknown field.");
        }
        if (!doc.HasMember("destination")) errs.push_back("Input Error - field 'destination': Missing data for required field.");
        if (!errs.empty()) throw ApiError{400, errs};
        bool blf = doc.HasMember("blf") && doc["blf"].GetBool();
        sdk::Param label = doc.HasMember("label") && doc["label"].IsString() ? sdk::Param{doc["label"].GetString()} : std::nullopt;
        std::string dest = to_json(doc["destination"]);
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          if (std::string(doc["destination"]["type"].GetString()) == "user") {
            auto q = run(tx, "SELECT 1 FROM confd_users WHERE id = $1", {to_param(doc["destination"]["user_id"])});
            if (q.rows.empty()) throw ApiError{400, {"Input Error - field 'destination': the user does not exist"}};
          }
          run(tx,
              "INSERT INTO confd_user_funckeys (user_id, position, blf, label, destination) VALUES ($1,$2,$3,$4,$5) "
              "ON CONFLICT (user_id, position) DO UPDATE SET blf = EXCLUDED.blf, label = EXCLUDED.label, "
              "destination = EXCLUDED.destination",
              {std::to_string(uid), std::to_string(pos), blf ? "true" : "false", label, dest});
          engine_->notify(tx, "user_funckey", "edited", uid,
                          sdk::json::object({{"user_id", uid}, {"position", pos}}));
          return HttpResponse::empty(204);
        });
      });
  add("DELETE", "/users/{user_id}/funckeys/{position}", "confd.users.{user_id}.funckeys.{position}.delete", "Remove one function key",
      [this, position_of](auto& req) {
        long pos = position_of(req);
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          auto q = run(tx, "DELETE FROM confd_user_funckeys WHERE user_id = $1 AND position = $2 RETURNING 1",
                       {std::to_string(uid), std::to_string(pos)});
          if (q.rows.empty())
            throw ApiError{404, {"Resource Not Found - FuncKey was not found ('position': " + std::to_string(pos) + ")"}};
          engine_->notify(tx, "user_funckey", "deleted", uid,
                          sdk::json::object({{"user_id", uid}, {"position", pos}}));
          return HttpResponse::empty(204);
        });
      });

  // users <-> callpermissions and voicemails: plain link tables
  struct Link {
    const char* path;
    const char* param;
    const char* table;
    const char* singular;
    const char* link;
    const char* col;
    const char* event;
  };
  for (auto l : {Link{"callpermissions", "callpermission_id", "confd_callpermissions", "CallPermission",
                      "confd_user_callpermissions", "callpermission_id", "user_callpermission"},
                 Link{"voicemails", "voicemail_id", "confd_voicemails", "Voicemail", "confd_user_voicemails",
                      "voicemail_id", "user_voicemail"}}) {
    std::string base = std::string("/users/{user_id}/") + l.path;
    std::string acl = std::string("confd.users.{user_id}.") + l.path;
    // The GET sides are in relations.cc (XiVO's shapes differ per link).
    add("PUT", base + "/{" + l.param + "}", acl + ".{" + l.param + "}.update", std::string("Associate a ") + l.singular + " to a user",
        [this, l, id_of, assoc_event](auto& req) {
          long oid = id_of(req, l.param, l.singular);
          return engine_->write([&](sdk::Transaction& tx) {
            long uid = user_id(&tx, req.params.at("user_id"));
            require_row(tx, l.table, l.singular, oid);
            if (std::string(l.link) == "confd_user_voicemails") {
              auto cur = run(tx, "SELECT voicemail_id FROM confd_user_voicemails WHERE user_id = $1", {std::to_string(uid)});
              if (cur.get(0, "voicemail_id") == std::to_string(oid)) return HttpResponse::empty(204);
              if (!cur.rows.empty())
                throw ApiError{400, {"Resource Error - User already has a Voicemail: dissociate it first"}};
            }
            run(tx, std::string("INSERT INTO ") + l.link + " (user_id, " + l.col + ") VALUES ($1, $2) ON CONFLICT DO NOTHING",
                {std::to_string(uid), std::to_string(oid)});
            assoc_event(tx, l.event, "created", uid, "user_id", oid, l.col);
            return HttpResponse::empty(204);
          });
        });
    add("DELETE", base + "/{" + l.param + "}", acl + ".{" + l.param + "}.delete", std::string("Dissociate a ") + l.singular + " from a user",
        [this, l, id_of, assoc_event](auto& req) {
          long oid = id_of(req, l.param, l.singular);
          return engine_->write([&](sdk::Transaction& tx) {
            long uid = user_id(&tx, req.params.at("user_id"));
            auto q = run(tx, std::string("DELETE FROM ") + l.link + " WHERE user_id = $1 AND " + l.col + " = $2 RETURNING 1",
                         {std::to_string(uid), std::to_string(oid)});
            if (q.rows.empty())
              throw ApiError{404, {std::string("Resource Not Found - User") + l.singular + " was not found ('user_id': " +
                                   std::to_string(uid) + ", '" + l.col + "': " + std::to_string(oid) + ")"}};
            assoc_event(tx, l.event, "deleted", uid, "user_id", oid, l.col);
            return HttpResponse::empty(204);
          });
        });
  }
  relation_routes(adder);
  routing_routes(adder);
  context_routes(adder);
  callfilter_routes(adder);
  callpickup_routes(adder);
  paging_routes(adder);
  funckey_routes(adder);
  system_routes(adder);
  wizard_routes(adder);
  moh_routes(adder);
  sound_routes(adder);
  return out;
}

}  // namespace dialtone::plugins::api::confd
