// PostgreSQL, shared by the kernel and every plugin.
//
// @code
//   static constexpr dialtone::sdk::Migration kMigrations[] = {
//     {1, "create phonebook", "CREATE TABLE phonebook_contact (id serial PRIMARY KEY, name text)"},
//     {2, "add number", "ALTER TABLE phonebook_contact ADD COLUMN number text"},
//   };
//   if (auto s = store->migrate("directory.phonebook", kMigrations); !s) return s;
//
//   auto r = store->exec("SELECT name FROM phonebook_contact WHERE number = $1", {number});
//   if (r) for (auto& row : r->rows) use(row[0].value_or(""));
//
//   auto s = store->transaction([&](dialtone::sdk::Transaction& tx) -> dialtone::sdk::Status {
//     if (auto r = tx.exec("INSERT ...", {...}); !r) return r.error();   // rolls back
//     return {};                                                         // commits
//   });
// @endcode
//
// exec() and transaction() block: never call them on the SIP or dialplan
// thread; use exec_async() or Host::executor() there.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/result.h"

namespace dialtone::sdk {

class Subscription;

// NULL is std::nullopt. Values travel as PostgreSQL text.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::uint64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE

  int column(std::string_view name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return static_cast<int>(i);
    return -1;
  }
  // Text of `name` in row `r`, or `fallback` when NULL or no such column.
  std::string get(std::size_t r, std::string_view name, std::string fallback = {}) const {
    int c = column(name);
    if (c < 0 || r >= rows.size() || !rows[r][c]) return fallback;
    return *rows[r][c];
  }
};

// A PostgreSQL array literal for a text[] parameter ($1::text[]): every
// element quoted, so commas, braces, quotes and the word NULL stay literal;
// nullopt is NULL.
//   text_array({"a", "b\"c"})   // {"a","b\"c"}
template <typename Range>
std::string text_array(const Range& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    const std::optional<std::string_view> v = [&]() -> std::optional<std::string_view> {
      if constexpr (requires { item.has_value(); }) {
        if (!item) return std::nullopt;
        return std::string_view(*item);
      } else {
        return std::string_view(item);
      }
    }();
    if (!v) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

inline std::string text_array(std::initializer_list<std::string_view> items) {
  return text_array<std::initializer_list<std::string_view>>(items);
}

// The elements of a text[] as PostgreSQL writes it ({a,"b c",NULL}); NULL
// reads as "".
inline std::vector<std::string> parse_text_array(std::string_view s) {
  std::vector<std::string> out;
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return out;
  s = s.substr(1, s.size() - 2);
  std::size_t i = 0;
  while (i < s.size()) {
    std::string item;
    if (s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        item += s[i++];
      }
      ++i;  // closing quote
    } else {
      while (i < s.size() && s[i] != ',') item += s[i++];
      if (item == "NULL") item.clear();
    }
    out.push_back(std::move(item));
    if (i < s.size() && s[i] == ',') ++i;
  }
  return out;
}

struct Migration {
  int version;       // strictly increasing per owner
  const char* name;  // shown in logs and the migrations table
  const char* sql;   // may hold several statements
};

class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual Result<QueryResult> exec(std::string_view sql, const Params& params = {}) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // One statement in autocommit mode. Errors carry PostgreSQL's message;
  // a unique violation is ErrorCode::conflict.
  virtual Result<QueryResult> exec(std::string_view sql, const Params& params = {}) = 0;

  // Runs `body` in one transaction: commits if it returns ok, rolls back if it
  // returns an error or throws. Nothing half-written.
  virtual Status transaction(const std::function<Status(Transaction&)>& body) = 0;

  // Runs on the store's own threads; `done` is called there.
  virtual void exec_async(std::string sql, Params params,
                          std::function<void(Result<QueryResult>)> done) = 0;

  // Applies the migrations of `owner` not yet applied, in version order, each
  // in its own transaction, recorded in dialtone_migrations. Idempotent.
  virtual Status migrate(std::string_view owner, std::span<const Migration> migrations) = 0;

  // LISTEN on `channel`; `on_notify` gets each NOTIFY payload on the store's
  // listener thread. Notifications are also published on the bus as
  // `store.notify.<channel>`.
  virtual std::unique_ptr<Subscription> listen(std::string channel,
                                               std::function<void(const std::string&)> on_notify) = 0;
};

}  // namespace dialtone::sdk
