#include "sound_library.h"

#include <dialtone/text.h>

#include <algorithm>
#include <random>

#include <sndfile.h>

#include "dsp.h"

namespace fs = std::filesystem;

namespace dialtone::plugins::media {
namespace {

// Preferred first: WAV is what the Debian packs ship.
constexpr const char* kExtensions[] = {".wav", ".sln16", ".sln", ".gsm", ".raw"};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

}  // namespace

SoundLibrary::SoundLibrary(fs::path sounds_path, std::string language, fs::path moh_path)
    : root_(std::move(sounds_path)), language_(std::move(language)), moh_(std::move(moh_path)) {}

std::vector<fs::path> SoundLibrary::language_dirs(std::string_view language) const {
  std::vector<fs::path> out;
  auto add_lang = [&](const std::string& l) {
    if (l.empty()) return;
    fs::path exact = root_ / l;
    std::error_code ec;
    if (fs::is_directory(exact, ec)) out.push_back(exact);
    // en -> en_US_f_Allison; fr -> fr_FR_*, then any fr_* (fr_CA_f_June).
    std::vector<fs::path> voiced;
    for (auto it = fs::directory_iterator(root_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      auto n = it->path().filename().string();
      if (n.size() > l.size() && n.compare(0, l.size(), l) == 0 && n[l.size()] == '_' && it->is_directory())
        voiced.push_back(it->path());
    }
    std::sort(voiced.begin(), voiced.end());
    out.insert(out.end(), voiced.begin(), voiced.end());
  };
  std::string lang(language);
  std::vector<std::string> langs;
  for (const std::string& l : {lang, lang.substr(0, lang.find('_')), language_, std::string("en")})
    if (!l.empty() && std::find(langs.begin(), langs.end(), l) == langs.end()) langs.push_back(l);
  for (const auto& l : langs) add_lang(l);
  std::vector<fs::path> unique;
  for (auto& p : out)
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
  out = std::move(unique);
  out.push_back(root_);
  return out;
}

std::optional<fs::path> SoundLibrary::find(std::string_view name, std::string_view language) const {
  if (name.empty()) return std::nullopt;
  fs::path p(name);
  if (p.has_extension() && (p.is_absolute() || is_file(p))) {
    if (is_file(p)) return p;
    if (p.is_absolute()) return std::nullopt;
  }
  if (p.is_absolute()) {
    for (const char* ext : kExtensions)
      if (is_file(fs::path(std::string(name) + ext))) return fs::path(std::string(name) + ext);
    return std::nullopt;
  }
  for (const auto& dir : language_dirs(language)) {
    if (p.has_extension() && is_file(dir / p)) return dir / p;
    for (const char* ext : kExtensions) {
      fs::path c = dir / (std::string(name) + ext);
      if (is_file(c)) return c;
    }
  }
  return std::nullopt;
}

fs::path SoundLibrary::music_dir(std::string_view moh_class) const {
  return (moh_class.empty() || moh_class == "default") ? moh_ : moh_ / std::string(moh_class);
}

std::vector<fs::path> SoundLibrary::music_files(std::string_view moh_class) const {
  std::vector<fs::path> out;
  // A class is one directory name: nothing outside sounds.moh_path.
  if (moh_class.find('/') != std::string_view::npos || moh_class.substr(0, 1) == ".") return out;
  fs::path dir = music_dir(moh_class);
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    auto ext = sdk::text::to_lower(it->path().extension().string());
    if (std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions) ||
        ext == ".wav")
      out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  MusicSort sort;
  {
    std::lock_guard lk(sort_m_);
    sort = sort_;
  }
  const std::string order = sort && out.size() > 1 ? sort(moh_class) : std::string();
  if (order == "random" || order == "random_start") {
    thread_local std::mt19937 rng{std::random_device{}()};
    if (order == "random") std::shuffle(out.begin(), out.end(), rng);
    else std::rotate(out.begin(), out.begin() + std::uniform_int_distribution<std::size_t>(0, out.size() - 1)(rng), out.end());
  }
  return out;
}

void SoundLibrary::set_music_sort(MusicSort sort) {
  std::lock_guard lk(sort_m_);
  sort_ = std::move(sort);
}

sdk::Result<std::shared_ptr<const Sound>> SoundLibrary::load(const fs::path& file) {
  std::error_code ec;
  auto mtime = fs::last_write_time(file, ec);
  if (ec) return sdk::Error::not_found(file.string() + ": " + ec.message());
  {
    std::lock_guard lk(m_);
    auto it = cache_.find(file);
    if (it != cache_.end() && it->second.mtime == mtime) return it->second.sound;
  }
  SF_INFO info{};
  auto ext = sdk::text::to_lower(file.extension().string());
  if (ext == ".sln" || ext == ".raw" || ext == ".sln16") {
    info.format = SF_FORMAT_RAW | SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE;
    info.samplerate = ext == ".sln16" ? 16000 : 8000;
    info.channels = 1;
  } else if (ext == ".gsm") {
    info.format = SF_FORMAT_RAW | SF_FORMAT_GSM610;
    info.samplerate = 8000;
    info.channels = 1;
  }
  SNDFILE* sf = sf_open(file.c_str(), SFM_READ, &info);
  if (!sf) return sdk::Error::invalid(file.string() + ": " + sf_strerror(nullptr));
  std::vector<std::int16_t> raw(static_cast<std::size_t>(info.frames) * info.channels);
  sf_count_t got = raw.empty() ? 0 : sf_readf_short(sf, raw.data(), info.frames);
  sf_close(sf);
  if (got <= 0) return sdk::Error::invalid(file.string() + ": no audio frames (empty or corrupt file)");
  if (info.samplerate < 4000 || info.samplerate > 48000)
    return sdk::Error::invalid(file.string() + ": unsupported sample rate " + std::to_string(info.samplerate));
  std::vector<std::int16_t> mono(static_cast<std::size_t>(got));
  for (sf_count_t i = 0; i < got; ++i) {
    std::int32_t sum = 0;
    for (int c = 0; c < info.channels; ++c) sum += raw[i * info.channels + c];
    mono[i] = static_cast<std::int16_t>(sum / info.channels);
  }
  auto sound = std::make_shared<Sound>();
  sound->path = file;
  if (info.samplerate == 8000) {
    sound->pcm.resize(mono.size() * 2);
    Up2 up;
    for (std::size_t i = 0; i < mono.size(); i += kNarrowFrame) {
      int n = static_cast<int>(std::min<std::size_t>(kNarrowFrame, mono.size() - i));
      up.run(&mono[i], n, &sound->pcm[2 * i]);
    }
  } else if (info.samplerate == kRate) {
    sound->pcm = std::move(mono);
  } else {
    // Rare rates: linear interpolation is enough for prompts.
    double ratio = static_cast<double>(info.samplerate) / kRate;
    std::size_t n = static_cast<std::size_t>(mono.size() / ratio);
    sound->pcm.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      double x = i * ratio;
      std::size_t a = static_cast<std::size_t>(x);
      std::size_t b = std::min(a + 1, mono.size() - 1);
      double f = x - a;
      sound->pcm[i] = static_cast<std::int16_t>(mono[a] * (1 - f) + mono[b] * f);
    }
  }
  std::shared_ptr<const Sound> out = std::move(sound);
  std::lock_guard lk(m_);
  cache_[file] = {mtime, out};
  return out;
}

}  // namespace dialtone::plugins::media
