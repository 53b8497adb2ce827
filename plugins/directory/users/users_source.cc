#include "plugins/directory/users/users_source.h"

#include <dialtone/text.h>

#include <algorithm>

namespace dialtone::plugins::directory {
namespace {

// Latin accents folded in SQL like fold() does in C++ (lower() first), so
// that "helene" finds "Hélène" without an extension.
constexpr const char* kFrom = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ";
constexpr const char* kTo = "aaaaaaceeeeiiiinooooouuuuyy";

// One row per user: the main line's first extension and the voicemail.
constexpr const char* kBase =
    "SELECT * FROM (SELECT u.id::text AS id, u.uuid::text AS uuid, u.firstname, coalesce(u.lastname, '') AS lastname,"
    " coalesce(u.email, '') AS email, coalesce(u.mobile_phone_number, '') AS mobile_phone_number,"
    " coalesce(x.exten, '') AS exten, coalesce(x.context, '') AS context,"
    " coalesce(v.number, '') AS voicemail_number, coalesce(x.line_id::text, '') AS line_id,"
    " coalesce((SELECT s.value #>> '{}' FROM confd_settings s WHERE s.name = 'uuid'), '') AS xivo_id"
    " FROM confd_users u"
    " LEFT JOIN LATERAL (SELECT e.exten, e.context, ul.line_id FROM confd_user_lines ul"
    "   JOIN confd_line_extensions le ON le.line_id = ul.line_id"
    "   JOIN confd_extensions e ON e.id = le.extension_id"
    "   WHERE ul.user_id = u.id AND NOT e.commented"
    "   ORDER BY ul.main_line DESC, e.id LIMIT 1) x ON true"
    " LEFT JOIN confd_user_voicemails uv ON uv.user_id = u.id"
    " LEFT JOIN confd_voicemails v ON v.id = uv.voicemail_id"
    " WHERE u.enabled) t";

bool known(const std::string& c) {
  auto& cols = user_columns();
  return std::find(cols.begin(), cols.end(), c) != cols.end();
}

std::string like_contains(std::string_view folded) { return "%" + sdk::text::like_escape(folded) + "%"; }

}  // namespace

const std::vector<std::string>& user_columns() {
  static const std::vector<std::string> c{"id",    "uuid",    "firstname", "lastname",        "email",
                                          "mobile_phone_number", "exten", "context", "voicemail_number",
                                          "line_id", "xivo_id"};
  return c;
}

UsersSource::UsersSource(SourceConfig config, sdk::Store& store, sdk::Logger& log)
    : config_(std::move(config)), store_(store), log_(log) {}

sdk::Status UsersSource::ready() {
  if (ready_) return {};
  auto r = store_.exec(
      "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN "
      "('confd_users','confd_user_lines','confd_line_extensions','confd_extensions','confd_user_voicemails',"
      "'confd_voicemails','confd_settings')");
  std::string msg;
  if (!r) msg = r.error().message;
  else if (r->get(0, "count") != "7")
    msg = "the users tables of api.confd do not exist yet; enable the api.confd plugin";
  if (!msg.empty()) {
    msg = "directory source " + config_.name + ": " + msg;
    failures_.failed(log_, msg);
    return sdk::Error::unavailable(msg);
  }
  ready_ = true;
  failures_.succeeded(log_, config_.name);
  return {};
}

sdk::Result<std::vector<std::map<std::string, std::string>>> UsersSource::query(const std::string& where,
                                                                                const sdk::Params& params) {
  if (auto s = ready(); !s) return s.error();
  auto r = store_.exec(std::string(kBase) + " WHERE " + where + " ORDER BY lastname, firstname, id", params);
  if (!r) {
    auto msg = "directory source " + config_.name + ": " + r.error().message;
    failures_.failed(log_, msg);
    ready_ = false;  // re-check the tables next time
    return sdk::Error{r.error().code, msg};
  }
  failures_.succeeded(log_, config_.name);
  std::vector<std::map<std::string, std::string>> out;
  for (std::size_t i = 0; i < r->rows.size(); ++i) {
    std::map<std::string, std::string> row;
    for (auto& c : r->columns) row[c] = r->get(i, c);
    out.push_back(std::move(row));
  }
  return out;
}

sdk::Result<std::vector<sdk::DirectoryEntry>> UsersSource::search(const sdk::DirectoryQuery& q) {
  std::vector<std::string> cols;
  for (auto& c : config_.searched_columns)
    if (known(c)) cols.push_back(c);
  std::vector<sdk::DirectoryEntry> out;
  if (cols.empty()) return out;
  std::string where;
  for (auto& c : cols)
    where += (where.empty() ? "" : " OR ") + std::string("translate(lower(t.") + c + "), '" + kFrom + "', '" +
             kTo + "') LIKE $1";
  auto rows = query("(" + where + ")", {like_contains(fold(q.term))});
  if (!rows) return rows.error();
  for (auto& r : *rows) out.push_back(make_entry(config_, std::move(r)));
  return out;
}

sdk::Result<std::optional<sdk::DirectoryEntry>> UsersSource::first_match(const sdk::DirectoryQuery& q) {
  auto n = normalize_number(q.term);
  std::string where;
  for (auto& c : config_.first_matched_columns)
    if (known(c))
      where += (where.empty() ? "" : " OR ") + std::string("translate(t.") + c + ", ' .-()', '') = $1";
  if (where.empty() || n.empty()) return std::optional<sdk::DirectoryEntry>{};
  auto rows = query("(" + where + ")", {n});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<sdk::DirectoryEntry>{};
  return std::optional<sdk::DirectoryEntry>(make_entry(config_, std::move(rows->front())));
}

sdk::Result<std::vector<sdk::DirectoryEntry>> UsersSource::list(const std::vector<std::string>& ids,
                                                                const sdk::DirectoryQuery&) {
  if (config_.unique_column.empty() || !known(config_.unique_column))
    return sdk::Error::unsupported("directory source " + config_.name +
                                   " has no unique_column; set `unique_column = uuid` to use favorites");
  std::vector<sdk::DirectoryEntry> out;
  if (ids.empty()) return out;
  auto rows = query("t." + config_.unique_column + " = ANY($1::text[])", {sdk::text_array(ids)});
  if (!rows) return rows.error();
  for (auto& r : *rows) out.push_back(make_entry(config_, std::move(r)));
  return out;
}

}  // namespace dialtone::plugins::directory
