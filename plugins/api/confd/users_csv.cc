// CSV import, mass update and export of users (seed 5.33.1). An import is
// validated entirely in memory first (every error with its line number),
// then written with one multi-row statement per table inside a single
// transaction, so 10,000 users cost a handful of round trips.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <regex>
#include <set>

#include <rapidjson/document.h>

#include <dialtone/bus.h>
#include <dialtone/random.h>
#include <dialtone/text.h>

#include "plugins/api/confd/confd_api.h"
#include "plugins/common/csv/csv.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpResponse;

bool valid_utf8(const std::string& s, std::size_t* bad) {
  std::size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n) { *bad = i; return false; }
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) { *bad = i; return false; }
    i += len;
  }
  return true;
}

// The messages of an XiVO error list body (what Engine::write answers).
std::vector<std::string> as_messages(const std::string& body) {
  std::vector<std::string> out;
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.IsArray())
    for (auto& m : d.GetArray())
      if (m.IsString()) out.emplace_back(m.GetString());
  if (out.empty()) out.push_back(body);
  return out;
}

struct Range {
  std::string start, end;
};
struct Context {
  std::string type;
  std::map<std::string, std::vector<Range>> ranges;  // "user", "incall"
};

bool in_ranges(const std::vector<Range>& rs, const std::string& exten) {
  if (exten.empty() || !std::all_of(exten.begin(), exten.end(), ::isdigit)) return false;
  for (auto& r : rs)
    if (r.start.size() == exten.size() && exten >= r.start && exten <= r.end) return true;
  return false;
}

std::map<std::string, Context> load_contexts(sdk::Transaction& tx) {
  std::map<std::string, Context> out;
  auto q = run(tx, "SELECT name, type, user_ranges::text AS u, incall_ranges::text AS i FROM confd_contexts");
  for (std::size_t r = 0; r < q.rows.size(); ++r) {
    Context c;
    c.type = q.get(r, "type");
    for (auto [key, col] : {std::pair{"user", "u"}, std::pair{"incall", "i"}}) {
      rapidjson::Document d;
      d.Parse(q.get(r, col).c_str());
      if (!d.IsArray()) continue;
      for (auto& x : d.GetArray()) {
        if (!x.IsObject() || !x.HasMember("start")) continue;
        std::string s = x["start"].GetString();
        std::string e = x.HasMember("end") && x["end"].IsString() ? x["end"].GetString() : s;
        c.ranges[key].push_back({s, e});
      }
    }
    out[q.get(r, "name")] = std::move(c);
  }
  return out;
}

// Column groups of seed 5.33.1; a resource is created when its required
// columns are present and non-empty. entity_id, cti_* and line_site are
// accepted for compatibility with XiVO files and ignored (one entity, no CTI).
const std::vector<std::string> kUserCols = {
    "firstname", "lastname", "email", "language", "mobile_phone_number", "outgoing_caller_id",
    "enabled", "supervision_enabled", "call_transfer_enabled", "dtmf_hangup_enabled",
    "simultaneous_calls", "ring_seconds", "call_permission_password", "username", "password",
    "userfield", "call_record_enabled", "online_call_record_enabled"};
const std::set<std::string> kBoolCols = {"enabled", "supervision_enabled", "call_transfer_enabled",
                                         "dtmf_hangup_enabled", "call_record_enabled",
                                         "online_call_record_enabled", "voicemail_attach_audio",
                                         "voicemail_delete_messages", "voicemail_ask_password"};
const std::set<std::string> kIntCols = {"simultaneous_calls", "ring_seconds", "incall_ring_seconds", "entity_id"};

struct Row {
  int line;
  std::map<std::string, std::string> v;  // only non-empty cells
  bool has(const std::string& k) const { return v.count(k) != 0; }
  std::optional<std::string> opt(const std::string& k) const {
    auto it = v.find(k);
    return it == v.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::string get(const std::string& k) const { return v.count(k) ? v.at(k) : std::string(); }
};

std::optional<std::string> bool_param(const Row& r, const std::string& k) {
  auto v = r.opt(k);
  if (!v) return std::nullopt;
  return *v == "1" ? "true" : "false";
}

// "a; b;;c" -> {"a", "b", "c"}: labels and call permissions in one cell.
std::vector<std::string> split_semicolon(const std::string& s) { return sdk::text::split_list(s, ';'); }

// Checks cell syntax common to import and update.
void check_cells(const Row& r, std::vector<std::string>& errs) {
  auto err = [&](const std::string& f, const std::string& m) {
    errs.push_back("line " + std::to_string(r.line) + ": Input Error - field '" + f + "': " + m);
  };
  for (auto& [k, v] : r.v) {
    if (kBoolCols.count(k) && v != "0" && v != "1") err(k, "Must be 0 or 1.");
    if (kIntCols.count(k) && (v.size() > 9 || !std::all_of(v.begin(), v.end(), ::isdigit)))
      err(k, "Must be a positive integer.");
  }
  static const std::set<std::string> langs = {"de_DE", "en_US", "es_ES", "fr_FR", "fr_CA"};
  if (r.has("language") && !langs.count(r.get("language"))) err("language", "Must be one of de_DE, en_US, es_ES, fr_FR, fr_CA.");
  auto small_int = [&](const std::string& k) -> std::optional<long> {
    auto v = r.get(k);
    if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), ::isdigit)) return std::nullopt;
    return std::stol(v);
  };
  if (auto n = small_int("ring_seconds"); n && (*n > 60 || *n % 5))
    err("ring_seconds", "Must be a multiple of 5 between 0 and 60.");
  if (auto n = small_int("simultaneous_calls"); n && (*n < 1 || *n > 20))
    err("simultaneous_calls", "Must be between 1 and 20.");
  static const std::regex digits("[0-9]{1,40}"), vmpass("[0-9#]{1,80}"), sipuser("[A-Za-z0-9_.+-]{1,40}"),
      cpp("[0-9]{1,16}");
  if (r.has("exten") && !std::regex_match(r.get("exten"), digits)) err("exten", "Must be digits.");
  if (r.has("incall_exten") && !std::regex_match(r.get("incall_exten"), digits)) err("incall_exten", "Must be digits.");
  if (r.has("voicemail_number") && !std::regex_match(r.get("voicemail_number"), digits)) err("voicemail_number", "Must be digits.");
  if (r.has("voicemail_password") && !std::regex_match(r.get("voicemail_password"), vmpass))
    err("voicemail_password", "A sequence of digits or #.");
  if (r.has("sip_username") && !std::regex_match(r.get("sip_username"), sipuser))
    err("sip_username", "Must match [A-Za-z0-9_.+-]{1,40}.");
  if (r.has("call_permission_password") && !std::regex_match(r.get("call_permission_password"), cpp))
    err("call_permission_password", "Must be 1 to 16 digits.");
  if (r.has("line_protocol") && r.get("line_protocol") != "sip" && r.get("line_protocol") != "sccp")
    err("line_protocol", "Must be sip or sccp.");
  static const std::regex username("[a-zA-Z0-9\\-._~!$&'()*+,;=%@]{2,254}"), password("[a-zA-Z0-9\\-._~!$&'()*+,;=%]{4,64}");
  if (r.has("username") && !std::regex_match(r.get("username"), username))
    err("username", "Must be 2 to 254 URL-safe characters.");
  if (r.has("password") && !std::regex_match(r.get("password"), password))
    err("password", "Must be 4 to 64 URL-safe characters.");
}

// A row with line_protocol=sccp: Dialtone has no SCCP phones, so the user and
// the rest of the row are imported and the phone part is left out (logged).
bool sccp_row(const Row& r) { return r.get("line_protocol") == "sccp"; }

// XiVO's error body: {"errors": [{"message", "timestamp", "details":
// {"row": {cells}, "row_number": n}}]} where n counts data rows from 1.
// Errors are collected as "line <file line>: <message>" and mapped here.
HttpResponse csv_errors(const std::vector<std::string>& errs, const std::vector<Row>* rows) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  rapidjson::Value list(rapidjson::kArrayType);
  long now = static_cast<long>(std::time(nullptr));
  for (auto& e : errs) {
    rapidjson::Value item(rapidjson::kObjectType), details(rapidjson::kObjectType);
    std::string message = e;
    if (e.rfind("line ", 0) == 0 && rows) {
      auto colon = e.find(": ");
      int line = std::atoi(e.c_str() + 5);
      message = colon == std::string::npos ? e : e.substr(colon + 2);
      for (std::size_t i = 0; i < rows->size(); ++i) {
        if ((*rows)[i].line != line) continue;
        rapidjson::Value row(rapidjson::kObjectType);
        for (auto& [k, v] : (*rows)[i].v)
          row.AddMember(rapidjson::Value(k.c_str(), a), rapidjson::Value(v.c_str(), a), a);
        details.AddMember("row", row, a);
        details.AddMember("row_number", static_cast<int>(i + 1), a);
        break;
      }
    }
    item.AddMember("message", rapidjson::Value(message.c_str(), a), a);
    item.AddMember("timestamp", rapidjson::Value(static_cast<int64_t>(now)), a);
    item.AddMember("details", details, a);
    list.PushBack(item, a);
  }
  d.AddMember("errors", list, a);
  return HttpResponse::json(400, to_json(d));
}

std::optional<std::vector<Row>> read_rows(const std::string& body, std::vector<std::string>& errs,
                                          std::vector<std::string>& header) {
  std::size_t bad = 0;
  if (!valid_utf8(body, &bad)) {
    errs.push_back("Input Error - CSV is not valid UTF-8 (byte offset " + std::to_string(bad) + "): save the file as UTF-8");
    return std::nullopt;
  }
  std::size_t unterminated = 0;
  auto recs = common::csv::read(body, ',', &unterminated);
  if (unterminated) {
    errs.push_back("line " + std::to_string(unterminated) + ": Input Error - unterminated quoted field");
    return std::nullopt;
  }
  if (recs.empty()) {
    errs.push_back("Input Error - CSV is empty: the first line must name the columns");
    return std::nullopt;
  }
  header = recs[0].cells;
  for (auto& h : header) h = sdk::text::trim(h);
  std::vector<Row> rows;
  for (std::size_t i = 1; i < recs.size(); ++i) {
    Row r{static_cast<int>(recs[i].line), {}};
    if (recs[i].cells.size() > header.size()) {
      errs.push_back("line " + std::to_string(r.line) + ": Input Error - " + std::to_string(recs[i].cells.size()) +
                     " fields but the header has " + std::to_string(header.size()));
      continue;
    }
    for (std::size_t c = 0; c < recs[i].cells.size(); ++c)
      if (!recs[i].cells[c].empty() && !header[c].empty()) r.v[header[c]] = recs[i].cells[c];
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace

HttpResponse ConfdApi::import_users(const sdk::HttpRequest& req) {
  std::vector<std::string> errs, header;
  auto parsed = read_rows(req.body, errs, header);
  if (!parsed) return csv_errors(errs, nullptr);
  auto& rows = *parsed;
  if (rows.empty()) return csv_errors({"Input Error - CSV has a header but no users"}, nullptr);
  for (auto& r : rows)
    if (sccp_row(r)) {
      host_.log().warn("users import: row at line " + std::to_string(r.line) +
                       " asks for an SCCP line; Dialtone has no SCCP phones, the user is imported without it");
      for (auto* k : {"exten", "context", "line_protocol", "sip_username", "sip_secret"}) r.v.erase(k);
    }

  for (auto& r : rows) {
    check_cells(r, errs);
    auto err = [&](const std::string& m) { errs.push_back("line " + std::to_string(r.line) + ": " + m); };
    if (!r.has("firstname")) err("Input Error - field 'firstname': Missing data for required field.");
    bool line = r.has("exten") || r.has("context") || r.has("line_protocol");
    if (line && !(r.has("exten") && r.has("context") && r.has("line_protocol")))
      err("Input Error - a phone needs exten, context and line_protocol");
    if ((r.has("incall_exten") || r.has("incall_context")) && !(r.has("incall_exten") && r.has("incall_context")))
      err("Input Error - an incoming call needs incall_exten and incall_context");
    bool vm = r.has("voicemail_name") || r.has("voicemail_number") || r.has("voicemail_context");
    if (vm && !(r.has("voicemail_name") && r.has("voicemail_number") && r.has("voicemail_context")))
      err("Input Error - a voicemail needs voicemail_name, voicemail_number and voicemail_context");
    if ((r.has("sip_username") || r.has("sip_secret")) && !line)
      err("Input Error - sip_username/sip_secret need a phone (exten, context, line_protocol)");
  }
  if (!errs.empty()) return csv_errors(errs, &rows);

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, std::string>> events;
  std::string created;
  auto resp = engine_->write([&](sdk::Transaction& tx) {
    // Serializes imports against each other so the duplicate checks hold.
    run(tx, "LOCK TABLE confd_extensions, confd_endpoints_sip, confd_voicemails IN SHARE ROW EXCLUSIVE MODE");
    auto contexts = load_contexts(tx);
    std::set<std::string> labels;
    {
      auto q = run(tx, "SELECT name FROM confd_labels");
      for (std::size_t i = 0; i < q.rows.size(); ++i) labels.insert(q.get(i, "name"));
    }
    std::map<std::string, std::string> cps;
    {
      auto q = run(tx, "SELECT id, name FROM confd_callpermissions");
      for (std::size_t i = 0; i < q.rows.size(); ++i) cps[q.get(i, "name")] = q.get(i, "id");
    }
    std::vector<std::string> errs2;
    std::map<std::string, int> seen_ext, seen_sip, seen_vm;
    std::vector<std::optional<std::string>> ex_e, ex_c, sip_u, vm_n, vm_c;
    for (auto& r : rows) {
      auto err = [&](const std::string& m) { errs2.push_back("line " + std::to_string(r.line) + ": " + m); };
      auto check_ext = [&](const std::string& exten, const std::string& ctx, const char* kind, const char* field) {
        auto c = contexts.find(ctx);
        if (c == contexts.end()) {
          err(std::string("Input Error - field '") + field + "': context '" + ctx + "' does not exist");
          return;
        }
        if (std::string(kind) == "incall" && c->second.type != "incall")
          err(std::string("Input Error - field '") + field + "': context '" + ctx + "' is not an incall context");
        else if (std::string(kind) == "user" && c->second.type != "internal")
          err(std::string("Input Error - field '") + field + "': context '" + ctx + "' is not an internal context");
        else if (!in_ranges(c->second.ranges[kind], exten))
          err("Input Error - exten " + exten + " not inside " + kind + " range of context '" + ctx + "'");
        auto key = exten + "@" + ctx;
        if (auto [it, fresh] = seen_ext.emplace(key, r.line); !fresh)
          err("Resource Error - Extension " + key + " is already used on line " + std::to_string(it->second));
        ex_e.push_back(exten);
        ex_c.push_back(ctx);
      };
      if (r.has("exten")) check_ext(r.get("exten"), r.get("context"), "user", "context");
      if (r.has("incall_exten")) check_ext(r.get("incall_exten"), r.get("incall_context"), "incall", "incall_context");
      if (r.has("sip_username")) {
        if (auto [it, fresh] = seen_sip.emplace(r.get("sip_username"), r.line); !fresh)
          err("Resource Error - SIP username '" + r.get("sip_username") + "' is already used on line " + std::to_string(it->second));
        sip_u.push_back(r.get("sip_username"));
      }
      if (r.has("voicemail_number")) {
        auto key = r.get("voicemail_number") + "@" + r.get("voicemail_context");
        if (!contexts.count(r.get("voicemail_context")))
          err("Input Error - field 'voicemail_context': context '" + r.get("voicemail_context") + "' does not exist");
        if (auto [it, fresh] = seen_vm.emplace(key, r.line); !fresh)
          err("Resource Error - Voicemail " + key + " is already used on line " + std::to_string(it->second));
        vm_n.push_back(r.get("voicemail_number"));
        vm_c.push_back(r.get("voicemail_context"));
      }
      for (auto& l : split_semicolon(r.get("labels")))
        if (!labels.count(l)) err("Input Error - field 'labels': label '" + l + "' does not exist (create it first)");
      for (auto& c : split_semicolon(r.get("call_permissions")))
        if (!cps.count(c)) err("Input Error - field 'call_permissions': call permission '" + c + "' does not exist");
    }
    // Collisions with what is already configured: one query per kind.
    auto line_of = [&](std::map<std::string, int>& m, const std::string& k) { return std::to_string(m[k]); };
    // Extensions and voicemails are both keyed by (a number, a context).
    auto at_context_taken = [&](const char* table, const char* col, const char* kind, const auto& values,
                                const auto& contexts, std::map<std::string, int>& seen) {
      if (values.empty()) return;
      auto q = run(tx,
                   std::string("SELECT t.") + col + ", t.context FROM " + table + " t JOIN unnest($1::text[], $2::text[]) AS n(v, c) "
                   "ON n.v = t." + col + " AND n.c = t.context",
                   {sdk::text_array(values), sdk::text_array(contexts)});
      for (std::size_t i = 0; i < q.rows.size(); ++i)
        errs2.push_back("line " + line_of(seen, q.get(i, col) + "@" + q.get(i, "context")) + ": Resource Error - " + kind +
                        " already exists ('" + col + "': '" + q.get(i, col) + "', 'context': '" + q.get(i, "context") + "')");
    };
    at_context_taken("confd_extensions", "exten", "Extension", ex_e, ex_c, seen_ext);
    if (!sip_u.empty()) {
      auto q = run(tx, "SELECT username FROM confd_endpoints_sip WHERE username = ANY($1::text[])", {sdk::text_array(sip_u)});
      for (std::size_t i = 0; i < q.rows.size(); ++i)
        errs2.push_back("line " + line_of(seen_sip, q.get(i, "username")) +
                        ": Resource Error - SIPEndpoint already exists ('username': '" + q.get(i, "username") + "')");
    }
    at_context_taken("confd_voicemails", "number", "Voicemail", vm_n, vm_c, seen_vm);
    if (!errs2.empty()) {
      std::stable_sort(errs2.begin(), errs2.end(), [](auto& a, auto& b) {
        return std::stoi(a.substr(5)) < std::stoi(b.substr(5));
      });
      throw ApiError{400, errs2};
    }
    {
      std::vector<std::optional<std::string>> names;
      for (auto& r : rows)
        if (r.has("username")) names.push_back(r.get("username"));
      if (!names.empty()) {
        auto q = run(tx, "SELECT username FROM confd_users WHERE username = ANY($1::text[])", {sdk::text_array(names)});
        for (std::size_t i = 0; i < q.rows.size(); ++i)
          for (auto& r : rows)
            if (r.get("username") == q.get(i, "username"))
              errs2.push_back("line " + std::to_string(r.line) + ": Resource Error - User already exists ('username': '" +
                              q.get(i, "username") + "')");
      }
      if (!errs2.empty()) throw ApiError{400, errs2};
    }

    auto ids = [&](const char* seq, std::size_t n) {
      std::vector<std::string> out;
      if (!n) return out;
      auto q = run(tx, std::string("SELECT nextval('") + seq + "') AS id FROM generate_series(1, $1)", {std::to_string(n)});
      for (std::size_t i = 0; i < q.rows.size(); ++i) out.push_back(q.get(i, "id"));
      return out;
    };
    std::size_t n = rows.size();
    auto user_ids = ids("confd_users_id_seq", n);
    // The uuids are chosen here so the answer names them without a search.
    std::vector<std::string> user_uuids;
    {
      auto q = run(tx, "SELECT gen_random_uuid()::text AS u FROM generate_series(1, $1)", {std::to_string(n)});
      for (std::size_t i = 0; i < q.rows.size(); ++i) user_uuids.push_back(q.get(i, "u"));
    }
    std::size_t n_line = 0, n_vm = 0, n_in = 0;
    for (auto& r : rows) {
      n_line += r.has("exten");
      n_vm += r.has("voicemail_number");
      n_in += r.has("incall_exten");
    }
    auto sip_ids = ids("confd_endpoints_sip_id_seq", n_line);
    auto line_ids = ids("confd_lines_id_seq", n_line);
    auto ext_ids = ids("confd_extensions_id_seq", n_line + n_in);
    auto vm_ids = ids("confd_voicemails_id_seq", n_vm);
    auto in_ids = ids("confd_incalls_id_seq", n_in);

    using Col = std::vector<std::optional<std::string>>;
    std::map<std::string, Col> u;
    Col u_labels;
    Col s_id, s_user, s_secret, l_id, l_ctx, l_sip, e_id, e_exten, e_ctx, ul_user, ul_line, le_line, le_ext;
    Col v_id, v_num, v_ctx, v_name, v_pass, v_email, v_attach, v_delete, v_ask, uv_user, uv_vm;
    Col i_id, i_dest, ie_in, ie_ext, cp_user, cp_id;
    std::size_t li = 0, ei = 0, vi = 0, ii = 0;
    std::vector<sdk::json::Value> created_rows;
    for (std::size_t k = 0; k < n; ++k) {
      auto& r = rows[k];
      for (auto& c : kUserCols) u[c].push_back(kBoolCols.count(c) ? bool_param(r, c) : r.opt(c));
      u_labels.push_back(sdk::json::array(split_semicolon(r.get("labels"))));
      std::vector<sdk::json::Member> item{
          {"row_number", k + 1}, {"user_id", std::stol(user_ids[k])}, {"user_uuid", user_uuids[k]}};
      if (r.has("exten")) {
        s_id.push_back(sip_ids[li]);
        s_user.push_back(r.has("sip_username") ? r.get("sip_username") : sdk::random_token(10));
        s_secret.push_back(r.has("sip_secret") ? r.get("sip_secret") : sdk::random_token(12));
        l_id.push_back(line_ids[li]);
        l_ctx.push_back(r.get("context"));
        l_sip.push_back(sip_ids[li]);
        e_id.push_back(ext_ids[ei]);
        e_exten.push_back(r.get("exten"));
        e_ctx.push_back(r.get("context"));
        ul_user.push_back(user_ids[k]);
        ul_line.push_back(line_ids[li]);
        le_line.push_back(line_ids[li]);
        le_ext.push_back(ext_ids[ei]);
        item.emplace_back("line_id", std::stol(line_ids[li]));
        item.emplace_back("sip_id", std::stol(sip_ids[li]));
        item.emplace_back("extension_id", std::stol(ext_ids[ei]));
        ++li;
        ++ei;
      }
      if (r.has("incall_exten")) {
        e_id.push_back(ext_ids[ei]);
        e_exten.push_back(r.get("incall_exten"));
        e_ctx.push_back(r.get("incall_context"));
        i_id.push_back(in_ids[ii]);
        std::vector<sdk::json::Member> d{{"type", "user"}, {"user_id", std::stol(user_ids[k])}};
        if (r.has("incall_ring_seconds")) d.emplace_back("ring_time", std::stol(r.get("incall_ring_seconds")));
        i_dest.push_back(sdk::json::object(d));
        ie_in.push_back(in_ids[ii]);
        ie_ext.push_back(ext_ids[ei]);
        item.emplace_back("incall_extension_id", std::stol(ext_ids[ei]));
        ++ii;
        ++ei;
      }
      if (r.has("voicemail_number")) {
        v_id.push_back(vm_ids[vi]);
        v_num.push_back(r.get("voicemail_number"));
        v_ctx.push_back(r.get("voicemail_context"));
        v_name.push_back(r.get("voicemail_name"));
        v_pass.push_back(r.opt("voicemail_password"));
        v_email.push_back(r.opt("voicemail_email"));
        v_attach.push_back(bool_param(r, "voicemail_attach_audio"));
        v_delete.push_back(bool_param(r, "voicemail_delete_messages"));
        v_ask.push_back(bool_param(r, "voicemail_ask_password"));
        uv_user.push_back(user_ids[k]);
        uv_vm.push_back(vm_ids[vi]);
        item.emplace_back("voicemail_id", std::stol(vm_ids[vi]));
        ++vi;
      }
      for (auto& c : split_semicolon(r.get("call_permissions"))) {
        cp_user.push_back(user_ids[k]);
        cp_id.push_back(cps[c]);
      }
      created_rows.emplace_back(sdk::json::Raw{sdk::json::object(item)});
    }
    created = sdk::json::object({{"created", sdk::json::Raw{sdk::json::array(created_rows)}}});

    sdk::Params ps = {sdk::text_array(user_ids)};
    for (auto& c : kUserCols) ps.push_back(sdk::text_array(u[c]));
    ps.push_back(sdk::text_array(u_labels));
    ps.push_back(sdk::text_array(user_uuids));
    run(tx,
        "INSERT INTO confd_users (id, firstname, lastname, email, language, mobile_phone_number, outgoing_caller_id, "
        "enabled, supervision_enabled, call_transfer_enabled, dtmf_hangup_enabled, simultaneous_calls, ring_seconds, "
        "call_permission_password, username, password, userfield, call_record_enabled, online_call_record_enabled, "
        "labels, caller_id, uuid) "
        "SELECT id, fn, ln, em, lang, mob, oci, coalesce(en, true), coalesce(sup, true), coalesce(ct, false), "
        "coalesce(dh, false), coalesce(sc, 5), coalesce(rs, 30), cpp, un, pw, uf, coalesce(cr, false), coalesce(ocr, false), "
        "lab::jsonb, '\"' || fn || coalesce(' ' || ln, '') || '\"', uu::uuid FROM unnest($1::int[], $2::text[], "
        "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::bool[], $10::bool[], $11::bool[], "
        "$12::int[], $13::int[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bool[], $19::bool[], $20::text[], "
        "$21::text[]) AS x(id, fn, ln, em, lang, mob, oci, en, sup, ct, dh, sc, rs, cpp, un, pw, uf, cr, ocr, lab, uu)",
        ps);
    if (!l_id.empty()) {
      run(tx,
          "INSERT INTO confd_endpoints_sip (id, username, secret) SELECT * FROM unnest($1::int[], $2::text[], $3::text[])",
          {sdk::text_array(s_id), sdk::text_array(s_user), sdk::text_array(s_secret)});
      run(tx,
          "INSERT INTO confd_lines (id, context, endpoint_sip_id) SELECT * FROM unnest($1::int[], $2::text[], $3::int[])",
          {sdk::text_array(l_id), sdk::text_array(l_ctx), sdk::text_array(l_sip)});
      run(tx,
          "INSERT INTO confd_user_lines (user_id, line_id, main_user, main_line) "
          "SELECT u, l, true, true FROM unnest($1::int[], $2::int[]) AS x(u, l)",
          {sdk::text_array(ul_user), sdk::text_array(ul_line)});
    }
    if (!e_id.empty())
      run(tx,
          "INSERT INTO confd_extensions (id, exten, context) SELECT * FROM unnest($1::int[], $2::text[], $3::text[])",
          {sdk::text_array(e_id), sdk::text_array(e_exten), sdk::text_array(e_ctx)});
    if (!le_line.empty())
      run(tx, "INSERT INTO confd_line_extensions (line_id, extension_id) SELECT * FROM unnest($1::int[], $2::int[])",
          {sdk::text_array(le_line), sdk::text_array(le_ext)});
    if (!i_id.empty()) {
      run(tx, "INSERT INTO confd_incalls (id, destination) SELECT i, d::jsonb FROM unnest($1::int[], $2::text[]) AS x(i, d)",
          {sdk::text_array(i_id), sdk::text_array(i_dest)});
      run(tx, "INSERT INTO confd_incall_extensions (incall_id, extension_id) SELECT * FROM unnest($1::int[], $2::int[])",
          {sdk::text_array(ie_in), sdk::text_array(ie_ext)});
    }
    if (!v_id.empty()) {
      run(tx,
          "INSERT INTO confd_voicemails (id, number, context, name, password, email, attach_audio, delete_messages, ask_password) "
          "SELECT i, n, c, nm, p, e, coalesce(a, false), coalesce(d, false), coalesce(k, true) FROM unnest($1::int[], "
          "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[], $9::bool[]) AS x(i, n, c, nm, p, e, a, d, k)",
          {sdk::text_array(v_id), sdk::text_array(v_num), sdk::text_array(v_ctx), sdk::text_array(v_name), sdk::text_array(v_pass), sdk::text_array(v_email),
           sdk::text_array(v_attach), sdk::text_array(v_delete), sdk::text_array(v_ask)});
      run(tx, "INSERT INTO confd_user_voicemails (user_id, voicemail_id) SELECT * FROM unnest($1::int[], $2::int[])",
          {sdk::text_array(uv_user), sdk::text_array(uv_vm)});
    }
    if (!cp_user.empty())
      run(tx,
          "INSERT INTO confd_user_callpermissions (user_id, callpermission_id) SELECT * FROM unnest($1::int[], $2::int[]) "
          "ON CONFLICT DO NOTHING",
          {sdk::text_array(cp_user), sdk::text_array(cp_id)});
    auto q = run(tx,
                 "SELECT id, uuid, pg_notify('dialtone_config', 'user.created:' || id) FROM confd_users "
                 "WHERE id = ANY($1::int[]) ORDER BY id",
                 {sdk::text_array(user_ids)});
    for (std::size_t i = 0; i < q.rows.size(); ++i)
      events.emplace_back("config.user.created",
                          sdk::json::object({{"id", std::stol(q.get(i, "id"))}, {"uuid", q.get(i, "uuid")}}));
    return HttpResponse::json(201, created);
  });
  if (resp.status == 400) return csv_errors(as_messages(resp.body), &rows);
  if (resp.status == 201) {
    for (auto& [t, b] : events) host_.bus().publish(t, b);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    host_.log().info("imported " + std::to_string(rows.size()) + " users in " + std::to_string(ms) + " ms");
    // A bulk insert leaves the planner's statistics stale: reads that embed
    // relations (user -> lines -> extensions) would scan instead of using the
    // keys until autovacuum passes. Failures only cost speed.
    if (rows.size() >= 1000)
      (void)engine_->store().exec(
          "ANALYZE confd_users, confd_lines, confd_user_lines, confd_line_extensions, confd_extensions, "
          "confd_endpoints_sip, confd_user_voicemails, confd_voicemails, confd_incalls");
  }
  return resp;
}

HttpResponse ConfdApi::update_users_csv(const sdk::HttpRequest& req) {
  std::vector<std::string> errs, header;
  auto parsed = read_rows(req.body, errs, header);
  if (!parsed) return csv_errors(errs, nullptr);
  if (std::find(header.begin(), header.end(), "uuid") == header.end())
    return csv_errors({"Input Error - the CSV header must contain 'uuid' to update users"}, nullptr);
  std::set<std::string> cols(header.begin(), header.end());
  for (auto& r : *parsed) {
    check_cells(r, errs);
    if (!r.has("uuid")) errs.push_back("line " + std::to_string(r.line) + ": Input Error - field 'uuid': Missing data for required field.");
    if (cols.count("firstname") && !r.has("firstname"))
      errs.push_back("line " + std::to_string(r.line) + ": Input Error - field 'firstname': may not be empty.");
  }
  if (!errs.empty()) return csv_errors(errs, &*parsed);
  static const std::set<std::string> not_null = {"enabled", "supervision_enabled", "call_transfer_enabled",
                                                 "dtmf_hangup_enabled", "simultaneous_calls", "ring_seconds",
                                                 "call_record_enabled", "online_call_record_enabled"};
  int row_number = 0;
  std::vector<std::pair<std::string, std::string>> events;
  auto resp = engine_->write([&](sdk::Transaction& tx) {
    std::vector<std::string> errs2;
    std::vector<sdk::json::Value> updated;
    row_number = 0;
    for (auto& r : *parsed) {
      ++row_number;
      auto err = [&](const std::string& m) { errs2.push_back("line " + std::to_string(r.line) + ": " + m); };
      if (!sdk::text::is_uuid(r.get("uuid"))) { err("Input Error - field 'uuid': Not a valid UUID."); continue; }
      auto uq = run(tx, "SELECT id FROM confd_users WHERE uuid = $1::uuid FOR UPDATE", {r.get("uuid")});
      if (uq.rows.empty()) { err(not_found("User", "uuid", "'" + r.get("uuid") + "'")); continue; }
      std::string uid = uq.get(0, "id");
      sdk::Params ps;
      std::string sets;
      for (auto& c : kUserCols) {
        if (!cols.count(c)) continue;  // absent columns are not updated
        if (!r.has(c) && not_null.count(c)) { err("Input Error - field '" + c + "': may not be empty."); continue; }
        ps.push_back(kBoolCols.count(c) ? bool_param(r, c) : r.opt(c));
        sets += (sets.empty() ? "" : ",") + c + "=$" + std::to_string(ps.size());
      }
      if (cols.count("labels")) {
        ps.push_back(sdk::json::array(split_semicolon(r.get("labels"))));
        sets += (sets.empty() ? "" : ",") + ("labels=$" + std::to_string(ps.size()) + "::jsonb");
      }
      if (!sets.empty()) {
        ps.push_back(uid);
        run(tx, "UPDATE confd_users SET " + sets + " WHERE id=$" + std::to_string(ps.size()), ps);
        auto bad = run(tx,
                       "SELECT l FROM confd_users u, jsonb_array_elements_text(u.labels) l WHERE u.id = $1 "
                       "AND l NOT IN (SELECT name FROM confd_labels)", {uid});
        if (!bad.rows.empty()) err("Input Error - field 'labels': label '" + bad.get(0, "l") + "' does not exist");
      }
      // Phone columns update the resources of the user's main line.
      auto ml = run(tx,
                    "SELECT l.id AS line_id, l.endpoint_sip_id, le.extension_id FROM confd_user_lines ul "
                    "JOIN confd_lines l ON l.id = ul.line_id LEFT JOIN confd_line_extensions le ON le.line_id = l.id "
                    "WHERE ul.user_id = $1 AND ul.main_line LIMIT 1", {uid});
      if ((cols.count("exten") || cols.count("sip_username") || cols.count("sip_secret")) && ml.rows.empty() &&
          (r.has("exten") || r.has("sip_username") || r.has("sip_secret"))) {
        err("Input Error - the user has no line: create it with POST /1.1/lines and associate it first");
        continue;
      }
      if (!ml.rows.empty()) {
        if (cols.count("exten") && r.has("exten") && !ml.get(0, "extension_id").empty()) {
          auto clash = run(tx,
                           "SELECT 1 FROM confd_extensions e, confd_extensions me WHERE me.id = $2 AND e.exten = $1 "
                           "AND e.context = me.context AND e.id <> me.id", {r.get("exten"), ml.get(0, "extension_id")});
          if (!clash.rows.empty()) { err("Resource Error - Extension " + r.get("exten") + " already exists"); continue; }
          run(tx, "UPDATE confd_extensions SET exten = $1 WHERE id = $2", {r.get("exten"), ml.get(0, "extension_id")});
          auto in = run(tx,
                        "SELECT confd_in_ranges(c.user_ranges, e.exten) AS ok, e.context FROM confd_extensions e "
                        "JOIN confd_contexts c ON c.name = e.context WHERE e.id = $1", {ml.get(0, "extension_id")});
          if (in.get(0, "ok") != "t")
            err("Input Error - exten " + r.get("exten") + " not inside user range of context '" + in.get(0, "context") + "'");
        }
        if (!ml.get(0, "endpoint_sip_id").empty()) {
          if (cols.count("sip_username") && r.has("sip_username")) {
            auto clash = run(tx, "SELECT 1 FROM confd_endpoints_sip WHERE username = $1 AND id <> $2",
                             {r.get("sip_username"), ml.get(0, "endpoint_sip_id")});
            if (!clash.rows.empty()) { err("Resource Error - SIPEndpoint already exists ('username': '" + r.get("sip_username") + "')"); continue; }
            run(tx, "UPDATE confd_endpoints_sip SET username = $1 WHERE id = $2", {r.get("sip_username"), ml.get(0, "endpoint_sip_id")});
          }
          if (cols.count("sip_secret") && r.has("sip_secret"))
            run(tx, "UPDATE confd_endpoints_sip SET secret = $1 WHERE id = $2", {r.get("sip_secret"), ml.get(0, "endpoint_sip_id")});
        }
      }
      engine_->notify(tx, "user", "edited", std::stol(uid), sdk::json::object({{"id", std::stol(uid)}, {"uuid", r.get("uuid")}}));
      updated.emplace_back(sdk::json::Raw{sdk::json::object(
          {{"row_number", row_number}, {"user_id", std::stol(uid)}, {"user_uuid", r.get("uuid")}})});
    }
    if (!errs2.empty()) throw ApiError{400, errs2};
    // XiVO answers an update with 201 as well.
    return HttpResponse::json(201, sdk::json::object({{"updated", sdk::json::Raw{sdk::json::array(updated)}}}));
  });
  if (resp.status == 400) return csv_errors(as_messages(resp.body), &*parsed);
  return resp;
}

HttpResponse ConfdApi::export_users(const sdk::HttpRequest&) {
  static const char* kHeader =
      "uuid,entity_id,firstname,lastname,email,language,mobile_phone_number,outgoing_caller_id,enabled,supervision_enabled,"
      "call_transfer_enabled,dtmf_hangup_enabled,simultaneous_calls,ring_seconds,call_permission_password,username,"
      "userfield,call_record_enabled,online_call_record_enabled,labels,"
      "exten,context,line_protocol,sip_username,sip_secret,provisioning_code,voicemail_name,voicemail_number,"
      "voicemail_context,voicemail_password,voicemail_email,voicemail_attach_audio,voicemail_delete_messages,"
      "voicemail_ask_password,incall_exten,incall_context,call_permissions";
  auto q = engine_->store().exec(
      "SELECT u.uuid, 1 AS entity_id, u.firstname, u.lastname, u.email, u.language, u.mobile_phone_number, u.outgoing_caller_id, "
      "u.enabled::int, u.supervision_enabled::int, u.call_transfer_enabled::int, u.dtmf_hangup_enabled::int, "
      "u.simultaneous_calls, u.ring_seconds, u.call_permission_password, u.username, u.userfield, "
      "u.call_record_enabled::int, u.online_call_record_enabled::int, "
      "(SELECT string_agg(l, ';') FROM jsonb_array_elements_text(u.labels) l) AS labels, "
      "e.exten, e.context, l.protocol, s.username, s.secret, l.provisioning_code, v.name, v.number, v.context AS vctx, "
      "v.password, v.email AS vemail, v.attach_audio::int, v.delete_messages::int, v.ask_password::int, "
      "(SELECT ie.exten FROM confd_incalls i JOIN confd_incall_extensions x ON x.incall_id = i.id "
      " JOIN confd_extensions ie ON ie.id = x.extension_id WHERE i.destination->>'type' = 'user' "
      " AND (i.destination->>'user_id')::int = u.id ORDER BY i.id LIMIT 1) AS incall_exten, "
      "(SELECT ie.context FROM confd_incalls i JOIN confd_incall_extensions x ON x.incall_id = i.id "
      " JOIN confd_extensions ie ON ie.id = x.extension_id WHERE i.destination->>'type' = 'user' "
      " AND (i.destination->>'user_id')::int = u.id ORDER BY i.id LIMIT 1) AS incall_context, "
      "(SELECT string_agg(c.name, ';' ORDER BY c.name) FROM confd_user_callpermissions uc "
      " JOIN confd_callpermissions c ON c.id = uc.callpermission_id WHERE uc.user_id = u.id) AS cps "
      "FROM confd_users u "
      "LEFT JOIN confd_user_lines ul ON ul.user_id = u.id AND ul.main_line "
      "LEFT JOIN confd_lines l ON l.id = ul.line_id "
      "LEFT JOIN confd_endpoints_sip s ON s.id = l.endpoint_sip_id "
      "LEFT JOIN LATERAL (SELECT e.* FROM confd_line_extensions le JOIN confd_extensions e ON e.id = le.extension_id "
      " WHERE le.line_id = l.id ORDER BY e.id LIMIT 1) e ON true "
      "LEFT JOIN confd_user_voicemails uv ON uv.user_id = u.id "
      "LEFT JOIN confd_voicemails v ON v.id = uv.voicemail_id "
      "ORDER BY u.id");
  if (!q) return HttpResponse::error(503, {"Resource Error - " + q.error().message});
  std::string out = std::string(kHeader) + "\r\n";
  for (auto& row : q->rows) {
    std::vector<std::string> cells;
    for (auto& v : row) cells.push_back(v.value_or(""));
    common::csv::write_row(out, cells);
  }
  return HttpResponse::text(200, std::move(out), "text/csv; charset=utf-8");
}

}  // namespace dialtone::plugins::api::confd
