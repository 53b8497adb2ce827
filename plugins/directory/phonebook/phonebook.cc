#include "plugins/directory/phonebook/phonebook.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <set>

#include "plugins/directory/common/rest_util.h"

namespace dialtone::plugins::directory {
namespace {

constexpr sdk::Migration kMigrations[] = {
    {1, "create phonebook tables",
     "CREATE TABLE dird_phonebook ("
     " id serial PRIMARY KEY, tenant text NOT NULL, name text NOT NULL,"
     " description text NOT NULL DEFAULT '', UNIQUE (tenant, name));"
     "CREATE TABLE dird_phonebook_contact ("
     " id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
     " phonebook_id integer NOT NULL REFERENCES dird_phonebook(id) ON DELETE CASCADE,"
     " fields jsonb NOT NULL, folded text NOT NULL, numbers text[] NOT NULL DEFAULT '{}');"
     "CREATE UNIQUE INDEX dird_phonebook_contact_unique"
     " ON dird_phonebook_contact (phonebook_id, md5(fields::text));"
     "CREATE INDEX dird_phonebook_contact_numbers ON dird_phonebook_contact USING gin (numbers);"},
};

const std::set<std::string>& number_columns() {
  static const std::set<std::string> s{"mobilenumbers", "officenumbers", "faxnumbers", "homenumbers",
                                       "othernumbers"};
  return s;
}

const std::vector<std::string>& known_columns() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> c{"title", "displayname", "firstname", "lastname", "society", "email", "url",
                               "description"};
    for (auto* loc : {"office", "home", "other"}) {
      c.push_back(std::string(loc) + "numbers");
      for (auto* f : {"address1", "address2", "city", "state", "zipcode", "country"})
        c.push_back(std::string(loc) + f);
    }
    c.push_back("mobilenumbers");
    c.push_back("faxnumbers");
    return c;
  }();
  return v;
}

bool known(const std::string& col) {
  auto& k = known_columns();
  return std::find(k.begin(), k.end(), col) != k.end();
}

std::string phonebook_json(const Phonebook& p) {
  return sdk::json::object({{"id", p.id}, {"tenant", p.tenant}, {"name", p.name}, {"description", p.description}});
}

Phonebook phonebook_of(const sdk::QueryResult& r, std::size_t i) {
  return {std::stol(r.get(i, "id", "0")), r.get(i, "tenant"), r.get(i, "name"), r.get(i, "description")};
}

}  // namespace

Fields expand_phonebook_contact(const Fields& in) {
  Fields f = in;
  auto get = [&](const char* k) {
    auto it = in.find(k);
    return it == in.end() ? std::string() : it->second;
  };
  auto fn = get("firstname"), ln = get("lastname");
  auto full = fn.empty() ? ln : ln.empty() ? fn : fn + " " + ln;
  if (!full.empty()) f["fullname"] = full;
  for (auto* k : {"description", "displayname", "email", "firstname", "lastname", "society", "title", "url"})
    if (auto v = get(k); !v.empty()) f[std::string("phonebook.") + k] = v;
  if (!full.empty()) f["phonebook.fullname"] = full;
  for (auto* loc : {"office", "home", "other", "mobile", "fax"})
    if (auto v = get((std::string(loc) + "numbers").c_str()); !v.empty())
      f["phonebooknumber." + std::string(loc) + ".number"] = v;
  for (auto* loc : {"office", "home", "other"})
    for (auto* k : {"address1", "address2", "city", "state", "zipcode", "country"})
      if (auto v = get((std::string(loc) + k).c_str()); !v.empty())
        f["phonebookaddress." + std::string(loc) + "." + k] = v;
  return f;
}

std::vector<std::string> validate_phonebook_contact(const Fields& fields) {
  std::vector<std::string> errors;
  for (auto& [k, v] : fields) {
    if (!known(k)) {
      errors.push_back("unknown field '" + k + "'; see the import headers in docs/admin/directories.md");
      continue;
    }
    if (k == "title" && v != "mr" && v != "mrs" && v != "ms") {
      errors.push_back("title '" + v + "' must be mr, mrs or ms");
    } else if (number_columns().count(k)) {
      bool ok;
      if (v.rfind("video:", 0) == 0) {
        auto room = std::string_view(v).substr(6);
        ok = !room.empty() && room.find_first_of("?&'\"%:#") == std::string_view::npos;
      } else {
        auto n = normalize_number(v);
        ok = !n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return (c >= '0' && c <= '9') || c == '+'; });
      }
      if (!ok) errors.push_back(k + " '" + v + "' must be digits or video:<room> (without ?&'\"%:#)");
    } else if (k.ends_with("country")) {
      if (v.size() != 2 || !std::isupper(static_cast<unsigned char>(v[0])) ||
          !std::isupper(static_cast<unsigned char>(v[1])))
        errors.push_back(k + " '" + v + "' must be an ISO 3166 country code such as FR");
    }
  }
  return errors;
}

sdk::Result<std::vector<Fields>> parse_phonebook_import(std::string_view csv, std::vector<std::string>& errors) {
  auto recs = common::csv::read(csv, '|');
  if (recs.empty()) {
    errors.push_back("line 1: the file is empty; the first line must be the header (title|displayname|...)");
    return sdk::Error::invalid(errors.back());
  }
  std::vector<std::string> header = recs[0].cells;
  for (auto& h : header) {
    while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.pop_back();
    while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.erase(h.begin());
  }
  for (auto* m : {"title", "displayname"})
    if (std::find(header.begin(), header.end(), m) == header.end())
      errors.push_back("line 1: mandatory header '" + std::string(m) + "' is missing (fields are separated by |)");
  for (auto& h : header)
    if (!known(h)) errors.push_back("line 1: unknown header '" + h + "'");
  if (!errors.empty()) return sdk::Error::invalid(errors.front());

  std::vector<Fields> out;
  std::set<std::string> seen;
  for (std::size_t r = 1; r < recs.size(); ++r) {
    auto line = recs[r].line;
    const auto& values = recs[r].cells;
    auto where = "line " + std::to_string(line) + ": ";
    if (values.size() > header.size()) {
      errors.push_back(where + "too many fields (" + std::to_string(values.size()) + " for " +
                       std::to_string(header.size()) + " headers)");
      continue;
    }
    Fields f;
    for (std::size_t c = 0; c < values.size(); ++c) f[header[c]] = values[c];
    f = clean_fields(std::move(f));
    for (auto* m : {"title", "displayname"})
      if (!f.count(m)) errors.push_back(where + std::string(m) + " is empty");
    for (auto& e : validate_phonebook_contact(f)) errors.push_back(where + e);
    if (!seen.insert(fields_json(f)).second) errors.push_back(where + "duplicates an earlier line");
    out.push_back(std::move(f));
  }
  if (!errors.empty()) return sdk::Error::invalid(errors.front());
  return out;
}

PhonebookStore::PhonebookStore(sdk::Store& store)
    : store_(store), contacts_(store, "dird_phonebook_contact", "phonebook_id", &expand_phonebook_contact) {}

sdk::Status PhonebookStore::migrate(sdk::Logger& log) {
  if (auto s = store_.migrate("directory.phonebook", kMigrations); !s) return s;
  auto ext = store_.exec("CREATE EXTENSION IF NOT EXISTS pg_trgm");
  if (ext) {
    ext = store_.exec(
        "CREATE INDEX IF NOT EXISTS dird_phonebook_contact_folded"
        " ON dird_phonebook_contact USING gin (folded gin_trgm_ops)");
  }
  if (!ext)
    log.warn("directory.phonebook: no trigram index, searches scan every contact (" + ext.error().message +
             "); install postgresql-contrib or run CREATE EXTENSION pg_trgm as a superuser");
  return {};
}

sdk::Result<std::vector<Phonebook>> PhonebookStore::list(const std::string& tenant) {
  auto r = store_.exec("SELECT id, tenant, name, description FROM dird_phonebook WHERE tenant = $1 ORDER BY name",
                       {tenant});
  if (!r) return r.error();
  std::vector<Phonebook> out;
  for (std::size_t i = 0; i < r->rows.size(); ++i) out.push_back(phonebook_of(*r, i));
  return out;
}

sdk::Result<Phonebook> PhonebookStore::get(const std::string& tenant, long id) {
  auto r = store_.exec("SELECT id, tenant, name, description FROM dird_phonebook WHERE tenant = $1 AND id = $2",
                       {tenant, std::to_string(id)});
  if (!r) return r.error();
  if (r->rows.empty()) return sdk::Error::not_found("phonebook " + std::to_string(id) + " was not found");
  return phonebook_of(*r, 0);
}

sdk::Result<Phonebook> PhonebookStore::find(const std::string& tenant, const std::string& name) {
  auto r = store_.exec("SELECT id, tenant, name, description FROM dird_phonebook WHERE tenant = $1 AND name = $2",
                       {tenant, name});
  if (!r) return r.error();
  if (r->rows.empty())
    return sdk::Error::not_found("phonebook '" + name + "' of tenant " + tenant + " was not found");
  return phonebook_of(*r, 0);
}

sdk::Result<Phonebook> PhonebookStore::create(const std::string& tenant, const std::string& name,
                                              const std::string& description) {
  if (name.empty()) return sdk::Error::invalid("name is required");
  auto r = store_.exec(
      "INSERT INTO dird_phonebook (tenant, name, description) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
      "RETURNING id, tenant, name, description",
      {tenant, name, description});
  if (!r) return r.error();
  if (r->rows.empty()) return sdk::Error::conflict("phonebook '" + name + "' already exists");
  return phonebook_of(*r, 0);
}

sdk::Result<Phonebook> PhonebookStore::update(const std::string& tenant, long id, const std::string& name,
                                              const std::string& description) {
  if (name.empty()) return sdk::Error::invalid("name is required");
  auto r = store_.exec(
      "UPDATE dird_phonebook SET name = $3, description = $4 WHERE tenant = $1 AND id = $2 "
      "RETURNING id, tenant, name, description",
      {tenant, std::to_string(id), name, description});
  if (!r) {
    if (r.error().code == sdk::ErrorCode::conflict)
      return sdk::Error::conflict("phonebook '" + name + "' already exists");
    return r.error();
  }
  if (r->rows.empty()) return sdk::Error::not_found("phonebook " + std::to_string(id) + " was not found");
  return phonebook_of(*r, 0);
}

sdk::Status PhonebookStore::remove(const std::string& tenant, long id) {
  auto r = store_.exec("DELETE FROM dird_phonebook WHERE tenant = $1 AND id = $2", {tenant, std::to_string(id)});
  if (!r) return r.error();
  if (r->affected == 0) return sdk::Error::not_found("phonebook " + std::to_string(id) + " was not found");
  return {};
}

namespace {

// A header that splits on '|' and not on ',' is the web interface's file;
// anything else is read as comma CSV.
bool is_pipe_file(std::string_view csv) {
  auto first = csv.substr(0, csv.find('\n'));
  auto pipe = common::csv::read_rows(first, '|');
  auto comma = common::csv::read_rows(first, ',');
  return !pipe.empty() && !comma.empty() && pipe[0].size() > comma[0].size();
}

}  // namespace

sdk::Result<PhonebookStore::ImportResult> PhonebookStore::import_comma(long id, std::string_view csv) {
  std::size_t unterminated = 0;
  auto recs = common::csv::read(csv, ',', &unterminated);
  if (recs.empty())
    return sdk::Error::invalid(
        "line 1: the file is empty; the first line must be the header (firstname,lastname,officenumbers,...)");
  std::vector<std::string> header = recs[0].cells, errors;
  std::set<std::string> seen_headers;
  for (auto& h : header) {
    while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.pop_back();
    while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.erase(h.begin());
    if (!known(h))
      errors.push_back("line 1: unknown header '" + h + "'; see the import headers in docs/admin/directories.md");
    else if (!seen_headers.insert(h).second)
      errors.push_back("line 1: header '" + h + "' appears twice");
  }
  if (!errors.empty()) return import_error(std::move(errors));

  ImportResult out;
  std::vector<Fields> rows;
  std::vector<std::size_t> row_lines;
  std::map<std::string, std::size_t> seen;  // fields -> line
  for (std::size_t r = 1; r < recs.size(); ++r) {
    auto line = recs[r].line;
    const auto& values = recs[r].cells;
    std::vector<std::string> errs;
    if (unterminated == line) errs.push_back("a quoted field is never closed");
    if (values.size() > header.size())
      errs.push_back("too many fields (" + std::to_string(values.size()) + " for " +
                     std::to_string(header.size()) + " headers)");
    Fields f;
    for (std::size_t c = 0; c < values.size() && c < header.size(); ++c) f[header[c]] = values[c];
    f = clean_fields(std::move(f));
    if (errs.empty() && f.empty()) errs.push_back("no field set");
    if (errs.empty()) errs = validate_phonebook_contact(f);
    if (errs.empty()) {
      auto [it, fresh] = seen.emplace(fields_json(f), line);
      if (!fresh) errs.push_back("duplicates line " + std::to_string(it->second));
    }
    if (!errs.empty()) {
      out.failed.emplace_back(line, std::move(errs));
      continue;
    }
    rows.push_back(std::move(f));
    row_lines.push_back(line);
  }
  auto s = store_.transaction([&](sdk::Transaction& tx) -> sdk::Status {
    auto ids = contacts_.insert_many(tx, std::to_string(id), rows);
    if (!ids) return ids.error();
    for (std::size_t i = 0; i < ids->size(); ++i) {
      if ((*ids)[i])
        out.created.push_back({*(*ids)[i], rows[i]});
      else
        out.failed.push_back({row_lines[i], {"the phonebook already has this contact"}});
    }
    return {};
  });
  if (!s) return s.error();
  std::sort(out.failed.begin(), out.failed.end());
  out.count = out.created.size();
  return out;
}

sdk::Result<PhonebookStore::ImportResult> PhonebookStore::import(const std::string& tenant, long id,
                                                                 std::string_view csv) {
  auto pb = get(tenant, id);
  if (!pb) return pb.error();
  if (csv.substr(0, 3) == "\xEF\xBB\xBF") csv.remove_prefix(3);
  if (!is_pipe_file(csv)) return import_comma(id, csv);
  std::vector<std::string> errors;
  auto rows = parse_phonebook_import(csv, errors);
  if (!rows) return import_error(std::move(errors));
  // Lines of the file by row index: the header is line 1 of `records`.
  auto recs = common::csv::read(csv, '|');
  std::size_t inserted = 0;
  auto s = store_.transaction([&](sdk::Transaction& tx) -> sdk::Status {
    auto ids = contacts_.insert_many(tx, std::to_string(id), *rows);
    if (!ids) return ids.error();
    for (std::size_t i = 0; i < ids->size(); ++i)
      if (!(*ids)[i])
        errors.push_back("line " + std::to_string(recs[i + 1].line) + ": the phonebook already has this contact");
    if (!errors.empty()) return sdk::Error::conflict(errors.front());
    inserted = ids->size();
    return {};
  });
  if (!s) {
    if (!errors.empty()) return import_error(std::move(errors));
    return s.error();
  }
  // A bulk insert leaves the planner's statistics stale and the new index
  // entries in the GIN pending lists, which every lookup would then scan
  // (10 ms per reverse lookup after 100,000 contacts instead of 0.1 ms) until
  // autovacuum passes. Settle both now; failures only cost speed.
  if (inserted >= 1000) {
    (void)store_.exec("ANALYZE dird_phonebook_contact");
    (void)store_.exec(
        "SELECT gin_clean_pending_list(c.oid) FROM pg_class c "
        "WHERE c.relname IN ('dird_phonebook_contact_numbers', 'dird_phonebook_contact_folded')");
  }
  ImportResult out;
  out.pipe_file = true;
  out.count = inserted;
  return out;
}

PhonebookSource::PhonebookSource(PhonebookSourceConfig config, std::shared_ptr<PhonebookStore> store,
                                 sdk::Logger& log)
    : config_(std::move(config)), store_(std::move(store)), log_(log) {}

sdk::Error PhonebookSource::failed(const sdk::Error& e) {
  auto msg = "directory source " + config_.source.name + ": " + e.message;
  failures_.failed(log_, msg);
  return {e.code == sdk::ErrorCode::not_found ? sdk::ErrorCode::unavailable : e.code, msg};
}

sdk::Result<std::string> PhonebookSource::scope() {
  if (config_.phonebook_name.empty()) return std::to_string(config_.phonebook_id);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(scope_mu_);
    if (now < scope_until_) return scope_id_;
  }
  auto pb = store_->find(config_.tenant, config_.phonebook_name);
  if (!pb) {
    auto e = pb.error();
    if (e.code == sdk::ErrorCode::not_found)
      e.message += "; create it (POST /0.1/tenants/" + config_.tenant + "/phonebooks) or fix source." +
                   config_.source.name + ".phonebook_name";
    return failed(e);
  }
  std::lock_guard lock(scope_mu_);
  scope_id_ = std::to_string(pb->id);
  scope_until_ = now + kScopeTtl;
  return scope_id_;
}

sdk::Result<std::vector<sdk::DirectoryEntry>> PhonebookSource::search(const sdk::DirectoryQuery& q) {
  auto sc = scope();
  if (!sc) return sc.error();
  auto r = store_->contacts().search(*sc, config_.source, q.term);
  if (!r) return failed(r.error());
  failures_.succeeded(log_, config_.source.name);
  std::vector<sdk::DirectoryEntry> out;
  out.reserve(r->size());
  for (auto& c : *r) out.push_back(store_->contacts().entry(config_.source, c));
  return out;
}

sdk::Result<std::optional<sdk::DirectoryEntry>> PhonebookSource::first_match(const sdk::DirectoryQuery& q) {
  auto sc = scope();
  if (!sc) return sc.error();
  auto r = store_->contacts().first_match(*sc, config_.source, q.term);
  if (!r) return failed(r.error());
  failures_.succeeded(log_, config_.source.name);
  if (!*r) return std::optional<sdk::DirectoryEntry>{};
  return std::optional<sdk::DirectoryEntry>(store_->contacts().entry(config_.source, **r));
}

sdk::Result<std::vector<sdk::DirectoryEntry>> PhonebookSource::list(const std::vector<std::string>& ids,
                                                                    const sdk::DirectoryQuery&) {
  auto sc = scope();
  if (!sc) return sc.error();
  auto r = store_->contacts().by_ids(*sc, ids);
  if (!r) return failed(r.error());
  std::vector<sdk::DirectoryEntry> out;
  for (auto& c : *r) out.push_back(store_->contacts().entry(config_.source, c));
  return out;
}

namespace {

sdk::Result<long> phonebook_id(const sdk::HttpRequest& req) {
  auto& s = req.params.at("phonebook_id");
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit))
    return sdk::Error::not_found("phonebook " + s + " was not found");
  return std::stol(s);
}

struct PhonebookBody {
  std::string name, description;
};

sdk::Result<PhonebookBody> parse_phonebook_body(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject())
    return sdk::Error::invalid("body must be a JSON object {\"name\": ..., \"description\": ...}");
  PhonebookBody b;
  if (!d.HasMember("name") || !d["name"].IsString() || d["name"].GetStringLength() == 0)
    return sdk::Error::invalid("name is required and must be a non-empty string");
  b.name = d["name"].GetString();
  if (d.HasMember("description")) {
    if (!d["description"].IsString()) return sdk::Error::invalid("description must be a string");
    b.description = d["description"].GetString();
  }
  return b;
}

}  // namespace

std::vector<sdk::Route> phonebook_routes(std::shared_ptr<PhonebookStore> store) {
  using sdk::HttpRequest;
  using sdk::HttpResponse;
  const std::string base = "/0.1/tenants/{tenant}/phonebooks";
  const std::string acl = "dird.tenants.{tenant}.phonebooks";
  std::vector<sdk::Route> out;

  out.push_back({"GET", base, acl + ".read", sdk::RouteAuth::token, "List the tenant's phonebooks",
                 {"name", "description"}, [store](const HttpRequest& req) {
                   auto r = store->list(req.params.at("tenant"));
                   if (!r) return error_response(r.error());
                   std::vector<ListItem> items;
                   for (auto& p : *r)
                     items.push_back({req.list && req.list->order == "description" ? p.description : p.name,
                                      p.name + '\x1f' + p.description, phonebook_json(p)});
                   return list_response(std::move(items), req);
                 }});
  out.push_back({"POST", base, acl + ".create", sdk::RouteAuth::token, "Create a phonebook", {},
                 [store](const HttpRequest& req) {
                   auto b = parse_phonebook_body(req.body);
                   if (!b) return error_response(b.error());
                   auto r = store->create(req.params.at("tenant"), b->name, b->description);
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(201, phonebook_json(*r));
                 }});
  out.push_back({"GET", base + "/{phonebook_id}", acl + ".{phonebook_id}.read", sdk::RouteAuth::token,
                 "Read a phonebook", {}, [store](const HttpRequest& req) {
                   auto id = phonebook_id(req);
                   if (!id) return error_response(id.error());
                   auto r = store->get(req.params.at("tenant"), *id);
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(200, phonebook_json(*r));
                 }});
  out.push_back({"PUT", base + "/{phonebook_id}", acl + ".{phonebook_id}.update", sdk::RouteAuth::token,
                 "Rename or describe a phonebook", {}, [store](const HttpRequest& req) {
                   auto id = phonebook_id(req);
                   if (!id) return error_response(id.error());
                   auto b = parse_phonebook_body(req.body);
                   if (!b) return error_response(b.error());
                   auto r = store->update(req.params.at("tenant"), *id, b->name, b->description);
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(200, phonebook_json(*r));
                 }});
  out.push_back({"DELETE", base + "/{phonebook_id}", acl + ".{phonebook_id}.delete", sdk::RouteAuth::token,
                 "Delete a phonebook and its contacts", {}, [store](const HttpRequest& req) {
                   auto id = phonebook_id(req);
                   if (!id) return error_response(id.error());
                   auto s = store->remove(req.params.at("tenant"), *id);
                   if (!s) return error_response(s.error());
                   return HttpResponse::empty(204);
                 }});

  const std::string contacts = base + "/{phonebook_id}/contacts";
  const std::string cacl = acl + ".{phonebook_id}.contacts";
  out.push_back({"GET", contacts, cacl + ".read", sdk::RouteAuth::token, "List a phonebook's contacts",
                 {"displayname", "firstname", "lastname"}, [store](const HttpRequest& req) {
                   auto id = phonebook_id(req);
                   if (!id) return error_response(id.error());
                   if (auto pb = store->get(req.params.at("tenant"), *id); !pb) return error_response(pb.error());
                   auto r = store->contacts().all(std::to_string(*id));
                   if (!r) return error_response(r.error());
                   return contacts_list_response(*r, req, "displayname");
                 }});
  out.push_back({"POST", contacts, cacl + ".create", sdk::RouteAuth::token, "Add a contact to a phonebook", {},
                 [store](const HttpRequest& req) {
                   auto id = phonebook_id(req);
                   if (!id) return error_response(id.error());
                   if (auto pb = store->get(req.params.at("tenant"), *id); !pb) return error_response(pb.error());
                   auto f = parse_fields_json(req.body);
                   if (!f) return error_response(f.error());
                   if (auto errs = validate_phonebook_contact(*f); !errs.empty()) return HttpResponse::error(400, errs);
                   auto r = store->contacts().create(std::to_string(*id), *f);
                   if (!r) return error_response(r.error());
                   return HttpResponse::json(201, contact_json(*r));
                 }});
  out.push_back({"POST", contacts + "/import", cacl + ".import.create", sdk::RouteAuth::token,
                 "Import contacts from CSV: ',' (xivo-dird, each good line) or '|' (web interface, all or nothing)",
                 {},
                 [store](const HttpRequest& req) {
                   auto id = phonebook_id(req);
                   if (!id) return error_response(id.error());
                   auto r = store->import(req.params.at("tenant"), *id, req.body);
                   if (!r) return error_response(r.error());
                   if (r->pipe_file) return HttpResponse::json(201, sdk::json::object({{"created", r->count}}));
                   return HttpResponse::json(201, import_json(r->created, r->failed));
                 }});
  auto one = [store](const HttpRequest& req, auto&& act) -> HttpResponse {
    auto id = phonebook_id(req);
    if (!id) return error_response(id.error());
    if (auto pb = store->get(req.params.at("tenant"), *id); !pb) return error_response(pb.error());
    return act(std::to_string(*id), req.params.at("contact_uuid"));
  };
  out.push_back({"GET", contacts + "/{contact_uuid}", cacl + ".{contact_uuid}.read", sdk::RouteAuth::token,
                 "Read a phonebook contact", {}, [store, one](const HttpRequest& req) {
                   return one(req, [&](const std::string& scope, const std::string& cid) {
                     auto r = store->contacts().get(scope, cid);
                     if (!r) return error_response(r.error());
                     return HttpResponse::json(200, contact_json(*r));
                   });
                 }});
  out.push_back({"PUT", contacts + "/{contact_uuid}", cacl + ".{contact_uuid}.update", sdk::RouteAuth::token,
                 "Replace a phonebook contact's fields", {}, [store, one](const HttpRequest& req) {
                   return one(req, [&](const std::string& scope, const std::string& cid) {
                     auto f = parse_fields_json(req.body);
                     if (!f) return error_response(f.error());
                     if (auto errs = validate_phonebook_contact(*f); !errs.empty())
                       return HttpResponse::error(400, errs);
                     auto r = store->contacts().update(scope, cid, *f);
                     if (!r) return error_response(r.error());
                     return HttpResponse::json(200, contact_json(*r));
                   });
                 }});
  out.push_back({"DELETE", contacts + "/{contact_uuid}", cacl + ".{contact_uuid}.delete", sdk::RouteAuth::token,
                 "Delete a phonebook contact", {}, [store, one](const HttpRequest& req) {
                   return one(req, [&](const std::string& scope, const std::string& cid) {
                     auto s = store->contacts().remove(scope, cid);
                     if (!s) return error_response(s.error());
                     return HttpResponse::empty(204);
                   });
                 }});
  return out;
}

}  // namespace dialtone::plugins::directory
