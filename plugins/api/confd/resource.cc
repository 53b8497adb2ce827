#include "plugins/api/confd/resource.h"

#include <dialtone/json.h>
#include <dialtone/text.h>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include <dialtone/bus.h>

namespace dialtone::plugins::api::confd {
namespace {

// Events of the write running on this thread, published after COMMIT so a
// rolled-back request announces nothing.
thread_local std::vector<std::pair<std::string, std::string>>* t_pending = nullptr;

const char* type_word(FieldType t) {
  switch (t) {
    case FieldType::string: return "Not a valid string.";
    case FieldType::integer: return "Not a valid integer.";
    case FieldType::boolean: return "Not a valid boolean.";
    case FieldType::json: return "Not a valid object or list.";
  }
  return "Invalid value.";
}

bool type_ok(FieldType t, const rapidjson::Value& v) {
  switch (t) {
    case FieldType::string: return v.IsString();
    case FieldType::integer: return v.IsInt64();
    case FieldType::boolean: return v.IsBool();
    case FieldType::json: return v.IsObject() || v.IsArray();
  }
  return false;
}

std::string escape_like(const std::string& s) { return sdk::text::like_escape(s); }

}  // namespace

std::string fallbacks_json(const std::string& body) {
  static const char* const kFallbacks[] = {"busy_destination", "noanswer_destination", "congestion_destination",
                                           "fail_destination"};
  auto doc = parse_body(body);
  if (!doc.IsObject()) throw ApiError{400, {"Input Error - body must be a JSON object"}};
  rapidjson::Document out(rapidjson::kObjectType);
  std::vector<std::string> errs;
  for (auto* k : kFallbacks) {
    if (!doc.HasMember(k) || doc[k].IsNull()) continue;
    const auto& d = doc[k];
    if (!d.IsObject() || !d.HasMember("type") || !d["type"].IsString()) {
      errs.push_back(std::string("Input Error - field '") + k + "': Must be a destination object with a \"type\".");
      continue;
    }
    out.AddMember(rapidjson::StringRef(k), rapidjson::Value(d, out.GetAllocator()), out.GetAllocator());
  }
  if (!errs.empty()) throw ApiError{400, errs};
  return to_json(out);
}

rapidjson::Document parse_body(const std::string& body) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(body.c_str(), body.size());
  if (d.HasParseError()) {
    if (d.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding)
      throw ApiError{400, {"Input Error - body is not valid UTF-8 (offset " +
                           std::to_string(d.GetErrorOffset()) + "): send UTF-8 JSON"}};
    throw ApiError{400, {std::string("Input Error - body is not valid JSON: ") +
                         rapidjson::GetParseError_En(d.GetParseError()) + " (offset " +
                         std::to_string(d.GetErrorOffset()) + ")"}};
  }
  return d;
}

std::string to_json(const rapidjson::Value& v) { return sdk::json::to_text(v); }

std::string items_body(const sdk::QueryResult& q, const char* items_column) {
  auto n = q.get(0, "n", "0");
  return sdk::json::object({{"total", std::atoll(n.c_str())}, {"items", sdk::json::Raw{q.get(0, items_column, "[]")}}});
}

std::string to_param(const rapidjson::Value& v) {
  if (v.IsString()) return {v.GetString(), v.GetStringLength()};
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  return to_json(v);
}

sdk::QueryResult run(sdk::Transaction& tx, std::string_view sql, const sdk::Params& params) {
  auto r = tx.exec(sql, params);
  if (r) return std::move(*r);
  const auto& e = r.error();
  // Every context column references confd_contexts(name): the key fires at
  // INSERT, before a resource's own check could name the field.
  if (e.message.find("_context_fkey") != std::string::npos)
    throw ApiError{400, {"Input Error - field 'context': context does not exist (create it with POST /1.1/contexts)"}};
  if (e.code == sdk::ErrorCode::conflict || e.code == sdk::ErrorCode::invalid)
    throw ApiError{400, {"Resource Error - " + e.message}};
  throw ApiError{500, {"Internal Error - " + e.message}};
}

sdk::QueryResult read(sdk::Store& store, std::string_view sql, const sdk::Params& params) {
  auto r = store.exec(sql, params);
  if (!r) throw ApiError{503, {"Resource Error - " + r.error().message}};
  return std::move(*r);
}

std::string not_found(const std::string& singular, const std::string& key, const std::string& value) {
  return "Resource Not Found - " + singular + " was not found ('" + key + "': " + value + ")";
}

long parse_id(const std::string& singular, const std::string& text) {
  if (text.empty() || text.size() > 9 || !std::all_of(text.begin(), text.end(), ::isdigit))
    throw ApiError{404, {not_found(singular, "id", "'" + text + "'")}};
  return std::stol(text);
}

sdk::HttpResponse Engine::write(const std::function<sdk::HttpResponse(sdk::Transaction&)>& body) {
  std::vector<std::pair<std::string, std::string>> events;
  sdk::HttpResponse out;
  std::optional<ApiError> failure;
  auto* saved = t_pending;
  t_pending = &events;
  auto s = store_.transaction([&](sdk::Transaction& tx) -> sdk::Status {
    events.clear();
    try {
      out = body(tx);
      return {};
    } catch (const ApiError& e) {
      failure = e;
      return sdk::Error::invalid("request refused");
    }
  });
  t_pending = saved;
  if (failure) return sdk::HttpResponse::error(failure->status, failure->messages);
  if (!s) {
    int status = s.error().code == sdk::ErrorCode::conflict ? 409 : 503;
    return sdk::HttpResponse::error(status, {"Resource Error - " + s.error().message});
  }
  for (auto& [topic, json] : events) bus_.publish(topic, json);
  if (!events.empty() && on_commit_) on_commit_();
  return out;
}

void Engine::notify(sdk::Transaction& tx, const std::string& event, const std::string& action,
                    long id, const std::string& json) {
  run(tx, "SELECT pg_notify('dialtone_config', $1)",
      {event + "." + action + ":" + std::to_string(id)});
  if (t_pending) t_pending->emplace_back("config." + event + "." + action, json);
}

void Engine::notify_line_device(sdk::Transaction& tx, const std::string& action, long line_id,
                                const std::string& device_id) {
  notify(tx, "line_device", action, line_id, sdk::json::object({{"line_id", line_id}, {"device_id", device_id}}));
}

std::string Engine::json_expr(const Resource& r, const std::string& base_sql) {
  std::string e = "to_jsonb(t)";
  for (auto& h : r.hidden) e += " - '" + h + "'";
  if (r.embed) e = "(" + e + ") || " + r.embed("(" + base_sql + ")::text");
  return e;
}

std::string base_url(const sdk::HttpRequest& req) {
  auto host = req.header("host", "127.0.0.1");
  std::string scheme = req.header("x-forwarded-proto", "http");
  if (scheme != "https") scheme = "http";
  return scheme + "://" + host + "/1.1";
}

std::string sql_link(const std::string& base, const std::string& rel, const std::string& path,
                     const std::string& id_sql) {
  return "jsonb_build_object('rel', '" + rel + "', 'href', " + base + " || '/" + path + "/' || (" + id_sql + ")::text)";
}

std::string Engine::id_json(sdk::Transaction& tx, const Resource& r, long id) {
  if (!r.has_uuid) return sdk::json::object({{"id", id}});
  auto q = run(tx, "SELECT uuid FROM " + r.table + " WHERE id = $1", {std::to_string(id)});
  return sdk::json::object({{"id", id}, {"uuid", q.get(0, "uuid")}});
}

std::vector<std::string> Engine::validate(const Resource& r, const rapidjson::Value& obj,
                                          bool creating) {
  std::vector<std::string> errs;
  if (!obj.IsObject()) return {"Input Error - body must be a JSON object"};
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    std::string name(it->name.GetString(), it->name.GetStringLength());
    if (name == "id" || name == "uuid") continue;  // echoed back by clients, never written
    auto f = std::find_if(r.fields.begin(), r.fields.end(), [&](auto& x) { return x.name == name; });
    // XiVO ignores fields it does not write (links, embedded relations,
    // read-only columns), so a client can PUT back what it read.
    if (f == r.fields.end()) continue;
    const auto& v = it->value;
    if (v.IsNull()) {
      if (!f->nullable || f->required)
        errs.push_back("Input Error - field '" + name + "': Field may not be null.");
      continue;
    }
    if (!type_ok(f->type, v)) {
      errs.push_back("Input Error - field '" + name + "': " + type_word(f->type));
      continue;
    }
    if (f->check)
      if (auto why = f->check(v)) errs.push_back("Input Error - field '" + name + "': " + *why);
  }
  if (creating)
    for (auto& f : r.fields)
      if (f.required && !obj.HasMember(f.name.c_str()))
        errs.push_back("Input Error - field '" + f.name + "': Missing data for required field.");
  return errs;
}

void Engine::check_uniques(sdk::Transaction& tx, const Resource& r, const rapidjson::Value& obj,
                           long id) {
  for (auto& cols : r.uniques) {
    bool touched = std::any_of(cols.begin(), cols.end(),
                               [&](auto& c) { return obj.HasMember(c.c_str()); });
    if (!touched) continue;
    std::string where;
    sdk::Params ps;
    std::string shown;
    for (auto& c : cols) {
      std::string value;
      if (obj.HasMember(c.c_str()) && !obj[c.c_str()].IsNull()) {
        value = to_param(obj[c.c_str()]);
      } else if (id >= 0) {
        auto q = run(tx, "SELECT " + c + "::text AS v FROM " + r.table + " WHERE id = $1",
                     {std::to_string(id)});
        value = q.get(0, "v");
      } else {
        continue;
      }
      ps.push_back(value);
      if (!where.empty()) where += " AND ";
      where += c + "::text = $" + std::to_string(ps.size());
      if (!shown.empty()) shown += ", ";
      shown += "'" + c + "': '" + value + "'";
    }
    if (ps.empty()) continue;
    ps.push_back(std::to_string(id));
    auto q = run(tx, "SELECT 1 FROM " + r.table + " WHERE " + where + " AND id <> $" +
                         std::to_string(ps.size()), ps);
    if (!q.rows.empty())
      throw ApiError{400, {"Resource Error - " + r.singular + " already exists (" + shown + ")"}};
  }
}

long Engine::upsert(sdk::Transaction& tx, const Resource& r, const rapidjson::Value& obj, long id) {
  check_uniques(tx, r, obj, id);
  std::vector<std::string> cols;
  sdk::Params ps;
  for (auto& f : r.fields) {
    if (!obj.HasMember(f.name.c_str())) continue;
    const auto& v = obj[f.name.c_str()];
    cols.push_back(f.name);
    ps.push_back(v.IsNull() ? sdk::Param{} : sdk::Param{to_param(v)});
  }
  std::string sql;
  if (id < 0) {
    if (cols.empty()) {
      sql = "INSERT INTO " + r.table + " DEFAULT VALUES RETURNING id";
    } else {
      std::string names, values;
      for (std::size_t i = 0; i < cols.size(); ++i) {
        names += (i ? "," : "") + cols[i];
        values += (i ? ",$" : "$") + std::to_string(i + 1);
      }
      sql = "INSERT INTO " + r.table + " (" + names + ") VALUES (" + values + ") RETURNING id";
    }
  } else {
    std::string sets;
    for (std::size_t i = 0; i < cols.size(); ++i)
      sets += (i ? "," : "") + cols[i] + "=$" + std::to_string(i + 1);
    ps.push_back(std::to_string(id));
    std::string idp = "$" + std::to_string(ps.size());
    sql = cols.empty() ? "SELECT id FROM " + r.table + " WHERE id=" + idp + " FOR UPDATE"
                       : "UPDATE " + r.table + " SET " + sets + " WHERE id=" + idp + " RETURNING id";
  }
  auto q = run(tx, sql, ps);
  if (q.rows.empty())
    throw ApiError{404, {not_found(r.singular, "id", std::to_string(id))}};
  long new_id = std::stol(q.get(0, "id"));
  if (r.after_write) r.after_write(tx, new_id);
  return new_id;
}

std::optional<std::string> Engine::fetch(sdk::Transaction* tx, const Resource& r, long id,
                                         const std::string& base) {
  // $2 is always named so its type is known even when nothing embeds links.
  std::string sql = "SELECT " + json_expr(r, "$2") + " AS j, $2::text AS base FROM " + r.table + " t WHERE t.id = $1";
  sdk::QueryResult q;
  sdk::Params ps = {std::to_string(id), base.empty() ? std::string("/1.1") : base};
  if (tx) {
    q = run(*tx, sql, ps);
  } else {
    auto res = store_.exec(sql, ps);
    if (!res) throw ApiError{503, {"Resource Error - " + res.error().message}};
    q = std::move(*res);
  }
  if (q.rows.empty()) return std::nullopt;
  return q.get(0, "j");
}

sdk::HttpResponse Engine::list(const Resource& r, const sdk::HttpRequest& req,
                               const std::string& extra_where, const sdk::Params& extra) {
  sdk::ListQuery lq = req.list.value_or(sdk::ListQuery{});
  sdk::Params ps = extra;
  std::string where = extra_where.empty() ? "true" : extra_where;
  if (!lq.search.empty()) {
    ps.push_back("%" + escape_like(lq.search) + "%");
    std::string p = "$" + std::to_string(ps.size());
    std::string ors;
    for (auto& c : r.searchable)
      ors += (ors.empty() ? "" : " OR ") + ((c.front() == '(' ? c : "t." + c) + "::text ILIKE " + p);
    if (!ors.empty()) where += " AND (" + ors + ")";
  }
  std::string view;
  for (auto& [k, v] : lq.filters) {
    if (k == "view") {
      view = v;
      continue;
    }
    if (auto f = r.filters.find(k); f != r.filters.end()) {
      ps.push_back(v);
      std::string cond = f->second;
      for (auto at = cond.find('?'); at != std::string::npos; at = cond.find('?'))
        cond.replace(at, 1, "$" + std::to_string(ps.size()) + "::text");
      where += " AND (" + cond + ")";
      continue;
    }
    bool known = k == "id" || k == "uuid" ||
                 std::any_of(r.fields.begin(), r.fields.end(), [&](auto& f) { return f.name == k; });
    if (!known) continue;  // XiVO ignores query parameters it does not know
    ps.push_back(v);
    where += " AND t." + k + "::text = $" + std::to_string(ps.size());
  }
  ps.push_back(base_url(req));
  std::string base_sql = "$" + std::to_string(ps.size());
  std::string item = json_expr(r, base_sql);
  if (!view.empty()) {
    auto vw = r.views.find(view);
    if (vw == r.views.end())
      return sdk::HttpResponse::error(400, {"Invalid parameters - view: '" + view + "' is not a view of " + r.path});
    item = vw->second("(" + base_sql + ")::text");
  }
  std::string order = lq.order.empty() ? r.sortable.front() : lq.order;
  if (std::find(r.sortable.begin(), r.sortable.end(), order) == r.sortable.end())
    return sdk::HttpResponse::error(400, {"Invalid parameters - order: '" + order +
                                          "' is not a sortable column (use one of the documented columns)"});
  if (lq.limit && *lq.limit < 0)
    return sdk::HttpResponse::error(400, {"Invalid parameters - limit must be a positive integer"});
  if (lq.offset < 0)
    return sdk::HttpResponse::error(400, {"Invalid parameters - offset must be a positive integer"});
  // One statement: the total and the page (already a JSON array) in a single
  // round trip, so a page costs one query plan and one result row.
  std::string dir = lq.descending ? " DESC" : " ASC";
  std::string page = "SELECT * FROM " + r.table + " t WHERE " + where + " ORDER BY t." + order + dir + ", t.id";
  if (lq.limit) page += " LIMIT " + std::to_string(*lq.limit);
  if (lq.offset) page += " OFFSET " + std::to_string(lq.offset);
  std::string sql = "SELECT " + base_sql + "::text AS base, (SELECT count(*) FROM " + r.table + " t WHERE " + where + ") AS n, (SELECT coalesce(json_agg(" +
                    item + " ORDER BY t." + order + dir + ", t.id), '[]') FROM (" + page + ") t) AS items";
  auto res = store_.exec(sql, ps);
  if (!res) return sdk::HttpResponse::error(503, {"Resource Error - " + res.error().message});
  return sdk::HttpResponse::json(200, items_body(*res, "items"));
}

sdk::HttpResponse Engine::get(const Resource& r, long id, const std::string& base) {
  auto j = fetch(nullptr, r, id, base);
  if (!j) return sdk::HttpResponse::error(404, {not_found(r.singular, "id", std::to_string(id))});
  return sdk::HttpResponse::json(200, *j);
}

sdk::HttpResponse Engine::create(const Resource& r, const std::string& body, const std::string& base) {
  auto doc = parse_body(body);
  if (r.fill_defaults && doc.IsObject()) r.fill_defaults(doc);
  if (auto errs = validate(r, doc, true); !errs.empty()) return sdk::HttpResponse::error(400, errs);
  return write([&](sdk::Transaction& tx) {
    long id = upsert(tx, r, doc, -1);
    notify(tx, r.event, "created", id, id_json(tx, r, id));
    auto out = sdk::HttpResponse::json(201, *fetch(&tx, r, id, base));
    out.headers.emplace_back("Location", (base.empty() ? std::string("/1.1") : base) + "/" + r.path + "/" + std::to_string(id));
    return out;
  });
}

sdk::HttpResponse Engine::update(const Resource& r, long id, const std::string& body) {
  auto doc = parse_body(body);
  if (auto errs = validate(r, doc, false); !errs.empty()) return sdk::HttpResponse::error(400, errs);
  return write([&](sdk::Transaction& tx) {
    upsert(tx, r, doc, id);
    notify(tx, r.event, "edited", id, id_json(tx, r, id));
    return sdk::HttpResponse::empty(204);
  });
}

sdk::HttpResponse Engine::remove(const Resource& r, long id) {
  return write([&](sdk::Transaction& tx) {
    auto ids = id_json(tx, r, id);
    auto q = run(tx, "SELECT id FROM " + r.table + " WHERE id = $1 FOR UPDATE", {std::to_string(id)});
    if (q.rows.empty()) throw ApiError{404, {not_found(r.singular, "id", std::to_string(id))}};
    if (r.full_delete_event)
      if (auto row = fetch(&tx, r, id)) ids = *row;
    if (r.before_delete) r.before_delete(tx, id);
    run(tx, "DELETE FROM " + r.table + " WHERE id = $1", {std::to_string(id)});
    notify(tx, r.event, "deleted", id, ids);
    return sdk::HttpResponse::empty(204);
  });
}

}  // namespace dialtone::plugins::api::confd
