// Call recordings on disk (XiVO's *26 and automatic recording per user,
// paging's `record`): one WAV per recorded call in one directory, named
// <UTC yyyymmdd-HHMMSS>-<call id>[-<what>].wav, listed, downloaded and
// deleted through calld's REST API (Dialtone's own routes: XiVO had none).
//
// @code
//   auto rec = std::make_shared<Recordings>("/var/lib/dialtone/recordings");
//   auto file = rec->new_file("c42");           // .../20261207-051300-c42.wav
//   for (auto& r : rec->routes()) (void)http->mount("calld", std::move(r));
// @endcode
//
// new_file() only builds a name (no I/O: it runs on the dialplan thread);
// the engine's I/O thread creates the directory and the file. The routes run
// on HTTP threads and read the directory there.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/http.h>

namespace dialtone::plugins::media {

class Recordings {
 public:
  explicit Recordings(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  // A new file for call `call_id` (characters other than letters, digits,
  // '.', '_' and '-' become '_'); `what` ("page") is appended when given.
  std::filesystem::path new_file(std::string_view call_id, std::string_view what = {}) const;

  // A recording's name as new_file() makes them: no path, no "..".
  static bool valid_name(std::string_view name);

  //   GET    /1.0/recordings          calld.recordings.read: {"items": [{name, call_id, size, created_at}], "total"}
  //   GET    /1.0/recordings/{name}   calld.recordings.{name}.read: the WAV (audio/wav)
  //   DELETE /1.0/recordings/{name}   calld.recordings.{name}.delete: 204
  std::vector<sdk::Route> routes() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace dialtone::plugins::media
