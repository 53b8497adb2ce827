#include "kernel/store/pg_util.h"

#include <libpq-events.h>

#include <cstdlib>
#include <cstring>
#include <regex>
#include <unordered_map>
#include <vector>

namespace dialtone::kernel::pg {
namespace {

// Statements with parameters are prepared once per connection: planning the
// dialplan's user lookup costs PostgreSQL about 1 ms, running it 0.3 ms, and
// it runs for every call. Kept in the connection (libpq instance data) so a
// reset or close forgets them with it.
struct Prepared {
  std::unordered_map<std::string, std::string> names;  // SQL text -> statement name
  unsigned next = 0;
};
// Beyond this many texts on one connection, statements are planned each time.
constexpr std::size_t kMaxPrepared = 256;

int prepared_events(PGEventId id, void* info, void*) {
  if (id == PGEVT_CONNRESET) {
    auto* p = static_cast<Prepared*>(
        PQinstanceData(static_cast<PGEventConnReset*>(info)->conn, prepared_events));
    if (p) p->names.clear();
  } else if (id == PGEVT_CONNDESTROY) {
    delete static_cast<Prepared*>(
        PQinstanceData(static_cast<PGEventConnDestroy*>(info)->conn, prepared_events));
  }
  return 1;
}

// Last-resort redaction for strings libpq cannot parse: never echo a password.
std::string scrub(std::string_view text) {
  static const std::regex kw(R"(password\s*=\s*('([^'\\]|\\.)*'|\S+))", std::regex::icase);
  static const std::regex uri(R"(://([^:/@\s]*):[^@/\s]*@)");
  std::string s = std::regex_replace(std::string(text), kw, "password=***");
  return std::regex_replace(s, uri, "://$1@");
}

bool is_connection_state(std::string_view sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "53300";
}

sdk::Error make_error(std::string_view sqlstate, std::string message) {
  if (sqlstate == "23505") return sdk::Error::conflict(std::move(message));
  if (sqlstate == "23503" || sqlstate == "23502" || sqlstate == "23514" ||
      sqlstate.starts_with("22"))
    return sdk::Error::invalid(std::move(message));
  if (is_connection_state(sqlstate)) return sdk::Error::unavailable(std::move(message));
  if (sqlstate == "57014") return sdk::Error::timeout(std::move(message));
  return sdk::Error::internal(std::move(message));
}

}  // namespace

std::string quote_value(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value)
    if (c == ' ' || c == '\'' || c == '\\' || c == '\t' || c == '\n') plain = false;
  if (plain) return std::string(value);
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

namespace {

// Rebuilds a DSN from libpq's parse, optionally dropping or replacing a key.
sdk::Result<std::string> rebuild(std::string_view dsn, std::string_view drop, std::string_view set_key,
                                 std::string_view set_value, bool* had_password) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(std::string(dsn).c_str(), &err);
  if (!opts) {
    std::string msg = err ? one_line(err) : "out of memory";
    if (err) PQfreemem(err);
    return sdk::Error::invalid("not a valid PostgreSQL connection string (" + scrub(msg) + ")");
  }
  std::string out;
  bool set_done = false;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view key = o->keyword;
    if (key == "password" && had_password) *had_password = true;
    if (key == drop) continue;
    if (!out.empty()) out += ' ';
    out += key;
    out += '=';
    if (!set_key.empty() && key == set_key) {
      out += quote_value(set_value);
      set_done = true;
    } else {
      out += quote_value(o->val);
    }
  }
  PQconninfoFree(opts);
  if (!set_key.empty() && !set_done) {
    if (!out.empty()) out += ' ';
    out += std::string(set_key) + "=" + quote_value(set_value);
  }
  return out;
}

}  // namespace

std::string redact_dsn(std::string_view dsn, bool* had_password) {
  if (had_password) *had_password = false;
  auto r = rebuild(dsn, "password", {}, {}, had_password);
  if (!r) {
    std::string s = scrub(dsn);
    if (had_password && s != dsn) *had_password = true;
    return s;
  }
  // URIs come back as key=value; key=value strings keep the admin's own order.
  if (dsn.starts_with("postgres://") || dsn.starts_with("postgresql://")) return *r;
  static const std::regex kw(R"(\s*\bpassword\s*=\s*('([^'\\]|\\.)*'|\S+))", std::regex::icase);
  std::string s = std::regex_replace(std::string(dsn), kw, "");
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

sdk::Result<std::string> with_param(std::string_view dsn, std::string_view key, std::string_view value) {
  return rebuild(dsn, {}, key, value, nullptr);
}

std::string one_line(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.remove_suffix(1);
    if (!line.empty()) {
      if (!out.empty()) out += "; ";
      // libpq pads severities ("FATAL:  password ..."): keep a single space.
      for (char c : line)
        if (!(c == ' ' && !out.empty() && out.back() == ' ')) out += c;
    }
    pos = nl + 1;
  }
  return out;
}

ConnPtr connect(const std::string& dsn) {
  // Later keywords override earlier ones, so the DSN's own connect_timeout wins.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* vals[] = {"10", "dialtoned", dsn.c_str(), nullptr};
  ConnPtr conn(PQconnectdbParams(keys, vals, 1));
  // libpq prints server notices ("relation already exists, skipping") on stderr by default.
  if (conn) PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  if (conn && PQregisterEventProc(conn.get(), prepared_events, "dialtone prepared statements", nullptr))
    PQsetInstanceData(conn.get(), prepared_events, new Prepared);
  return conn;
}

std::string connect_error(std::string_view dsn, PGconn* conn, std::string_view hint) {
  bool had_password = false;
  std::string shown = redact_dsn(dsn, &had_password);
  std::string reason = conn ? one_line(PQerrorMessage(conn)) : "out of memory";
  std::string msg = "store: cannot connect to \"" + shown + "\"";
  if (had_password) msg += " (password omitted)";
  msg += ": " + scrub(reason);
  if (!hint.empty()) msg += " — " + std::string(hint);
  return msg;
}

sdk::Error result_error(PGconn* conn, const PGresult* res) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (state && *state) {
    std::string msg = primary ? primary : one_line(PQresultErrorMessage(res));
    return make_error(state, std::move(msg));
  }
  // No SQLSTATE: libpq itself failed, which means the connection is gone.
  std::string msg = res ? one_line(PQresultErrorMessage(res)) : std::string();
  if (msg.empty() && conn) msg = one_line(PQerrorMessage(conn));
  if (msg.empty()) msg = "no result from the database";
  if (!conn || PQstatus(conn) != CONNECTION_OK) return sdk::Error::unavailable("database connection lost: " + msg);
  return sdk::Error::internal(std::move(msg));
}

namespace {

sdk::Result<sdk::QueryResult> convert(PGconn* conn, PGresult* raw) {
  ResultPtr res(raw);
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
    return result_error(conn, res.get());
  sdk::QueryResult out;
  int ncols = PQnfields(res.get());
  int nrows = PQntuples(res.get());
  out.columns.reserve(ncols);
  for (int c = 0; c < ncols; ++c) out.columns.emplace_back(PQfname(res.get(), c));
  out.rows.resize(nrows);
  for (int r = 0; r < nrows; ++r) {
    auto& row = out.rows[r];
    row.reserve(ncols);
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res.get(), r, c))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c)));
    }
  }
  const char* affected = PQcmdTuples(res.get());
  if (affected && *affected) out.affected = std::strtoull(affected, nullptr, 10);
  return out;
}

}  // namespace

sdk::Result<sdk::QueryResult> exec(PGconn* conn, std::string_view sql, const sdk::Params& params) {
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  int n = static_cast<int>(values.size());
  auto* prepared = n > 0 ? static_cast<Prepared*>(PQinstanceData(conn, prepared_events)) : nullptr;
  if (!prepared) return convert(conn, PQexecParams(conn, text.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0));
  auto it = prepared->names.find(text);
  if (it == prepared->names.end()) {
    if (prepared->names.size() >= kMaxPrepared)
      return convert(conn, PQexecParams(conn, text.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0));
    std::string name = "dialtone_" + std::to_string(prepared->next++);
    ResultPtr made(PQprepare(conn, name.c_str(), text.c_str(), n, nullptr));
    if (!made || PQresultStatus(made.get()) != PGRES_COMMAND_OK) return result_error(conn, made.get());
    it = prepared->names.emplace(text, std::move(name)).first;
  }
  PGresult* res = PQexecPrepared(conn, it->second.c_str(), n, values.data(), nullptr, nullptr, 0);
  // A table changed under the statement ("cached plan must not change result
  // type"), or the session dropped it (DEALLOCATE ALL): the next call
  // prepares it again under a new name.
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (state && (std::strcmp(state, "0A000") == 0 || std::strcmp(state, "26000") == 0))
    prepared->names.erase(it);
  return convert(conn, res);
}

sdk::Result<sdk::QueryResult> exec_script(PGconn* conn, const char* sql) {
  return convert(conn, PQexec(conn, sql));
}

}  // namespace dialtone::kernel::pg
