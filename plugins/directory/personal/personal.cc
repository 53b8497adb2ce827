#include "plugins/directory/personal/personal.h"

#include <algorithm>
#include <set>

#include "plugins/directory/common/rest_util.h"

namespace dialtone::plugins::directory {
namespace {

constexpr sdk::Migration kMigrations[] = {
    {1, "create personal contacts",
     "CREATE TABLE dird_personal_contact ("
     " id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_uuid text NOT NULL,"
     " fields jsonb NOT NULL, folded text NOT NULL, numbers text[] NOT NULL DEFAULT '{}');"
     "CREATE UNIQUE INDEX dird_personal_contact_unique ON dird_personal_contact (user_uuid, md5(fields::text));"
     "CREATE INDEX dird_personal_contact_numbers ON dird_personal_contact USING gin (numbers);"},
};

std::string user_of(const sdk::HttpRequest& req) { return req.token ? req.token->auth_id : std::string(); }

sdk::Status check_columns(const Fields& f) {
  auto& cols = personal_columns();
  for (auto& [k, _] : f)
    if (std::find(cols.begin(), cols.end(), k) == cols.end())
      return sdk::Error::invalid("unknown field '" + k +
                                 "'; a personal contact has company, email, fax, firstname, lastname, mobile, number");
  return {};
}

std::string created_json(const PersonalStore::ImportResult& r) {
  std::vector<std::pair<std::size_t, std::vector<std::string>>> failed;
  for (auto& [line, error] : r.failed) failed.push_back({line, {error}});
  return import_json(r.created, failed);
}

}  // namespace

const std::vector<std::string>& personal_columns() {
  static const std::vector<std::string> c{"company", "email", "fax", "firstname", "lastname", "mobile", "number"};
  return c;
}

PersonalStore::PersonalStore(sdk::Store& store)
    : store_(store), contacts_(store, "dird_personal_contact", "user_uuid", nullptr) {}

sdk::Status PersonalStore::migrate() { return store_.migrate("directory.personal", kMigrations); }

sdk::Result<PersonalStore::ImportResult> PersonalStore::import(const std::string& user, std::string_view csv) {
  // Physical lines: a personal contact file has no multi-line fields.
  std::vector<std::pair<std::size_t, std::string_view>> lines;
  std::size_t n = 1, start = 0;
  if (csv.substr(0, 3) == "\xEF\xBB\xBF") csv.remove_prefix(3);
  for (std::size_t i = 0; i <= csv.size(); ++i) {
    if (i == csv.size() || csv[i] == '\n') {
      auto l = csv.substr(start, i - start);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (!l.empty()) lines.emplace_back(n, l);
      start = i + 1;
      ++n;
    }
  }
  if (lines.empty()) return sdk::Error::invalid("the file is empty; the first line must be the header (company,email,fax,firstname,lastname,mobile,number)");
  auto hrows = common::csv::read_rows(lines[0].second);
  auto header = hrows.empty() ? std::vector<std::string>{} : hrows[0];
  for (auto& h : header) {
    while (!h.empty() && h.back() == ' ') h.pop_back();
    while (!h.empty() && h.front() == ' ') h.erase(h.begin());
    Fields probe{{h, "x"}};
    if (auto s = check_columns(probe); !s) return sdk::Error::invalid("line 1: " + s.error().message);
  }
  ImportResult out;
  std::vector<Fields> rows;
  std::vector<std::size_t> row_lines;
  std::set<std::string> seen;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto parsed = common::csv::read_rows(lines[i].second);
    auto values = parsed.empty() ? std::vector<std::string>{} : parsed[0];
    if (values.size() > header.size()) {
      out.failed.emplace_back(lines[i].first, "too many fields");
      continue;
    }
    Fields f;
    for (std::size_t c = 0; c < values.size(); ++c) f[header[c]] = values[c];
    f = clean_fields(std::move(f));
    if (f.empty()) {
      out.failed.emplace_back(lines[i].first, "no field set");
      continue;
    }
    if (!seen.insert(fields_json(f)).second) {
      out.failed.emplace_back(lines[i].first, "duplicate contact");
      continue;
    }
    rows.push_back(std::move(f));
    row_lines.push_back(lines[i].first);
  }
  auto s = store_.transaction([&](sdk::Transaction& tx) -> sdk::Status {
    auto ids = contacts_.insert_many(tx, user, rows);
    if (!ids) return ids.error();
    for (std::size_t i = 0; i < ids->size(); ++i) {
      if ((*ids)[i]) out.created.push_back({*(*ids)[i], rows[i]});
      else out.failed.emplace_back(row_lines[i], "duplicate contact");
    }
    return {};
  });
  if (!s) return s.error();
  std::sort(out.failed.begin(), out.failed.end());
  return out;
}

sdk::Result<std::string> PersonalStore::export_csv(const std::string& user) {
  auto all = contacts_.all(user);
  if (!all) return all.error();
  auto& cols = personal_columns();
  std::string out;
  common::csv::write_row(out, cols);
  for (auto& c : *all) {
    std::vector<std::string> cells;
    for (auto& col : cols) {
      auto it = c.fields.find(col);
      cells.push_back(it == c.fields.end() ? "" : it->second);
    }
    common::csv::write_row(out, cells);
  }
  return out;
}

PersonalSource::PersonalSource(SourceConfig config, std::shared_ptr<PersonalStore> store, sdk::Logger& log)
    : config_(std::move(config)), store_(std::move(store)), log_(log) {
  config_.unique_column = "id";  // seed 4.1.1: not configurable for personal
}

sdk::Error PersonalSource::failed(const sdk::Error& e) {
  auto msg = "directory source " + config_.name + ": " + e.message;
  failures_.failed(log_, msg);
  return {e.code, msg};
}

sdk::Result<std::vector<sdk::DirectoryEntry>> PersonalSource::search(const sdk::DirectoryQuery& q) {
  std::vector<sdk::DirectoryEntry> out;
  if (q.user_uuid.empty()) return out;
  auto r = store_->contacts().search(q.user_uuid, config_, q.term);
  if (!r) return failed(r.error());
  failures_.succeeded(log_, config_.name);
  for (auto& c : *r) out.push_back(store_->contacts().entry(config_, c));
  return out;
}

sdk::Result<std::optional<sdk::DirectoryEntry>> PersonalSource::first_match(const sdk::DirectoryQuery& q) {
  if (q.user_uuid.empty()) return std::optional<sdk::DirectoryEntry>{};
  auto r = store_->contacts().first_match(q.user_uuid, config_, q.term);
  if (!r) return failed(r.error());
  failures_.succeeded(log_, config_.name);
  if (!*r) return std::optional<sdk::DirectoryEntry>{};
  return std::optional<sdk::DirectoryEntry>(store_->contacts().entry(config_, **r));
}

sdk::Result<std::vector<sdk::DirectoryEntry>> PersonalSource::list(const std::vector<std::string>& ids,
                                                                   const sdk::DirectoryQuery& q) {
  std::vector<sdk::DirectoryEntry> out;
  if (q.user_uuid.empty()) return out;
  auto r = store_->contacts().by_ids(q.user_uuid, ids);
  if (!r) return failed(r.error());
  for (auto& c : *r) out.push_back(store_->contacts().entry(config_, c));
  return out;
}

std::vector<sdk::Route> personal_routes(std::shared_ptr<PersonalStore> store) {
  using sdk::HttpRequest;
  using sdk::HttpResponse;
  auto no_user = [] { return HttpResponse::error(401, {"personal contacts need a user token (X-Auth-Token of a user)"}); };
  std::vector<sdk::Route> out;
  out.push_back({"GET", "/0.1/personal", "dird.personal.read", sdk::RouteAuth::token,
                 "List the user's personal contacts (format=text/csv exports them)",
                 {"lastname", "firstname", "company"}, [store, no_user](const HttpRequest& req) {
                   auto user = user_of(req);
                   if (user.empty()) return no_user();
                   auto fmt = req.query.find("format");
                   if (fmt != req.query.end() && fmt->second == "text/csv") {
                     auto csv = store->export_csv(user);
                     if (!csv) return error_response(csv.error());
                     return HttpResponse::text(200, std::move(*csv), "text/csv; charset=utf-8");
                   }
                   if (fmt != req.query.end() && fmt->second != "application/json")
                     return HttpResponse::error(400, {"format '" + fmt->second + "' is not supported; use application/json or text/csv"});
                   auto r = store->contacts().all(user);
                   if (!r) return error_response(r.error());
                   return contacts_list_response(*r, req, "lastname");
                 }});
  out.push_back({"POST", "/0.1/personal", "dird.personal.create", sdk::RouteAuth::token,
                 "Create a personal contact", {}, [store, no_user](const HttpRequest& req) {
                   auto user = user_of(req);
                   if (user.empty()) return no_user();
                   auto f = parse_fields_json(req.body);
                   if (!f) return error_response(f.error());
                   if (auto s = check_columns(*f); !s) return error_response(s.error());
                   auto r = store->contacts().create(user, *f);
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(201, contact_json(*r));
                 }});
  out.push_back({"DELETE", "/0.1/personal", "dird.personal.delete", sdk::RouteAuth::token,
                 "Delete all the user's personal contacts", {}, [store, no_user](const HttpRequest& req) {
                   auto user = user_of(req);
                   if (user.empty()) return no_user();
                   auto r = store->contacts().remove_all(user);
                   if (!r) return error_response(r.error());
                   return HttpResponse::empty(204);
                 }});
  out.push_back({"POST", "/0.1/personal/import", "dird.personal.import.create", sdk::RouteAuth::token,
                 "Import personal contacts from CSV (company,email,fax,firstname,lastname,mobile,number)", {},
                 [store, no_user](const HttpRequest& req) {
                   auto user = user_of(req);
                   if (user.empty()) return no_user();
                   auto r = store->import(user, req.body);
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(201, created_json(*r));
                 }});
  out.push_back({"GET", "/0.1/personal/{contact_id}", "dird.personal.{contact_id}.read", sdk::RouteAuth::token,
                 "Read a personal contact", {}, [store, no_user](const HttpRequest& req) {
                   auto user = user_of(req);
                   if (user.empty()) return no_user();
                   auto r = store->contacts().get(user, req.params.at("contact_id"));
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(200, contact_json(*r));
                 }});
  out.push_back({"PUT", "/0.1/personal/{contact_id}", "dird.personal.{contact_id}.update", sdk::RouteAuth::token,
                 "Replace a personal contact's fields", {}, [store, no_user](const HttpRequest& req) {
                   auto user = user_of(req);
                   if (user.empty()) return no_user();
                   auto f = parse_fields_json(req.body);
                   if (!f) return error_response(f.error());
                   if (auto s = check_columns(*f); !s) return error_response(s.error());
                   auto r = store->contacts().update(user, req.params.at("contact_id"), *f);
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(200, contact_json(*r));
                 }});
  out.push_back({"DELETE", "/0.1/personal/{contact_id}", "dird.personal.{contact_id}.delete",
                 sdk::RouteAuth::token, "Delete a personal contact", {}, [store, no_user](const HttpRequest& req) {
                   auto user = user_of(req);
                   if (user.empty()) return no_user();
                   auto s = store->contacts().remove(user, req.params.at("contact_id"));
                   if (!s) return error_response(s.error());
                   return HttpResponse::empty(204);
                 }});
  return out;
}

}  // namespace dialtone::plugins::directory
