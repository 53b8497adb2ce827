#include "plugins/records/call_logs/call_log_rest.h"

#include <regex>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dialtone/text.h>

#include "plugins/common/csv/csv.h"

namespace dialtone::plugins::records {
extern const char* const kCallLogsApiSpec;  // api.yml, embedded at build time
namespace {

namespace csv = common::csv;

// Timestamps are UTC: "2026-12-06T10:00:00", a date alone, or either with a zone.
const std::regex kDate(R"(^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$)");

constexpr const char* kItemColumns =
    "id, to_char(date AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS csv_date, "
    "to_char(date AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"') AS date, "
    "to_char(date_answer AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"') AS date_answer, "
    "to_char(date_end AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"') AS date_end, "
    "source_name, source_exten, source_line_identity, destination_name, destination_exten, "
    "destination_line_identity, user_field, answered, round(extract(epoch FROM duration))::bigint AS period, "
    "extract(epoch FROM duration)::numeric(12, 3) AS duration, direction, source_user_uuid::text AS source_user_uuid, "
    "destination_user_uuid::text AS destination_user_uuid, status, "
    "extract(epoch FROM ring_time)::numeric(12, 3) AS ring_time, "
    "extract(epoch FROM wait_time)::numeric(12, 3) AS wait_time, "
    "extract(epoch FROM talk_time)::numeric(12, 3) AS talk_time, answered_by, transferred";

std::string like_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

struct Query {
  std::string where = " WHERE true";
  sdk::Params params;
  std::string add(std::string value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  }
};

std::string with_zone(const std::string& d) {
  // A value without a zone is UTC, as the dates we print.
  static const std::regex zoned(R"((Z|[+-]\d{2}(:?\d{2})?)$)");
  if (d.size() > 10 && std::regex_search(d.substr(10), zoned)) return d;
  return d + "+00";
}

// Filters shared by every route; an error message when a value is wrong.
std::string filters(const sdk::HttpRequest& req, Query& q, bool csv_only) {
  auto get = [&](const char* k) -> const std::string* {
    auto it = req.query.find(k);
    return it == req.query.end() || it->second.empty() ? nullptr : &it->second;
  };
  for (auto [key, op] : {std::pair{"start_date", ">="}, std::pair{"end_date", "<"}}) {
    if (auto* v = get(key)) {
      if (!std::regex_match(*v, kDate))
        return std::string("Invalid '") + key + "': expected a date like 2026-12-06T10:00:00 (UTC) or 2026-12-06";
      q.where += std::string(" AND date ") + op + " " + q.add(with_zone(*v)) + "::timestamptz";
    }
  }
  if (csv_only) return {};
  if (auto* v = get("call_direction")) {
    if (*v != "internal" && *v != "inbound" && *v != "outbound")
      return "Invalid 'call_direction': expected internal, inbound or outbound";
    q.where += " AND direction = " + q.add(*v);
  }
  if (auto* v = get("answered")) {
    if (*v != "true" && *v != "false") return "Invalid 'answered': expected true or false";
    q.where += " AND answered = " + q.add(*v) + "::boolean";
  }
  if (auto* v = get("number")) {
    auto p = q.add("%" + like_escape(*v) + "%");
    q.where += " AND (source_exten LIKE " + p + " OR destination_exten LIKE " + p + ")";
  }
  std::string search = req.list ? req.list->search : "";
  if (search.empty())
    if (auto* v = get("search")) search = *v;
  if (!search.empty()) {
    auto p = q.add("%" + like_escape(search) + "%");
    q.where += " AND (source_name ILIKE " + p + " OR source_exten ILIKE " + p + " OR destination_name ILIKE " + p +
               " OR destination_exten ILIKE " + p + " OR user_field ILIKE " + p + ")";
  }
  if (auto* v = get("user_uuid")) {
    if (!sdk::text::is_uuid(*v)) return "Invalid 'user_uuid': not a UUID";
    auto p = q.add(*v);
    q.where += " AND (source_user_uuid = " + p + "::uuid OR destination_user_uuid = " + p + "::uuid)";
  }
  return {};
}

bool wants_json(const sdk::HttpRequest& req, bool default_json) {
  if (auto it = req.query.find("format"); it != req.query.end()) return it->second != "text/csv";
  auto accept = req.header("accept");
  if (accept.find("text/csv") != std::string::npos) return false;
  if (accept.find("application/json") != std::string::npos) return true;
  return default_json;
}

sdk::HttpResponse database_error(const sdk::Error& e) {
  return sdk::HttpResponse::error(503, {"call logs unavailable: " + e.message});
}

// The seed's format (5.6.1): header line, commas, quotes when needed, UTF-8.
sdk::HttpResponse as_csv(const sdk::QueryResult& r) {
  std::string out;
  csv::write_row(out, {"Call Date", "Caller", "Called", "Period", "user Field"});
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    auto name = r.get(i, "source_name"), exten = r.get(i, "source_exten");
    csv::write_row(out, {r.get(i, "csv_date"), name.empty() ? "(" + exten + ")" : name + " (" + exten + ")",
                         r.get(i, "destination_exten"), r.get(i, "period", "0"), r.get(i, "user_field")});
  }
  sdk::HttpResponse resp = sdk::HttpResponse::text(200, std::move(out), "text/csv; charset=utf-8");
  resp.headers.emplace_back("Content-Disposition", "attachment; filename=call-logs.csv");
  return resp;
}

sdk::HttpResponse as_json(const sdk::QueryResult& r, long total) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&](std::size_t i, const char* k) {
    w.Key(k);
    int c = r.column(k);
    if (c < 0 || !r.rows[i][c]) return w.Null();
    const auto& v = *r.rows[i][c];
    return w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  auto number = [&](std::size_t i, const char* k) {
    w.Key(k);
    auto v = r.get(i, k, "0");
    w.RawValue(v.c_str(), v.size(), rapidjson::kNumberType);
  };
  w.StartObject();
  w.Key("total");
  w.Int64(total);
  w.Key("items");
  w.StartArray();
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    w.StartObject();
    number(i, "id");
    for (auto* k : {"date", "date_answer", "date_end", "source_name", "source_exten", "source_line_identity",
                    "destination_name", "destination_exten", "destination_line_identity", "user_field"})
      str(i, k);
    w.Key("answered");
    w.Bool(r.get(i, "answered") == "t");
    number(i, "duration");
    str(i, "direction");
    str(i, "source_user_uuid");
    str(i, "destination_user_uuid");
    str(i, "status");
    number(i, "ring_time");
    number(i, "wait_time");
    number(i, "talk_time");
    str(i, "answered_by");
    w.Key("transferred");
    w.Bool(r.get(i, "transferred") == "t");
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return sdk::HttpResponse::json(200, std::string(sb.GetString(), sb.GetSize()));
}

// `user`: restrict to one user's calls (as caller or callee); empty: all.
sdk::HttpResponse list(sdk::Store& store, const sdk::HttpRequest& req, const std::string& user, bool default_json) {
  const bool json = wants_json(req, default_json);
  Query q;
  if (auto e = filters(req, q, !json); !e.empty()) return sdk::HttpResponse::error(400, {e});
  if (!user.empty()) {
    auto p = q.add(user);
    q.where += " AND (source_user_uuid = " + p + "::uuid OR destination_user_uuid = " + p + "::uuid)";
  }
  std::string order = "date";
  bool desc = false;
  std::string page;
  if (req.list) {
    if (!req.list->order.empty()) order = req.list->order;
    desc = req.list->descending;
    if (json) {
      if (req.list->limit) page += " LIMIT " + std::to_string(*req.list->limit);
      if (req.list->offset > 0) page += " OFFSET " + std::to_string(req.list->offset);
    }
  }
  // `order` was checked by the kernel against the route's sort columns.
  std::string sql = std::string("SELECT ") + kItemColumns + " FROM call_log" + q.where + " ORDER BY " + order +
                    (desc ? " DESC" : "") + ", id" + (desc ? " DESC" : "") + page;
  if (!json) {
    auto rows = store.exec(sql, q.params);
    if (!rows) return database_error(rows.error());
    return as_csv(*rows);
  }
  // The page and its total read one snapshot: a call log committed between
  // two autocommit statements would give a total the items do not show.
  sdk::QueryResult rows;
  long total = 0;
  auto s = store.transaction([&](sdk::Transaction& tx) -> sdk::Status {
    if (auto r = tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); !r) return r.error();
    auto page_rows = tx.exec(sql, q.params);
    if (!page_rows) return page_rows.error();
    auto count = tx.exec("SELECT count(*) AS n FROM call_log" + q.where, q.params);
    if (!count) return count.error();
    rows = std::move(*page_rows);
    total = std::stol(count->get(0, "n", "0"));
    return {};
  });
  if (!s) return database_error(s.error());
  return as_json(rows, total);
}

const std::vector<std::string> kSortColumns = {"date", "duration", "source_exten", "destination_exten", "id"};

}  // namespace

std::vector<sdk::Route> call_log_routes(sdk::Store& store) {
  std::vector<sdk::Route> out;
  out.push_back({"GET", "/1.1/api/call_logs.yml", "", sdk::RouteAuth::none, "OpenAPI description of the call logs",
                 {}, [](const sdk::HttpRequest&) {
                   return sdk::HttpResponse::text(200, kCallLogsApiSpec, "application/x-yaml");
                 }});
  out.push_back({"GET", "/1.1/call_logs", "confd.call_logs.read", sdk::RouteAuth::token,
                 "Call logs as CSV (XiVO's format), or JSON with filters and paging", kSortColumns,
                 [&store](const sdk::HttpRequest& req) { return list(store, req, "", false); }});
  out.push_back({"GET", "/1.1/users/me/call_logs", "confd.users.me.call_logs.read", sdk::RouteAuth::token,
                 "The token's user's call history", kSortColumns, [&store](const sdk::HttpRequest& req) {
                   const std::string uuid = req.token ? req.token->auth_id : "";
                   if (!sdk::text::is_uuid(uuid))
                     return sdk::HttpResponse::error(404, {"this token belongs to no user (auth_id is not a user uuid)"});
                   return list(store, req, uuid, true);
                 }});
  out.push_back({"GET", "/1.1/users/{user_uuid}/call_logs", "confd.users.{user_uuid}.call_logs.read",
                 sdk::RouteAuth::token, "A user's call history", kSortColumns,
                 [&store](const sdk::HttpRequest& req) {
                   const auto& uuid = req.params.at("user_uuid");
                   if (!sdk::text::is_uuid(uuid))
                     return sdk::HttpResponse::error(404, {"User was not found: " + uuid});
                   return list(store, req, uuid, true);
                 }});
  return out;
}

}  // namespace dialtone::plugins::records
