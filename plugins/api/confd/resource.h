// Table-driven CRUD for confd resources: one Resource describes a table's
// writable fields, how they are checked, which columns list requests may
// search and sort, and the hooks that enforce cross-table rules. Every write
// runs in one store transaction that also sends pg_notify('dialtone_config').
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include <dialtone/bus.h>
#include <dialtone/http.h>
#include <dialtone/store.h>

namespace dialtone::plugins::api::confd {

// Thrown inside a transaction body to roll back and answer 400/404 with
// these messages; caught at the handler edge.
struct ApiError {
  int status = 400;
  std::vector<std::string> messages;
};

enum class FieldType { string, integer, boolean, json };

// Every member has a default so the tables in confd_api.cc can name only
// what they set (designated or leading initializers) without warnings.
struct Field {
  std::string name{};
  FieldType type = FieldType::string;
  bool required = false;  // on create
  bool nullable = true;
  // Extra check on a present, well-typed value: returns a reason to refuse.
  std::function<std::optional<std::string>(const rapidjson::Value&)> check{};
};

struct Resource {
  std::string path{};      // "users": /1.1/users, ACL confd.users.*
  std::string table{};     // confd_users
  std::string singular{};  // "User" in messages
  std::string event{};     // "user": config.user.created, pg_notify user.created:<id>
  std::vector<Field> fields{};
  std::vector<std::string> searchable{};  // columns of t, or a parenthesised SQL expression over t
  std::vector<std::string> sortable{};  // first is the default order
  // Column sets that must be unique, checked to give XiVO's message.
  std::vector<std::vector<std::string>> uniques{};
  // Columns hidden from the JSON representation.
  std::vector<std::string> hidden{};
  bool has_uuid = false;
  // The `deleted` event carries the whole row, not only its ids (what a
  // subscriber needs to clean up after it, e.g. a voicemail's spool).
  bool full_delete_event = false;
  // Runs inside the write transaction after INSERT/UPDATE (id known).
  std::function<void(sdk::Transaction&, long id)> after_write{};
  // Runs inside the delete transaction before DELETE.
  std::function<void(sdk::Transaction&, long id)> before_delete{};
  // Completes a create body before validation (XiVO generates some values,
  // e.g. a SIP endpoint's username and secret).
  std::function<void(rapidjson::Document&)> fill_defaults{};
  // SQL jsonb merged over a row's columns (row alias `t`): relations and
  // `links` as XiVO embeds them. `base` is the SQL of the API's base URL.
  std::function<std::string(const std::string& base)> embed{};
  // List filters beyond the columns: name -> SQL condition on `t` where `?`
  // stands for the (text) value, e.g. exten= on users.
  std::map<std::string, std::string> filters{};
  // view= of a list: name -> SQL jsonb of one row `t` replacing the full shape.
  std::map<std::string, std::function<std::string(const std::string& base)>> views{};
};

// The base URL of links in answers: scheme, Host header and /1.1.
std::string base_url(const sdk::HttpRequest& req);
// One XiVO link object {"rel": rel, "href": base/path/id} as SQL jsonb.
std::string sql_link(const std::string& base, const std::string& rel, const std::string& path,
                     const std::string& id_sql);

// Parses a JSON request body, refusing invalid UTF-8 and non-objects.
rapidjson::Document parse_body(const std::string& body);

// Runs a query inside a transaction; a failure becomes ApiError (unique
// violations 400, others 500) so the whole request rolls back.
sdk::QueryResult run(sdk::Transaction& tx, std::string_view sql, const sdk::Params& params = {});

// Runs a read outside a transaction; a store failure becomes ApiError 503.
sdk::QueryResult read(sdk::Store& store, std::string_view sql, const sdk::Params& params = {});

std::string to_param(const rapidjson::Value& v);
std::string to_json(const rapidjson::Value& v);

// XiVO's list body {"total": n, "items": [...]} of a query selecting the
// count as `n` and the items' JSON array as `items_column`.
std::string items_body(const sdk::QueryResult& q, const char* items_column = "j");

// The body of PUT .../fallbacks (users and groups) checked and reduced to the
// four XiVO fallbacks as a JSON object for the jsonb column: each one absent,
// null, or a destination object with a string "type"; anything else is a 400
// naming the field.
std::string fallbacks_json(const std::string& body);

class Engine {
 public:
  Engine(sdk::Store& store, sdk::EventBus& bus) : store_(store), bus_(bus) {}

  // Runs `body` in one transaction; returns 2xx from `ok` or the ApiError as
  // an XiVO error list. Events queued with notify() are published on commit.
  sdk::HttpResponse write(const std::function<sdk::HttpResponse(sdk::Transaction&)>& body);
  // Queues config.<event>.<action> with `json`, and pg_notify in `tx`.
  void notify(sdk::Transaction& tx, const std::string& event, const std::string& action,
              long id, const std::string& json);
  // config.line_device.<action> for a line and provd's device id.
  void notify_line_device(sdk::Transaction& tx, const std::string& action, long line_id, const std::string& device_id);

  sdk::HttpResponse list(const Resource& r, const sdk::HttpRequest& req,
                         const std::string& extra_where = {}, const sdk::Params& extra = {});
  sdk::HttpResponse get(const Resource& r, long id, const std::string& base = {});
  sdk::HttpResponse create(const Resource& r, const std::string& body, const std::string& base = {});
  sdk::HttpResponse update(const Resource& r, long id, const std::string& body);
  sdk::HttpResponse remove(const Resource& r, long id);

  // Field checks on a parsed object; `creating` enforces required fields.
  static std::vector<std::string> validate(const Resource& r, const rapidjson::Value& obj,
                                           bool creating);
  // INSERT (id < 0) or UPDATE of the provided fields in `tx`; returns the id.
  long upsert(sdk::Transaction& tx, const Resource& r, const rapidjson::Value& obj, long id);
  // The JSON of one row (relations embedded, links under `base`), or nullopt.
  std::optional<std::string> fetch(sdk::Transaction* tx, const Resource& r, long id,
                                   const std::string& base = {});
  void check_uniques(sdk::Transaction& tx, const Resource& r, const rapidjson::Value& obj, long id);
  // The jsonb of row `t`; `base_sql` is the SQL of the base URL (a parameter).
  static std::string json_expr(const Resource& r, const std::string& base_sql = "''");
  std::string id_json(sdk::Transaction& tx, const Resource& r, long id);

  sdk::Store& store() { return store_; }
  // Runs after each write that announced something, once its events are
  // published (the config service refreshes its snapshot there).
  void on_commit(std::function<void()> f) { on_commit_ = std::move(f); }

 private:
  sdk::Store& store_;
  sdk::EventBus& bus_;
  std::function<void()> on_commit_;
};

std::string not_found(const std::string& singular, const std::string& key, const std::string& value);
// Parses a numeric path id; throws ApiError 404 when it is not a number.
long parse_id(const std::string& singular, const std::string& text);

}  // namespace dialtone::plugins::api::confd
