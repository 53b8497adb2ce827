#include "plugins/api/confd/audio_files.h"

#include <sndfile.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <dialtone/files.h>

#include "plugins/api/confd/resource.h"

namespace dialtone::plugins::api::confd {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxUpload = 64u << 20;  // 64 MiB: about 70 min of 8 kHz 16-bit audio

// libsndfile reading from memory, to check an upload before it is written.
struct Memory {
  const std::string* data;
  sf_count_t at = 0;
};
sf_count_t mem_length(void* u) { return static_cast<sf_count_t>(static_cast<Memory*>(u)->data->size()); }
sf_count_t mem_seek(sf_count_t off, int whence, void* u) {
  auto* m = static_cast<Memory*>(u);
  sf_count_t size = static_cast<sf_count_t>(m->data->size());
  sf_count_t to = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->at + off : size + off;
  m->at = std::clamp<sf_count_t>(to, 0, size);
  return m->at;
}
sf_count_t mem_read(void* ptr, sf_count_t n, void* u) {
  auto* m = static_cast<Memory*>(u);
  sf_count_t left = static_cast<sf_count_t>(m->data->size()) - m->at;
  n = std::min(n, left);
  std::memcpy(ptr, m->data->data() + m->at, static_cast<std::size_t>(n));
  m->at += n;
  return n;
}
sf_count_t mem_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t mem_tell(void* u) { return static_cast<Memory*>(u)->at; }

}  // namespace

std::optional<std::string> audio_problem(const std::string& body) {
  if (body.empty()) return "the body is empty: send the WAV file's bytes (Content-Type: audio/wav)";
  if (body.size() > kMaxUpload) return "larger than " + std::to_string(kMaxUpload >> 20) + " MiB";
  SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
  Memory mem{&body};
  SF_INFO info{};
  SNDFILE* sf = sf_open_virtual(&io, SFM_READ, &info, &mem);
  if (!sf) return std::string("not a WAV file libsndfile can read (") + sf_strerror(nullptr) + ")";
  std::string why;
  std::int16_t frame[256];
  if ((info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV) why = "not a WAV file";
  else if (info.channels != 1) why = std::to_string(info.channels) + " channels: the files must be mono";
  else if (info.samplerate < 8000 || info.samplerate > 48000)
    why = "sample rate " + std::to_string(info.samplerate) + " Hz: use 8000 to 48000 Hz";
  else if (info.frames <= 0 || sf_readf_short(sf, frame, 256) <= 0) why = "no audio frames (empty or truncated)";
  sf_close(sf);
  if (why.empty()) return std::nullopt;
  return why;
}

void write_whole(const fs::path& dir, const std::string& name, const std::string& body, const std::string& fix) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (auto s = sdk::write_file_atomically(dir / name, body); !s)
    throw ApiError{500, {s.error().message + " (" + fix + "); nothing was changed"}};
}

std::string read_whole(const fs::path& file) {
  auto bytes = sdk::read_file(file);
  if (!bytes) throw ApiError{500, {"cannot read " + file.string()}};
  return std::move(*bytes);
}

}  // namespace dialtone::plugins::api::confd
