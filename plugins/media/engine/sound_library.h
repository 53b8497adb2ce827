// Where prompts and music live, and their decoded audio. Names resolve as
// <sounds.path>/<language>/<name>.<ext>; a language directory may also carry
// a voice suffix as Debian installs it (en_US_f_Allison, fr_CA_f_June).
// Loading reads files and must run on the engine's I/O thread.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/result.h>

namespace dialtone::plugins::media {

// Decoded to the internal rate (16 kHz mono). Immutable once loaded, shared
// by every endpoint playing it.
struct Sound {
  std::filesystem::path path;
  std::vector<std::int16_t> pcm;
};

class SoundLibrary {
 public:
  SoundLibrary(std::filesystem::path sounds_path, std::string language, std::filesystem::path moh_path);

  // `name`: an absolute or relative file path with extension, or a prompt name.
  std::optional<std::filesystem::path> find(std::string_view name, std::string_view language) const;
  // The class's files in its `sort` order (set_music_sort): alphabetical
  // (the default), random (shuffled on each call), random_start
  // (alphabetical from a random file on, wrapping around).
  std::vector<std::filesystem::path> music_files(std::string_view moh_class) const;
  // Where a class's sort comes from (confd /1.1/moh's `sort`); any thread.
  using MusicSort = std::function<std::string(std::string_view moh_class)>;
  void set_music_sort(MusicSort sort);
  // The directory of a class: `sounds.moh_path` for `default`, else its sub-directory.
  std::filesystem::path music_dir(std::string_view moh_class) const;
  // Reads and decodes (cached by path and modification time). The error says
  // which file and why, for the admin's log.
  sdk::Result<std::shared_ptr<const Sound>> load(const std::filesystem::path& file);

  const std::filesystem::path& sounds_path() const { return root_; }
  const std::string& language() const { return language_; }

 private:
  std::vector<std::filesystem::path> language_dirs(std::string_view language) const;

  std::filesystem::path root_;
  std::string language_;
  std::filesystem::path moh_;
  mutable std::mutex sort_m_;
  MusicSort sort_;
  std::mutex m_;
  struct Cached {
    std::filesystem::file_time_type mtime;
    std::shared_ptr<const Sound> sound;
  };
  std::map<std::filesystem::path, Cached> cache_;
};

}  // namespace dialtone::plugins::media
