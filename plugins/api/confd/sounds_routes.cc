// /1.1/sounds: the writable sound store (XiVO's /var/lib/xivo/sounds, served
// by confd's /1.1/sounds in later versions): one directory per category
// under the media engine's sounds.store, `recordings` holding the sounds
// users record with *9 (<caller number>-<epoch>.wav). An admin lists a
// category, downloads, replaces or deletes its files. A file is named as
// XiVO names it, without its extension (`1001-1765000000`), or with `.wav`.
// Uploads are checked and written whole (audio_files.h); the engine writes
// *9's sounds whole too, so a listing never shows a half-written file.
#include <algorithm>
#include <regex>

#include <dialtone/json.h>
#include <dialtone/media.h>
#include <dialtone/services.h>

#include "plugins/api/confd/audio_files.h"
#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

namespace fs = std::filesystem;
using sdk::HttpRequest;
using sdk::HttpResponse;

const std::regex kCategory("[a-zA-Z0-9][-_.a-zA-Z0-9]{0,63}");
const std::regex kSound("[a-zA-Z0-9][-_.a-zA-Z0-9]{0,127}");

// The category's sounds (file names without .wav), sorted; hidden files
// (a recording or an upload in progress) are not sounds yet.
std::vector<std::string> sounds_of(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    std::error_code e;
    if (name.empty() || name[0] == '.' || !it->is_regular_file(e) || it->path().extension() != ".wav") continue;
    out.push_back(it->path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string category_json(const fs::path& root, const std::string& name) {
  std::vector<sdk::json::Value> files;
  for (auto& s : sounds_of(root / name)) {
    auto path = root / name / (s + ".wav");
    std::error_code ec;
    auto size = static_cast<std::int64_t>(fs::file_size(path, ec));
    auto format = sdk::json::object({{"format", "wav"}, {"language", nullptr}, {"path", path.string()}, {"size", size}});
    files.emplace_back(sdk::json::Raw{sdk::json::object({{"name", s}, {"formats", sdk::json::Raw{sdk::json::array({sdk::json::Raw{format}})}}})});
  }
  return sdk::json::object({{"name", name}, {"files", sdk::json::Raw{sdk::json::array(files)}}});
}

std::string category_of(const HttpRequest& req) {
  const auto& c = req.params.at("category");
  if (!std::regex_match(c, kCategory)) throw ApiError{404, {not_found("Sound", "name", "'" + c + "'")}};
  return c;
}

// The sound's name without .wav, or 400 naming what a name may hold.
std::string sound_of(const HttpRequest& req) {
  std::string f = req.params.at("filename");
  if (f.size() > 4 && f.compare(f.size() - 4, 4, ".wav") == 0) f.resize(f.size() - 4);
  if (!std::regex_match(f, kSound))
    throw ApiError{400, {"Input Error - filename '" + req.params.at("filename") +
                         "': 1 to 128 letters, digits, '-', '_' or '.', starting with a letter or digit"}};
  return f;
}

}  // namespace

std::filesystem::path ConfdApi::sound_store() const {
  if (auto engine = host_.services().find<sdk::media::MediaEngine>())
    if (auto p = engine->sound_store_path(); !p.empty()) return p;
  return "/var/lib/dialtone/sounds";
}

void ConfdApi::sound_routes(const AddRoute& add) {
  // The file a route's {category} and {filename} name, and the sound's name.
  auto sound_file = [this](const HttpRequest& req) {
    auto c = category_of(req);
    auto s = sound_of(req);
    return std::make_pair(sound_store() / c / (s + ".wav"), s);
  };
  add("GET", "/sounds", "confd.sounds.read", "List the sound store's categories and their files",
      [this](const HttpRequest&) {
        auto root = sound_store();
        std::vector<std::string> names;
        std::error_code ec;
        for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
          auto n = it->path().filename().string();
          std::error_code e;
          if (it->is_directory(e) && std::regex_match(n, kCategory)) names.push_back(n);
        }
        std::sort(names.begin(), names.end());
        std::vector<sdk::json::Value> items;
        for (auto& n : names) items.emplace_back(sdk::json::Raw{category_json(root, n)});
        return HttpResponse::json(200, sdk::json::object({{"total", static_cast<std::int64_t>(items.size())},
                                                          {"items", sdk::json::Raw{sdk::json::array(items)}}}));
      });

  add("GET", "/sounds/{category}", "confd.sounds.{category}.read", "Read a sound category and its files",
      [this](const HttpRequest& req) {
        auto c = category_of(req);
        std::error_code ec;
        if (!fs::is_directory(sound_store() / c, ec)) throw ApiError{404, {not_found("Sound", "name", "'" + c + "'")}};
        return HttpResponse::json(200, category_json(sound_store(), c));
      });

  add("GET", "/sounds/{category}/files/{filename}", "confd.sounds.{category}.files.{filename}.read",
      "Download a sound (WAV)", [sound_file](const HttpRequest& req) {
        auto [file, s] = sound_file(req);
        std::error_code ec;
        if (!fs::is_regular_file(file, ec)) throw ApiError{404, {not_found("Sound file", "filename", "'" + s + "'")}};
        return HttpResponse{200, "audio/wav", read_whole(file), {}};
      });

  add("PUT", "/sounds/{category}/files/{filename}", "confd.sounds.{category}.files.{filename}.update",
      "Add or replace a sound (WAV, mono, 8-48 kHz)", [sound_file](const HttpRequest& req) {
        auto [file, s] = sound_file(req);
        if (auto why = audio_problem(req.body)) throw ApiError{400, {"Input Error - file '" + s + "': " + *why}};
        write_whole(file.parent_path(), file.filename().string(), req.body,
                    "check media.engine's sounds.store and its permissions");
        return HttpResponse::empty(204);
      });

  add("DELETE", "/sounds/{category}/files/{filename}", "confd.sounds.{category}.files.{filename}.delete",
      "Delete a sound", [sound_file](const HttpRequest& req) {
        auto [file, s] = sound_file(req);
        std::error_code ec;
        if (!fs::remove(file, ec)) {
          if (ec) throw ApiError{500, {"cannot delete " + file.string() + ": " + ec.message()}};
          throw ApiError{404, {not_found("Sound file", "filename", "'" + s + "'")}};
        }
        return HttpResponse::empty(204);
      });
}

}  // namespace dialtone::plugins::api::confd
