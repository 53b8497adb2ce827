#include "plugins/directory/common/contact_table.h"

#include <dialtone/text.h>

#include <dialtone/http.h>
#include <rapidjson/document.h>

#include <set>

namespace dialtone::plugins::directory {
namespace {

std::string like_contains(std::string_view folded) { return "%" + sdk::text::like_escape(folded) + "%"; }

bool is_number(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!((c >= '0' && c <= '9') || c == '+' || c == '*' || c == '#')) return false;
  return true;
}

std::vector<std::string> numbers_of(const Fields& fields) {
  std::set<std::string> out;
  for (auto& [_, v] : fields)
    if (auto n = normalize_number(v); is_number(n)) out.insert(n);
  return {out.begin(), out.end()};
}

std::string folded_of(const Fields& fields) {
  std::string s;
  for (auto& [_, v] : fields) {
    if (!s.empty()) s += '\x1f';
    s += fold(v);
  }
  return s;
}

bool searched_match(const SourceConfig& config, const Fields& row, const std::string& folded_term) {
  for (auto& c : config.searched_columns)
    if (auto it = row.find(c); it != row.end() && fold(it->second).find(folded_term) != std::string::npos)
      return true;
  return false;
}

bool number_match(const SourceConfig& config, const Fields& row, const std::string& number) {
  for (auto& c : config.first_matched_columns)
    if (auto it = row.find(c); it != row.end() && normalize_number(it->second) == number) return true;
  return false;
}

}  // namespace

Fields clean_fields(Fields fields) {
  for (auto it = fields.begin(); it != fields.end();)
    it = it->second.empty() ? fields.erase(it) : std::next(it);
  return fields;
}

std::string fields_json(const Fields& fields) {
  std::vector<sdk::json::Member> members;
  for (auto& [k, v] : fields) members.emplace_back(k, v);
  return sdk::json::object(members);
}

sdk::Result<Fields> parse_fields_json(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject())
    return sdk::Error::invalid("body must be a JSON object of string fields, e.g. {\"firstname\": \"Alice\"}");
  Fields out;
  for (auto& m : d.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    if (key == "id") continue;  // read-only
    if (m.value.IsString()) out[key] = std::string(m.value.GetString(), m.value.GetStringLength());
    else if (m.value.IsInt64()) out[key] = std::to_string(m.value.GetInt64());
    else if (m.value.IsNull()) continue;
    else return sdk::Error::invalid("field '" + key + "' must be a string");
  }
  return clean_fields(std::move(out));
}

std::string contact_json(const Contact& c) {
  Fields f = c.fields;
  f["id"] = c.id;
  return fields_json(f);
}

bool is_uuid(std::string_view s) { return sdk::text::is_uuid(s); }

ContactTable::ContactTable(sdk::Store& store, std::string table, std::string scope_column, Expand expand)
    : store_(store), table_(std::move(table)), scope_(std::move(scope_column)), expand_(expand) {}

Fields ContactTable::expanded(const Contact& c) const {
  Fields f = expand_ ? expand_(c.fields) : c.fields;
  f["id"] = c.id;
  return f;
}

sdk::DirectoryEntry ContactTable::entry(const SourceConfig& config, const Contact& c) const {
  return make_entry(config, expanded(c));
}

sdk::Result<std::vector<Contact>> ContactTable::rows(std::string_view sql, const sdk::Params& params) {
  auto r = store_.exec(sql, params);
  if (!r) return r.error();
  std::vector<Contact> out;
  out.reserve(r->rows.size());
  for (auto& row : r->rows) {
    auto f = parse_fields_json(row[1].value_or("{}"));
    if (!f) return f.error();
    out.push_back({row[0].value_or(""), std::move(*f)});
  }
  return out;
}

sdk::Result<std::vector<Contact>> ContactTable::search(const std::string& scope, const SourceConfig& config,
                                                       std::string_view term) {
  if (config.searched_columns.empty()) return std::vector<Contact>{};
  auto t = fold(term);
  auto r = rows("SELECT id::text, fields::text FROM " + table_ + " WHERE " + scope_ +
                    " = $1 AND folded LIKE $2 ORDER BY id",
                {scope, like_contains(t)});
  if (!r) return r;
  std::vector<Contact> out;
  for (auto& c : *r)
    if (searched_match(config, expanded(c), t)) out.push_back(std::move(c));
  return out;
}

sdk::Result<std::optional<Contact>> ContactTable::first_match(const std::string& scope,
                                                              const SourceConfig& config,
                                                              std::string_view number) {
  auto n = normalize_number(number);
  if (n.empty() || config.first_matched_columns.empty()) return std::optional<Contact>{};
  auto r = rows("SELECT id::text, fields::text FROM " + table_ + " WHERE " + scope_ +
                    " = $1 AND numbers @> ARRAY[$2::text] ORDER BY id",
                {scope, n});
  if (!r) return r.error();
  for (auto& c : *r)
    if (number_match(config, expanded(c), n)) return std::optional<Contact>(std::move(c));
  return std::optional<Contact>{};
}

sdk::Result<std::vector<Contact>> ContactTable::by_ids(const std::string& scope,
                                                       const std::vector<std::string>& ids) {
  std::vector<std::string> valid;
  for (auto& id : ids)
    if (is_uuid(id)) valid.push_back(id);
  if (valid.empty()) return std::vector<Contact>{};
  return rows("SELECT id::text, fields::text FROM " + table_ + " WHERE " + scope_ +
                  " = $1 AND id = ANY($2::uuid[]) ORDER BY id",
              {scope, sdk::text_array(valid)});
}

sdk::Result<std::vector<Contact>> ContactTable::all(const std::string& scope) {
  return rows("SELECT id::text, fields::text FROM " + table_ + " WHERE " + scope_ + " = $1 ORDER BY id",
              {scope});
}

sdk::Result<Contact> ContactTable::get(const std::string& scope, const std::string& id) {
  if (!is_uuid(id)) return sdk::Error::not_found("contact " + id + " was not found");
  auto r = rows("SELECT id::text, fields::text FROM " + table_ + " WHERE " + scope_ + " = $1 AND id = $2",
                {scope, id});
  if (!r) return r.error();
  if (r->empty()) return sdk::Error::not_found("contact " + id + " was not found");
  return std::move(r->front());
}

sdk::Result<Contact> ContactTable::create(const std::string& scope, const Fields& in) {
  auto fields = clean_fields(in);
  if (fields.empty()) return sdk::Error::invalid("a contact needs at least one non-empty field");
  auto x = expand_ ? expand_(fields) : fields;
  auto r = store_.exec("INSERT INTO " + table_ + " (" + scope_ +
                           ", fields, folded, numbers) VALUES ($1, $2::jsonb, $3, $4::text[]) "
                           "ON CONFLICT DO NOTHING RETURNING id::text",
                       {scope, fields_json(fields), folded_of(x), sdk::text_array(numbers_of(x))});
  if (!r) return r.error();
  if (r->rows.empty()) return sdk::Error::conflict("a contact with the same fields already exists");
  return Contact{r->rows[0][0].value_or(""), std::move(fields)};
}

sdk::Result<Contact> ContactTable::update(const std::string& scope, const std::string& id, const Fields& in) {
  if (!is_uuid(id)) return sdk::Error::not_found("contact " + id + " was not found");
  auto fields = clean_fields(in);
  if (fields.empty()) return sdk::Error::invalid("a contact needs at least one non-empty field");
  auto x = expand_ ? expand_(fields) : fields;
  auto r = store_.exec("UPDATE " + table_ + " SET fields = $3::jsonb, folded = $4, numbers = $5::text[] WHERE " +
                           scope_ + " = $1 AND id = $2",
                       {scope, id, fields_json(fields), folded_of(x), sdk::text_array(numbers_of(x))});
  if (!r) {
    if (r.error().code == sdk::ErrorCode::conflict)
      return sdk::Error::conflict("a contact with the same fields already exists");
    return r.error();
  }
  if (r->affected == 0) return sdk::Error::not_found("contact " + id + " was not found");
  return Contact{id, std::move(fields)};
}

sdk::Status ContactTable::remove(const std::string& scope, const std::string& id) {
  if (!is_uuid(id)) return sdk::Error::not_found("contact " + id + " was not found");
  auto r = store_.exec("DELETE FROM " + table_ + " WHERE " + scope_ + " = $1 AND id = $2", {scope, id});
  if (!r) return r.error();
  if (r->affected == 0) return sdk::Error::not_found("contact " + id + " was not found");
  return {};
}

sdk::Result<std::uint64_t> ContactTable::remove_all(const std::string& scope) {
  auto r = store_.exec("DELETE FROM " + table_ + " WHERE " + scope_ + " = $1", {scope});
  if (!r) return r.error();
  return r->affected;
}

sdk::Result<std::vector<std::optional<std::string>>> ContactTable::insert_many(
    sdk::Transaction& tx, const std::string& scope, const std::vector<Fields>& in) {
  constexpr std::size_t kBatch = 1000;
  std::vector<std::optional<std::string>> out(in.size());
  std::set<std::string> seen_ids;
  const std::string sql =
      "WITH src AS (SELECT r, ord FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS a(r, ord)), "
      "ins AS (INSERT INTO " + table_ + " (" + scope_ + ", fields, folded, numbers) "
      "SELECT $1, r->'f', r->>'x', ARRAY(SELECT jsonb_array_elements_text(r->'n')) FROM src ORDER BY ord "
      "ON CONFLICT DO NOTHING RETURNING id, fields) "
      "SELECT src.ord, ins.id::text FROM src LEFT JOIN ins ON ins.fields = src.r->'f' ORDER BY src.ord";
  for (std::size_t start = 0; start < in.size(); start += kBatch) {
    auto end = std::min(in.size(), start + kBatch);
    std::vector<sdk::json::Value> batch;
    for (std::size_t i = start; i < end; ++i) {
      auto fields = clean_fields(in[i]);
      auto x = expand_ ? expand_(fields) : fields;
      batch.emplace_back(sdk::json::Raw{sdk::json::object({{"f", sdk::json::Raw{fields_json(fields)}},
                                                        {"x", folded_of(x)},
                                                        {"n", sdk::json::Raw{sdk::json::array(numbers_of(x))}}})});
    }
    auto r = tx.exec(sql, {scope, sdk::json::array(batch)});
    if (!r) return r.error();
    for (auto& row : r->rows) {
      auto ord = std::stoul(row[0].value_or("0"));
      if (ord == 0 || start + ord - 1 >= end || !row[1]) continue;
      if (!seen_ids.insert(*row[1]).second) continue;  // an earlier row of this batch holds it
      out[start + ord - 1] = *row[1];
    }
  }
  return out;
}

}  // namespace dialtone::plugins::directory
