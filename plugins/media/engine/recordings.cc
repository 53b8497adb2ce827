#include "recordings.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>

#include <dialtone/files.h>
#include <dialtone/json.h>

namespace dialtone::plugins::media {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

std::string safe(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (!name_char(c)) c = '_';
  return out;
}

// "20261207-051300-c42.wav" -> "c42" (the call id, with its `-what` if any).
std::string call_of(const std::string& name) {
  if (name.size() < 20) return {};
  return name.substr(16, name.size() - 16 - 4);
}

}  // namespace

std::filesystem::path Recordings::new_file(std::string_view call_id, std::string_view what) const {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::string name = std::string(stamp) + "-" + safe(call_id.empty() ? "call" : call_id);
  if (!what.empty()) name += "-" + safe(what);
  return dir_ / (name + ".wav");
}

bool Recordings::valid_name(std::string_view name) {
  if (name.size() < 21 || name.size() > 200 || name.substr(name.size() - 4) != ".wav") return false;
  if (name.find("..") != std::string_view::npos || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), name_char);
}

std::vector<sdk::Route> Recordings::routes() const {
  namespace fs = std::filesystem;
  using sdk::HttpRequest;
  using sdk::HttpResponse;
  const fs::path dir = dir_;
  auto file_of = [dir](const HttpRequest& req) -> std::optional<fs::path> {
    auto it = req.params.find("name");
    if (it == req.params.end() || !valid_name(it->second)) return std::nullopt;
    return dir / it->second;
  };
  auto bad_name = [](const HttpRequest& req) {
    auto it = req.params.find("name");
    return HttpResponse::error(400, {"Input Error - recording '" + (it == req.params.end() ? std::string() : it->second) +
                                     "': not a recording name (<yyyymmdd-HHMMSS>-<call id>.wav)"});
  };
  auto missing = [](const fs::path& f) {
    return HttpResponse::error(404, {"Resource Not Found - Recording was not found ('name': '" +
                                     f.filename().string() + "')"});
  };
  std::vector<sdk::Route> out;
  out.push_back({"GET", "/1.0/recordings", "calld.recordings.read", sdk::RouteAuth::token,
                 "List the call recordings (newest first)", {},
                 [dir](const HttpRequest&) {
                   std::vector<fs::directory_entry> files;
                   std::error_code ec;
                   for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
                     if (it->is_regular_file(ec) && valid_name(it->path().filename().string())) files.push_back(*it);
                   std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
                     return a.path().filename() > b.path().filename();
                   });
                   std::vector<sdk::json::Value> items;
                   for (auto& f : files) {
                     auto name = f.path().filename().string();
                     std::error_code e;
                     auto size = static_cast<std::int64_t>(f.file_size(e));
                     // yyyymmdd-HHMMSS -> yyyy-mm-ddTHH:MM:SSZ
                     std::string at = name.substr(0, 4) + "-" + name.substr(4, 2) + "-" + name.substr(6, 2) + "T" +
                                      name.substr(9, 2) + ":" + name.substr(11, 2) + ":" + name.substr(13, 2) + "Z";
                     items.emplace_back(sdk::json::Raw{sdk::json::object(
                         {{"name", name}, {"call_id", call_of(name)}, {"size", size}, {"created_at", at}})});
                   }
                   return HttpResponse::json(200, sdk::json::object({{"items", sdk::json::Raw{sdk::json::array(items)}},
                                                                     {"total", static_cast<std::int64_t>(files.size())}}));
                 }});
  out.push_back({"GET", "/1.0/recordings/{name}", "calld.recordings.{name}.read", sdk::RouteAuth::token,
                 "Download a call recording (WAV)", {},
                 [file_of, bad_name, missing](const HttpRequest& req) {
                   auto f = file_of(req);
                   if (!f) return bad_name(req);
                   auto body = sdk::read_file(*f);
                   if (!body) return missing(*f);
                   return HttpResponse::text(200, std::move(*body), "audio/wav");
                 }});
  out.push_back({"DELETE", "/1.0/recordings/{name}", "calld.recordings.{name}.delete", sdk::RouteAuth::token,
                 "Delete a call recording", {},
                 [file_of, bad_name, missing](const HttpRequest& req) {
                   auto f = file_of(req);
                   if (!f) return bad_name(req);
                   std::error_code ec;
                   if (!fs::remove(*f, ec)) return missing(*f);
                   return HttpResponse::empty(204);
                 }});
  return out;
}

}  // namespace dialtone::plugins::media
