// Whole files read and replaced: a conf.d template, a spool entry, an
// uploaded sound.
//
// @code
//   #include <dialtone/files.h>
//   auto text = dialtone::sdk::read_file(path);        // std::nullopt: cannot be read
//   if (!text) return sdk::Error::invalid("cannot read " + path.string() + "; check its permissions");
//
//   // A reader sees the old file or the new one, never half of one.
//   if (auto s = dialtone::sdk::write_file_atomically(path, bytes); !s) return s;
// @endcode
//
// Both block on the disk: call them from an executor task or a REST handler,
// never on the SIP, media or dialplan threads.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "dialtone/result.h"

namespace dialtone::sdk {

// The bytes of `path`; std::nullopt when it cannot be opened or read (a
// missing file, no permission, a directory).
inline std::optional<std::string> read_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string bytes;
  struct stat st{};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) bytes.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return bytes;
}

// Writes `bytes` to a hidden temporary file beside `path` (".<name>.<n>.part",
// which directory listings skip), syncs it and renames it over `path`. On
// failure nothing is left behind and the error names the file and the cause.
inline Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes, mode_t mode = 0644) {
  static std::atomic<unsigned long> serial{0};
  auto tmp = path.parent_path() /
             ("." + path.filename().string() + "." + std::to_string(::getpid()) + "-" + std::to_string(++serial) + ".part");
  auto failed = [&](const std::string& what, int e) {
    ::unlink(tmp.c_str());
    return Error::unavailable("cannot " + what + " " + path.string() + ": " + std::strerror(e) +
                              (e == ENOSPC ? "; free some disk space" : ""));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error::unavailable("cannot create " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : ENOSPC;
      ::close(fd);
      return failed("write", e);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return failed("write", e);
  }
  if (::close(fd) != 0) return failed("write", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("replace", errno);
  return {};
}

}  // namespace dialtone::sdk
