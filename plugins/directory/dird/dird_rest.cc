#include "plugins/directory/dird/dird_rest.h"

#include "plugins/directory/common/rest_util.h"

#include <algorithm>
#include <chrono>

namespace dialtone::plugins::directory {
extern const char* const kDirdApiSpec;  // api.yml, embedded at build time
namespace {

constexpr sdk::Migration kFavoriteMigrations[] = {
    {1, "create dird_favorite",
     "CREATE TABLE IF NOT EXISTS dird_favorite ("
     " user_uuid text NOT NULL, source text NOT NULL, contact_id text NOT NULL,"
     " PRIMARY KEY (user_uuid, source, contact_id))"},
};

}  // namespace

sdk::Status Favorites::migrate() { return store_.migrate("directory.dird", kFavoriteMigrations); }

sdk::Status Favorites::add(const std::string& user, const std::string& source, const std::string& id) {
  auto r = store_.exec(
      "INSERT INTO dird_favorite (user_uuid, source, contact_id) VALUES ($1, $2, $3) "
      "ON CONFLICT DO NOTHING",
      {user, source, id});
  if (!r) return r.error();
  return {};
}

sdk::Status Favorites::remove(const std::string& user, const std::string& source, const std::string& id) {
  auto r = store_.exec("DELETE FROM dird_favorite WHERE user_uuid = $1 AND source = $2 AND contact_id = $3",
                       {user, source, id});
  if (!r) return r.error();
  if (r->affected == 0) return sdk::Error::not_found("favorite " + source + "/" + id + " was not found");
  return {};
}

sdk::Result<std::map<std::string, std::vector<std::string>>> Favorites::of(const std::string& user) {
  auto r = store_.exec("SELECT source, contact_id FROM dird_favorite WHERE user_uuid = $1", {user});
  if (!r) return r.error();
  std::map<std::string, std::vector<std::string>> out;
  for (auto& row : r->rows) out[row[0].value_or("")].push_back(row[1].value_or(""));
  return out;
}

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void text(JsonWriter& w, std::string_view v) { w.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); }

// A string, or null when empty.
void text_or_null(JsonWriter& w, std::string_view v) {
  if (v.empty()) w.Null();
  else text(w, v);
}

// "column_headers" and "column_types" of a profile's display.
void write_columns(JsonWriter& w, const std::vector<sdk::DisplayColumn>& columns) {
  w.Key("column_headers");
  w.StartArray();
  for (auto& c : columns) text(w, c.title);
  w.EndArray();
  w.Key("column_types");
  w.StartArray();
  for (auto& c : columns) text_or_null(w, c.type);
  w.EndArray();
}

std::string done(const rapidjson::StringBuffer& sb) { return {sb.GetString(), sb.GetSize()}; }

}  // namespace

std::string lookup_json(const sdk::LookupResult& r, std::string_view term, LookupService& svc,
                        const std::map<std::string, std::vector<std::string>>& favorites) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  write_columns(w, r.columns);
  w.Key("results");
  w.StartArray();
  std::map<std::string, std::string> types;
  for (auto& e : r.entries) {
    if (!types.count(e.source)) types[e.source] = svc.source_type(e.source);
    bool favorite = false;
    if (auto it = favorites.find(e.source); it != favorites.end() && !e.unique_id.empty())
      favorite = std::find(it->second.begin(), it->second.end(), e.unique_id) != it->second.end();
    w.StartObject();
    w.Key("column_values");
    w.StartArray();
    for (auto& c : r.columns) {
      if (c.type == "favorite") w.Bool(favorite);
      else if (c.type == "personal") w.Bool(types[e.source] == "personal");
      else {
        auto v = e.field(c.field);
        text_or_null(w, v.empty() ? c.default_value : v);
      }
    }
    w.EndArray();
    // xivo-dird's relations: a users entry names the server (xivo_id), the
    // user (user_id, user_uuid) and its main line (endpoint_id).
    bool user = types[e.source] == "xivo";  // UsersSource::type(), XiVO's name
    auto field = [&](const char* f) { return user ? e.field(f) : std::string(); };
    auto int_or_null = [&](const char* f) {
      auto v = field(f);
      bool digits = !v.empty() && v.size() <= 9 && v.find_first_not_of("0123456789") == std::string::npos;
      if (digits) w.Int64(std::stol(v));
      else w.Null();
    };
    w.Key("relations");
    w.StartObject();
    w.Key("source_entry_id");
    text_or_null(w, e.unique_id);
    w.Key("user_uuid");
    text_or_null(w, field("uuid"));
    w.Key("user_id");
    int_or_null("id");
    w.Key("xivo_id");
    text_or_null(w, field("xivo_id"));
    w.Key("endpoint_id");
    int_or_null("line_id");
    w.Key("agent_id");
    w.Null();
    w.EndObject();
    w.Key("source");
    text(w, e.source);
    w.EndObject();
  }
  w.EndArray();
  w.Key("failed_sources");
  w.StartArray();
  for (auto& f : r.failed_sources) text(w, f);
  w.EndArray();
  w.Key("term");
  text(w, term);
  w.EndObject();
  return done(sb);
}

std::string DirdRest::user_of(const sdk::HttpRequest& req) const {
  return req.token ? req.token->auth_id : std::string();
}

std::map<std::string, std::vector<std::string>> DirdRest::favorites_of(const std::string& user) {
  if (!favorites_ || user.empty()) return {};
  auto f = favorites_->of(user);
  return f ? std::move(*f) : std::map<std::string, std::vector<std::string>>{};
}

sdk::HttpResponse DirdRest::get_lookup(const sdk::HttpRequest& req) {
  auto it = req.query.find("term");
  if (it == req.query.end() || it->second.empty())
    return sdk::HttpResponse::error(400, {"term is missing: add ?term=<text>"});
  auto user = user_of(req);
  auto r = lookup_.lookup({req.params.at("profile"), it->second, user});
  if (!r) return error_response(r.error());
  return sdk::HttpResponse::json(200, lookup_json(*r, it->second, lookup_, favorites_of(user)));
}

sdk::HttpResponse DirdRest::get_headers(const sdk::HttpRequest& req) {
  auto r = lookup_.headers(req.params.at("profile"));
  if (!r) return error_response(r.error());
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  write_columns(w, *r);
  w.EndObject();
  return sdk::HttpResponse::json(200, done(sb));
}

sdk::HttpResponse DirdRest::get_reverse(const sdk::HttpRequest& req) {
  auto it = req.query.find("exten");
  if (it == req.query.end() || it->second.empty())
    return sdk::HttpResponse::error(400, {"exten is missing: add ?exten=<number>"});
  const auto& profile = req.params.at("profile");
  auto r = lookup_.reverse({profile, it->second, req.params.at("user_uuid")});
  if (!r) return error_response(r.error());
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("exten");
  text(w, it->second);
  w.Key("display");
  if (*r) text_or_null(w, lookup_.display_name(*lookup_.profile(profile), **r));
  else w.Null();
  w.Key("fields");
  w.StartObject();
  if (*r)
    for (auto& [k, v] : (*r)->fields) {
      w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      text(w, v);
    }
  w.EndObject();
  w.Key("source");
  if (*r) text(w, (*r)->source);
  else w.Null();
  w.EndObject();
  return sdk::HttpResponse::json(200, done(sb));
}

sdk::HttpResponse DirdRest::get_favorites(const sdk::HttpRequest& req) {
  if (!favorites_) return sdk::HttpResponse::error(503, {"favorites need the database; enable the store"});
  auto user = user_of(req);
  auto fav = favorites_of(user);
  auto r = lookup_.list(req.params.at("profile"), fav, user);
  if (!r) return error_response(r.error());
  return sdk::HttpResponse::json(200, lookup_json(*r, "", lookup_, fav));
}

// xivo-dird's /directories/personal/{profile}: every personal contact of the
// user, from the profile's personal sources, in the profile's display.
sdk::HttpResponse DirdRest::get_personal(const sdk::HttpRequest& req) {
  auto user = user_of(req);
  if (user.empty()) return sdk::HttpResponse::error(401, {"personal contacts need a user token (X-Auth-Token of a user)"});
  const auto* p = lookup_.profile(req.params.at("profile"));
  if (!p)
    return sdk::HttpResponse::error(404, {"directory profile '" + req.params.at("profile") + "' is not configured"});
  sdk::LookupResult r;
  r.columns = p->display;
  sdk::DirectoryQuery q{"", user, std::chrono::steady_clock::now() + p->timeout};
  for (const auto& name : p->sources) {
    if (lookup_.source_type(name) != "personal") continue;
    auto src = lookup_.source(name);
    auto found = src ? src->search(q) : sdk::Result<std::vector<sdk::DirectoryEntry>>(sdk::Error::unavailable(name));
    if (!found) {
      r.failed_sources.push_back(name);
      continue;
    }
    for (auto& e : *found) r.entries.push_back(std::move(e));
  }
  return sdk::HttpResponse::json(200, lookup_json(r, "", lookup_, favorites_of(user)));
}

sdk::HttpResponse DirdRest::put_favorite(const sdk::HttpRequest& req) {
  if (!favorites_) return sdk::HttpResponse::error(503, {"favorites need the database; enable the store"});
  const auto& directory = req.params.at("directory");
  const auto& contact = req.params.at("contact");
  auto user = user_of(req);
  auto src = lookup_.source(directory);
  if (!src)
    return sdk::HttpResponse::error(404, {"directory source " + directory +
                                          " is not running; use a source name from a [profile.*] sources list"});
  // Only a source with a unique_column can list its favorites back: refuse the
  // others now rather than store a favorite that never shows.
  sdk::DirectoryQuery probe{"", user, std::chrono::steady_clock::now() + std::chrono::seconds(2)};
  if (auto l = src->list({contact}, probe); !l && l.error().code == sdk::ErrorCode::unsupported)
    return sdk::HttpResponse::error(400, {l.error().message});
  auto s = favorites_->add(user, directory, contact);
  if (!s) return error_response(s.error());
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse DirdRest::delete_favorite(const sdk::HttpRequest& req) {
  if (!favorites_) return sdk::HttpResponse::error(503, {"favorites need the database; enable the store"});
  auto s = favorites_->remove(user_of(req), req.params.at("directory"), req.params.at("contact"));
  if (!s) return error_response(s.error());
  return sdk::HttpResponse::empty(204);
}

std::vector<sdk::Route> DirdRest::routes() {
  auto h = [this](sdk::HttpResponse (DirdRest::*m)(const sdk::HttpRequest&)) {
    return [this, m](const sdk::HttpRequest& r) { return (this->*m)(r); };
  };
  std::vector<sdk::Route> out;
  out.push_back({"GET", "/0.1/api/api.yml", "", sdk::RouteAuth::none, "OpenAPI description of this API", {},
                 [](const sdk::HttpRequest&) { return sdk::HttpResponse::text(200, kDirdApiSpec, "application/x-yaml"); }});
  out.push_back({"GET", "/0.1/directories/lookup/{profile}", "dird.directories.lookup.{profile}.read",
                 sdk::RouteAuth::token, "Search the profile's directories", {}, h(&DirdRest::get_lookup)});
  out.push_back({"GET", "/0.1/directories/lookup/{profile}/headers",
                 "dird.directories.lookup.{profile}.headers.read", sdk::RouteAuth::token,
                 "Column headers of the profile's display", {}, h(&DirdRest::get_headers)});
  out.push_back({"GET", "/0.1/directories/reverse/{profile}/{user_uuid}",
                 "dird.directories.reverse.{profile}.{user_uuid}.read", sdk::RouteAuth::token,
                 "First contact matching a number", {}, h(&DirdRest::get_reverse)});
  out.push_back({"GET", "/0.1/directories/favorites/{profile}", "dird.directories.favorites.read",
                 sdk::RouteAuth::token, "The user's favorite contacts", {}, h(&DirdRest::get_favorites)});
  out.push_back({"GET", "/0.1/directories/personal/{profile}", "dird.directories.personal.{profile}.read",
                 sdk::RouteAuth::token, "The user's personal contacts in the profile's display", {},
                 h(&DirdRest::get_personal)});
  out.push_back({"PUT", "/0.1/directories/favorites/{directory}/{contact}",
                 "dird.directories.favorites.{directory}.{contact}.create", sdk::RouteAuth::token,
                 "Mark a contact as favorite", {}, h(&DirdRest::put_favorite)});
  out.push_back({"DELETE", "/0.1/directories/favorites/{directory}/{contact}",
                 "dird.directories.favorites.{directory}.{contact}.delete", sdk::RouteAuth::token,
                 "Unmark a favorite contact", {}, h(&DirdRest::delete_favorite)});
  return out;
}

}  // namespace dialtone::plugins::directory
