// Helpers for the kernel core tests: scratch directories, conf.d files and
// fixture plugins copied into a plugin directory.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/host.h>

namespace dialtone::kernel::testing {

inline const std::filesystem::path kFixtureDir = DIALTONE_FIXTURE_DIR;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dialtone-core-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::filesystem::path write_file(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << text;
  return file;
}

// Copies fixtures/plugins/<name>/fixture_<name>.so into `dir`.
inline std::filesystem::path install_fixture(const std::filesystem::path& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  auto src = kFixtureDir / name / ("fixture_" + name + ".so");
  auto dst = dir / src.filename();
  std::filesystem::copy_file(src, dst, std::filesystem::copy_options::overwrite_existing);
  return dst;
}

// Keeps every line so tests can assert what an admin would read.
class RecordingLogger final : public sdk::Logger {
 public:
  void log(sdk::LogLevel level, std::string_view message) override {
    std::lock_guard l(mutex_);
    lines_.emplace_back(message);
  }
  bool enabled(sdk::LogLevel) const override { return true; }
  std::vector<std::string> lines() const {
    std::lock_guard l(mutex_);
    return lines_;
  }
  bool contains(std::string_view text) const {
    std::lock_guard l(mutex_);
    for (auto& line : lines_)
      if (line.find(text) != std::string::npos) return true;
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace dialtone::kernel::testing
