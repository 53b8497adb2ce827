// Routing per context (seed 5.23): which contexts a context includes
// (XiVO's contextinclude: a caller of `default` that includes `to-extern`
// may use what `to-extern` offers), which contexts an outgoing route is
// attached to, and the check of an outcall pattern's RegExp and Target
// (seed 5.23.2) against the grammar the dialplan's lib/patterns.lua runs.
#include <algorithm>

#include "plugins/api/confd/confd_api.h"
#include "plugins/api/confd/context_routing.h"

namespace dialtone::plugins::api::confd {

std::optional<std::string> outcall_regexp_problem(const std::string& re, const std::string& target) {
  // lib/patterns.lua: literals, ".", [sets], \escapes, (groups) and the
  // quantifiers * + ? {n} {n,} {n,m}; no alternation; "+" first is a literal.
  int depth = 0, groups = 0;
  for (std::size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\') {
      if (++i == re.size()) return "regexp ends with a lone '\\'.";
    } else if (c == '(') {
      ++depth;
      ++groups;
    } else if (c == ')') {
      if (--depth < 0) return "regexp has an unbalanced ')' at position " + std::to_string(i + 1) + ".";
    } else if (c == '[') {
      auto close = re.find(']', i + 2);
      if (close == std::string::npos) return "regexp has a '[' without its ']'.";
      i = close;
    } else if (c == '|') {
      return "regexp alternation '|' is not supported: write one pattern per alternative.";
    } else if (c == '{') {
      auto close = re.find('}', i);
      std::string body = close == std::string::npos ? "" : re.substr(i + 1, close - i - 1);
      bool ok = !body.empty() && body.find_first_not_of("0123456789,") == std::string::npos &&
                std::count(body.begin(), body.end(), ',') <= 1 && body[0] != ',';
      if (!ok) return "regexp has a malformed {n,m} at position " + std::to_string(i + 1) + ".";
      i = close;
    }
  }
  if (depth != 0) return "regexp has a '(' without its ')'.";
  for (std::size_t i = 0; i + 1 < target.size(); ++i)
    if (target[i] == '\\' && target[i + 1] >= '1' && target[i + 1] <= '9' && target[i + 1] - '0' > groups)
      return "target names group \\" + std::string(1, target[i + 1]) + " but the regexp has " +
             std::to_string(groups) + " group(s).";
  return std::nullopt;
}

namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

// {"contexts": [{"id": 1}, ...]} -> the ids, in order, each once.
std::vector<long> context_ids(const std::string& body) {
  auto doc = parse_body(body);
  if (!doc.IsObject() || !doc.HasMember("contexts") || !doc["contexts"].IsArray())
    throw ApiError{400, {"Input Error - field 'contexts': Missing list of {\"id\": <context id>}."}};
  std::vector<long> ids;
  for (auto& c : doc["contexts"].GetArray()) {
    if (!c.IsObject() || !c.HasMember("id") || !c["id"].IsInt())
      throw ApiError{400, {"Input Error - field 'contexts': each item must be {\"id\": <integer>}."}};
    long id = c["id"].GetInt();
    if (std::find(ids.begin(), ids.end(), id) != ids.end())
      throw ApiError{400, {"Input Error - field 'contexts': context " + std::to_string(id) + " is listed twice"}};
    ids.push_back(id);
  }
  return ids;
}

void require(sdk::Transaction& tx, const char* table, const char* singular, long id) {
  if (run(tx, std::string("SELECT 1 FROM ") + table + " WHERE id = $1 FOR UPDATE", {std::to_string(id)}).rows.empty())
    throw ApiError{404, {not_found(singular, "id", std::to_string(id))}};
}

}  // namespace

void ConfdApi::context_routes(const AddRoute& add) {
  auto list = [this](const std::string& sql, long id) {
    auto q = engine_->store().exec(sql, {std::to_string(id)});
    if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
    return HttpResponse::json(200, items_body(*q));
  };

  add("GET", "/contexts/{context_id}/contexts", "confd.contexts.{context_id}.contexts.read",
      "Contexts a context includes, in order (XiVO's context inclusion)", [this, list](const HttpRequest& req) {
        long id = parse_id("Context", req.params.at("context_id"));
        auto q = engine_->store().exec("SELECT 1 FROM confd_contexts WHERE id = $1", {std::to_string(id)});
        if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
        if (q->rows.empty()) throw ApiError{404, {not_found("Context", "id", std::to_string(id))}};
        return list("SELECT count(*) AS n, coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'type', "
                    "c.type) ORDER BY x.position), '[]') AS j FROM confd_context_includes x JOIN confd_contexts c "
                    "ON c.id = x.included_id WHERE x.context_id = $1",
                    id);
      });
  add("PUT", "/contexts/{context_id}/contexts", "confd.contexts.{context_id}.contexts.update",
      "Set the contexts a context includes, in order (replaces the list)", [this](const HttpRequest& req) {
        long id = parse_id("Context", req.params.at("context_id"));
        auto ids = context_ids(req.body);
        return engine_->write([&](sdk::Transaction& tx) {
          require(tx, "confd_contexts", "Context", id);
          run(tx, "DELETE FROM confd_context_includes WHERE context_id = $1", {std::to_string(id)});
          for (std::size_t i = 0; i < ids.size(); ++i) {
            if (ids[i] == id) throw ApiError{400, {"Input Error - field 'contexts': a context cannot include itself"}};
            if (run(tx, "SELECT 1 FROM confd_contexts WHERE id = $1", {std::to_string(ids[i])}).rows.empty())
              throw ApiError{400, {"Input Error - field 'contexts': " + not_found("Context", "id", std::to_string(ids[i]))}};
            run(tx, "INSERT INTO confd_context_includes (context_id, included_id, position) VALUES ($1, $2, $3)",
                {std::to_string(id), std::to_string(ids[i]), std::to_string(i + 1)});
          }
          // An inclusion cycle would make every context of it reach the
          // others' routes whatever the admin meant: refused.
          auto loop = run(tx,
                          "WITH RECURSIVE reach(id) AS (SELECT included_id FROM confd_context_includes WHERE "
                          "context_id = $1 UNION SELECT x.included_id FROM confd_context_includes x JOIN reach r ON "
                          "x.context_id = r.id) SELECT 1 FROM reach WHERE id = $1",
                          {std::to_string(id)});
          if (!loop.rows.empty())
            throw ApiError{400, {"Input Error - field 'contexts': the inclusion would make a loop back to context " +
                                 std::to_string(id)}};
          engine_->notify(tx, "context_contexts", "edited", id, sdk::json::object({{"context_id", id}}));
          return HttpResponse::empty(204);
        });
      });

  add("GET", "/outcalls/{outcall_id}/contexts", "confd.outcalls.{outcall_id}.contexts.read",
      "Contexts an outgoing route is attached to (none: every context)", [this, list](const HttpRequest& req) {
        long id = parse_id("Outcall", req.params.at("outcall_id"));
        auto q = engine_->store().exec("SELECT 1 FROM confd_outcalls WHERE id = $1", {std::to_string(id)});
        if (!q) throw ApiError{503, {"Resource Error - " + q.error().message}};
        if (q->rows.empty()) throw ApiError{404, {not_found("Outcall", "id", std::to_string(id))}};
        return list("SELECT count(*) AS n, coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'type', "
                    "c.type) ORDER BY c.name), '[]') AS j FROM confd_outcall_contexts x JOIN confd_contexts c "
                    "ON c.id = x.context_id WHERE x.outcall_id = $1",
                    id);
      });
  add("PUT", "/outcalls/{outcall_id}/contexts", "confd.outcalls.{outcall_id}.contexts.update",
      "Attach an outgoing route to these contexts (replaces the list; empty: every context)",
      [this](const HttpRequest& req) {
        long id = parse_id("Outcall", req.params.at("outcall_id"));
        auto ids = context_ids(req.body);
        return engine_->write([&](sdk::Transaction& tx) {
          require(tx, "confd_outcalls", "Outcall", id);
          run(tx, "DELETE FROM confd_outcall_contexts WHERE outcall_id = $1", {std::to_string(id)});
          for (long c : ids) {
            if (run(tx, "SELECT 1 FROM confd_contexts WHERE id = $1", {std::to_string(c)}).rows.empty())
              throw ApiError{400, {"Input Error - field 'contexts': " + not_found("Context", "id", std::to_string(c))}};
            run(tx, "INSERT INTO confd_outcall_contexts (outcall_id, context_id) VALUES ($1, $2)",
                {std::to_string(id), std::to_string(c)});
          }
          engine_->notify(tx, "outcall_contexts", "edited", id, sdk::json::object({{"outcall_id", id}}));
          return HttpResponse::empty(204);
        });
      });
}

}  // namespace dialtone::plugins::api::confd
