// /1.1/moh: music-on-hold classes (XiVO's On-hold Music, seed 5.22) and
// their audio files. A class is a row (uuid, name, label, mode, application,
// sort) and a directory named after it under the music root (`default` is
// the root itself). The root is the media engine's sounds.moh_path unless
// conf.d sets api.confd's moh.path, so an uploaded file is heard from the
// next hold on, with no reload and no second setting to keep equal. Files are checked before they land: a WAV that
// libsndfile decodes, mono, 8-48 kHz; written to a hidden temporary file
// and renamed, so a bad or interrupted upload leaves nothing half-written.

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>

#include <dialtone/json.h>
#include <dialtone/media.h>
#include <dialtone/services.h>
#include <dialtone/text.h>

#include "plugins/api/confd/audio_files.h"
#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

namespace fs = std::filesystem;
using sdk::HttpRequest;
using sdk::HttpResponse;

const std::regex kName("[a-zA-Z0-9][-_.a-zA-Z0-9]{0,19}");
const std::regex kFile("[a-zA-Z0-9][-_.a-zA-Z0-9]{0,127}\\.wav");

fs::path class_dir(const fs::path& root, const std::string& name) { return name == "default" ? root : root / name; }

// The class's playable files, by name (what the engine plays, in its order).
std::vector<std::string> class_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    if (!it->is_regular_file() || name.empty() || name[0] == '.') continue;
    auto ext = sdk::text::to_lower(it->path().extension().string());
    if (ext == ".wav" || ext == ".gsm" || ext == ".sln" || ext == ".sln16" || ext == ".raw") out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct MohRow {
  long id = 0;
  std::string uuid, name, mode;
  std::optional<std::string> label, application, sort;
};

std::optional<std::string> opt(const sdk::QueryResult& q, std::size_t row, const char* col) {
  int c = q.column(col);
  if (c < 0 || row >= q.rows.size()) return std::nullopt;
  return q.rows[row][c];
}

constexpr const char* kColumns = "id, uuid::text AS uuid, name, label, mode, application, sort";

MohRow row_of(const sdk::QueryResult& q, std::size_t i) {
  return MohRow{std::stol(q.get(i, "id")), q.get(i, "uuid"), q.get(i, "name"), q.get(i, "mode"),
                opt(q, i, "label"), opt(q, i, "application"), opt(q, i, "sort")};
}

std::string moh_json(const MohRow& m, const fs::path& root, const std::string& base) {
  std::vector<sdk::json::Value> files;
  for (auto& f : class_files(class_dir(root, m.name))) files.emplace_back(sdk::json::Raw{sdk::json::object({{"name", f}})});
  return sdk::json::object(
      {{"uuid", m.uuid},
       {"name", m.name},
       {"label", m.label},
       {"mode", m.mode},
       {"application", m.application},
       {"sort", m.sort},
       {"files", sdk::json::Raw{sdk::json::array(files)}},
       {"links", sdk::json::Raw{sdk::json::array({sdk::json::Raw{sdk::json::object({{"rel", "moh"}, {"href", base + "/moh/" + m.uuid}})}})}}});
}

MohRow find_moh(sdk::Store& store, const std::string& uuid) {
  if (!sdk::text::is_uuid(uuid))
    throw ApiError{404, {not_found("MOH", "uuid", "'" + uuid + "'")}};
  auto q = read(store, std::string("SELECT ") + kColumns + " FROM confd_moh WHERE uuid = $1::uuid", {uuid});
  if (q.rows.empty()) throw ApiError{404, {not_found("MOH", "uuid", "'" + uuid + "'")}};
  return row_of(q, 0);
}

// The checked fields of a create (all) or update (label, mode, application,
// sort; name is read-only) body, as column -> value (nullopt: NULL).
std::map<std::string, std::optional<std::string>> moh_fields(const std::string& body, bool creating) {
  auto doc = parse_body(body);
  std::vector<std::string> errors;
  std::map<std::string, std::optional<std::string>> out;
  auto field = [&](const char* key, bool required, bool nullable, auto check) {
    if (!doc.HasMember(key)) {
      if (required) errors.push_back(std::string("Input Error - field '") + key + "': Missing data for required field.");
      return;
    }
    const auto& v = doc[key];
    if (v.IsNull()) {
      if (!nullable) errors.push_back(std::string("Input Error - field '") + key + "': Field may not be null.");
      else out[key] = std::nullopt;
      return;
    }
    if (!v.IsString()) {
      errors.push_back(std::string("Input Error - field '") + key + "': Not a valid string.");
      return;
    }
    std::string s(v.GetString(), v.GetStringLength());
    if (auto why = check(s)) errors.push_back(std::string("Input Error - field '") + key + "': " + *why);
    else out[key] = s;
  };
  auto longest = [](std::size_t n) {
    return [n](const std::string& s) -> std::optional<std::string> {
      if (s.size() > n) return "Longer than maximum length " + std::to_string(n) + ".";
      return std::nullopt;
    };
  };
  auto among = [](std::vector<std::string> values) {
    return [values](const std::string& s) -> std::optional<std::string> {
      if (std::find(values.begin(), values.end(), s) != values.end()) return std::nullopt;
      std::string all;
      for (auto& v : values) all += (all.empty() ? "" : ", ") + v;
      return "Must be one of: " + all + ".";
    };
  };
  if (creating)
    field("name", true, false, [](const std::string& s) -> std::optional<std::string> {
      if (std::regex_match(s, kName)) return std::nullopt;
      return "Must be 1 to 20 letters, digits, '-', '_' or '.', starting with a letter or digit "
             "(it names the class's directory).";
    });
  field("label", false, true, longest(128));
  field("mode", creating, false, among({"custom", "files", "mp3"}));
  field("application", false, true, longest(256));
  field("sort", false, true, among({"alphabetical", "random", "random_start"}));
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string k(it->name.GetString(), it->name.GetStringLength());
    static const std::set<std::string> known{"uuid", "name", "label", "mode", "application", "sort", "files",
                                             "links", "tenant_uuid"};
    if (!known.count(k)) errors.push_back("Input Error - field '" + k + "': Unknown field.");
  }
  if (!errors.empty()) throw ApiError{400, errors};
  return out;
}

}  // namespace

std::filesystem::path ConfdApi::moh_root() const {
  if (!moh_path_.empty()) return moh_path_;
  if (auto engine = host_.services().find<sdk::media::MediaEngine>())
    if (auto p = engine->music_path(); !p.empty()) return p;
  return "/usr/share/asterisk/moh";
}

void ConfdApi::moh_routes(const AddRoute& add) {
  add("GET", "/moh", "confd.moh.read", "List music on hold classes", [this](const HttpRequest& req) {
    std::string search = req.query.count("search") ? req.query.at("search") : "";
    auto q = read(engine_->store(),
                  std::string("SELECT ") + kColumns +
                      " FROM confd_moh WHERE $1 = '' OR name ILIKE '%' || $1 || '%' OR label ILIKE '%' || $1 || '%' "
                      "ORDER BY name",
                  {search});
    std::string base = base_url(req);
    std::vector<sdk::json::Value> items;
    for (std::size_t i = 0; i < q.rows.size(); ++i) items.emplace_back(sdk::json::Raw{moh_json(row_of(q, i), moh_root(), base)});
    return HttpResponse::json(200, sdk::json::object({{"total", q.rows.size()}, {"items", sdk::json::Raw{sdk::json::array(items)}}}));
  });

  add("POST", "/moh", "confd.moh.create", "Create a music on hold class", [this](const HttpRequest& req) {
    auto f = moh_fields(req.body, true);
    std::string name = *f["name"];
    if (!f.count("sort") && f["mode"] == std::optional<std::string>("files")) f["sort"] = "alphabetical";
    auto base = base_url(req);
    return engine_->write([&](sdk::Transaction& tx) {
      if (!run(tx, "SELECT 1 FROM confd_moh WHERE name = $1", {name}).rows.empty())
        throw ApiError{400, {"Resource Error - MOH already exists ('name': '" + name + "')"}};
      auto q = run(tx,
                   std::string("INSERT INTO confd_moh (name, label, mode, application, sort) VALUES ($1, $2, $3, $4, $5) "
                               "RETURNING ") + kColumns,
                   {name, f["label"], f["mode"], f["application"], f["sort"]});
      auto m = row_of(q, 0);
      std::error_code ec;
      fs::create_directories(class_dir(moh_root(), name), ec);
      if (ec)
        throw ApiError{500, {"cannot create the class directory " + class_dir(moh_root(), name).string() + ": " +
                             ec.message() + " (check moh.path and its permissions)"}};
      auto json = moh_json(m, moh_root(), base);
      engine_->notify(tx, "moh", "created", m.id, json);
      return HttpResponse::json(201, json);
    });
  });

  add("GET", "/moh/{uuid}", "confd.moh.{uuid}.read", "Read a music on hold class", [this](const HttpRequest& req) {
    return HttpResponse::json(200, moh_json(find_moh(engine_->store(), req.params.at("uuid")), moh_root(), base_url(req)));
  });

  add("PUT", "/moh/{uuid}", "confd.moh.{uuid}.update", "Update a music on hold class", [this](const HttpRequest& req) {
    auto m = find_moh(engine_->store(), req.params.at("uuid"));
    auto f = moh_fields(req.body, false);
    return engine_->write([&](sdk::Transaction& tx) {
      for (auto& [col, value] : f)  // columns from moh_fields' fixed list only
        run(tx, "UPDATE confd_moh SET " + col + " = $1 WHERE id = $2", {value, std::to_string(m.id)});
      auto q = run(tx, std::string("SELECT ") + kColumns + " FROM confd_moh WHERE id = $1", {std::to_string(m.id)});
      engine_->notify(tx, "moh", "edited", m.id, moh_json(row_of(q, 0), moh_root(), base_url(req)));
      return HttpResponse::empty(204);
    });
  });

  add("DELETE", "/moh/{uuid}", "confd.moh.{uuid}.delete", "Delete a music on hold class and its files",
      [this](const HttpRequest& req) {
        auto m = find_moh(engine_->store(), req.params.at("uuid"));
        auto r = engine_->write([&](sdk::Transaction& tx) {
          run(tx, "DELETE FROM confd_moh WHERE id = $1", {std::to_string(m.id)});
          engine_->notify(tx, "moh", "deleted", m.id, sdk::json::object({{"uuid", m.uuid}, {"name", m.name}}));
          return HttpResponse::empty(204);
        });
        // After the commit: the files go with the class (the `default`
        // directory, sounds.moh_path itself, keeps its files).
        if (r.status == 204 && m.name != "default") {
          auto dir = class_dir(moh_root(), m.name);
          std::error_code ec;
          for (auto& f : class_files(dir)) fs::remove(dir / f, ec);
          fs::remove(dir, ec);  // only if empty: files of another origin stay
        }
        return r;
      });

  auto file_of = [this](const HttpRequest& req) {
    auto m = find_moh(engine_->store(), req.params.at("uuid"));
    const auto& name = req.params.at("filename");
    return std::make_pair(m, name);
  };

  add("GET", "/moh/{uuid}/files/{filename}", "confd.moh.{uuid}.files.{filename}.read",
      "Download a music on hold file", [this, file_of](const HttpRequest& req) {
        auto [m, name] = file_of(req);
        auto files = class_files(class_dir(moh_root(), m.name));
        if (std::find(files.begin(), files.end(), name) == files.end())
          throw ApiError{404, {not_found("MOH file", "filename", "'" + name + "'")}};
        auto bytes = read_whole(class_dir(moh_root(), m.name) / name);
        return HttpResponse{200, "application/octet-stream", std::move(bytes), {}};
      });

  add("PUT", "/moh/{uuid}/files/{filename}", "confd.moh.{uuid}.files.{filename}.update",
      "Add or replace a music on hold file (WAV, mono, 8-48 kHz)", [this, file_of](const HttpRequest& req) {
        auto [m, name] = file_of(req);
        if (!std::regex_match(name, kFile))
          throw ApiError{400, {"Input Error - filename '" + name + "': must be 1 to 128 letters, digits, '-', '_' or "
                               "'.' ending in .wav, starting with a letter or digit"}};
        if (auto why = audio_problem(req.body))
          throw ApiError{400, {"Input Error - file '" + name + "': " + *why}};
        write_whole(class_dir(moh_root(), m.name), name, req.body, "check moh.path and its permissions");
        return engine_->write([&](sdk::Transaction& tx) {
          engine_->notify(tx, "moh", "edited", m.id, moh_json(m, moh_root(), base_url(req)));
          return HttpResponse::empty(204);
        });
      });

  add("DELETE", "/moh/{uuid}/files/{filename}", "confd.moh.{uuid}.files.{filename}.delete",
      "Delete a music on hold file", [this, file_of](const HttpRequest& req) {
        auto [m, name] = file_of(req);
        auto dir = class_dir(moh_root(), m.name);
        auto files = class_files(dir);
        if (std::find(files.begin(), files.end(), name) == files.end())
          throw ApiError{404, {not_found("MOH file", "filename", "'" + name + "'")}};
        std::error_code ec;
        if (!fs::remove(dir / name, ec) || ec)
          throw ApiError{500, {"cannot delete " + (dir / name).string() + ": " + ec.message()}};
        return engine_->write([&](sdk::Transaction& tx) {
          engine_->notify(tx, "moh", "edited", m.id, moh_json(m, moh_root(), base_url(req)));
          return HttpResponse::empty(204);
        });
      });
}

}  // namespace dialtone::plugins::api::confd
