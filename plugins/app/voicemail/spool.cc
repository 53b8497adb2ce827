#include "spool.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <dialtone/files.h>

namespace dialtone::plugins::voicemail {
namespace fs = std::filesystem;
using sdk::Error;

std::optional<Mailbox> Mailbox::parse(const std::string& text) {
  Mailbox b;
  auto at = text.find('@');
  b.number = text.substr(0, at);
  b.context = at == std::string::npos ? "default" : text.substr(at + 1);
  auto safe = [](const std::string& s, bool digits) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
      if (!(std::isdigit(static_cast<unsigned char>(c)) ||
            (!digits && (std::isalpha(static_cast<unsigned char>(c)) || c == '-' || c == '_'))))
        return false;
    return true;
  };
  // Both name directories: nothing that climbs out of the spool.
  if (!safe(b.number, true) || !safe(b.context, false)) return std::nullopt;
  return b;
}

const std::vector<std::string>& Spool::folders() {
  static const std::vector<std::string> f{"INBOX", "Old", "Work", "Family", "Friends"};
  return f;
}

bool Spool::valid_folder(const std::string& folder) {
  auto& f = folders();
  return std::find(f.begin(), f.end(), folder) != f.end();
}

bool Spool::valid_greeting(const std::string& kind) {
  return kind == "unavail" || kind == "busy" || kind == "greet" || kind == "temp";
}

namespace {

std::string errno_text(int e) { return std::strerror(e); }

// Spool files are the mailbox owner's: not world-readable.
sdk::Status write_atomically(const fs::path& path, const std::string& text) {
  return sdk::write_file_atomically(path, text, 0640);
}

sdk::Status copy_atomically(const fs::path& from, const fs::path& to) {
  auto bytes = sdk::read_file(from);
  if (!bytes) return Error::not_found("cannot read " + from.string());
  return write_atomically(to, *bytes);
}

std::string key_of(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return {};
}

std::string metadata(const Mailbox& box, const std::string& callerid, std::int64_t now, int duration,
                     const std::string& folder) {
  char date[64] = {};
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(date, sizeof date, "%a %b %e %I:%M:%S %p UTC %Y", &tm);
  std::ostringstream o;
  o << ";\n; Message Information file\n;\n[message]\n"
    << "origmailbox=" << box.number << "\ncontext=" << box.context << "\nmacrocontext=\nexten=" << box.number
    << "\nrdnis=unknown\npriority=1\ncallerchan=\ncallerid=" << callerid << "\norigdate=" << date
    << "\norigtime=" << now << "\ncategory=\nmsg_id=" << now << "-" << box.number << "\nflag=\nfolder=" << folder
    << "\nduration=" << duration << "\n";
  return o.str();
}

int next_number(const fs::path& dir) {
  int next = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (name.size() == 11 && name.rfind("msg", 0) == 0 && e.path().extension() == ".txt")
      next = std::max(next, std::atoi(name.substr(3, 4).c_str()) + 1);
  }
  return next;
}

std::string msg_id(int n) {
  char b[16];
  std::snprintf(b, sizeof b, "msg%04d", n);
  return b;
}

}  // namespace

double wav_seconds_exact(const fs::path& wav) {
  std::ifstream in(wav, std::ios::binary);
  if (!in) return 0;
  char riff[12];
  if (!in.read(riff, 12) || std::memcmp(riff, "RIFF", 4) != 0 || std::memcmp(riff + 8, "WAVE", 4) != 0) return 0;
  std::uint32_t byte_rate = 0;
  for (;;) {
    char hdr[8];
    if (!in.read(hdr, 8)) return 0;
    std::uint32_t size;
    std::memcpy(&size, hdr + 4, 4);
    if (std::memcmp(hdr, "fmt ", 4) == 0) {
      std::vector<char> fmt(size);
      if (!in.read(fmt.data(), size) || size < 12) return 0;
      std::memcpy(&byte_rate, fmt.data() + 8, 4);
    } else if (std::memcmp(hdr, "data", 4) == 0) {
      if (byte_rate == 0) return 0;
      // A recording cut short may leave the size unset: count what is there.
      auto here = in.tellg();
      in.seekg(0, std::ios::end);
      auto left = static_cast<std::uint64_t>(in.tellg() - here);
      return static_cast<double>(std::min<std::uint64_t>(size, left)) / byte_rate;
    } else {
      in.seekg(size + (size & 1), std::ios::cur);
    }
  }
}

int wav_seconds(const fs::path& wav) { return static_cast<int>(wav_seconds_exact(wav) + 0.5); }

sdk::Result<fs::path> Spool::recording_file(const Mailbox& box, const std::string& stem) {
  static std::atomic<std::uint64_t> seq{0};
  fs::path dir = box_dir(box) / "tmp";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::unavailable("cannot create " + dir.string() + ": " + ec.message());
  return dir / (stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(++seq) + ".wav");
}

sdk::Result<Message> Spool::place(const Mailbox& box, const std::string& folder, const fs::path& wav,
                                  const std::string& meta, bool copy) {
  fs::path dir = box_dir(box) / folder;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::unavailable("cannot create " + dir.string() + ": " + ec.message());
  std::string id = msg_id(next_number(dir));
  fs::path to_wav = dir / (id + ".wav"), to_txt = dir / (id + ".txt");
  if (copy) {
    if (auto s = copy_atomically(wav, to_wav); !s) return s.error();
  } else if (::rename(wav.c_str(), to_wav.c_str()) != 0) {
    return Error::unavailable("cannot move " + wav.string() + " to " + to_wav.string() + ": " + errno_text(errno));
  }
  // The .txt makes the message exist: without it the .wav is not listed.
  if (auto s = write_atomically(to_txt, meta); !s) {
    if (copy) fs::remove(to_wav, ec);
    else (void)::rename(to_wav.c_str(), wav.c_str());
    return s.error();
  }
  Message m;
  m.id = id;
  m.folder = folder;
  m.wav = to_wav;
  m.callerid = key_of(meta, "callerid");
  m.origtime = std::atoll(key_of(meta, "origtime").c_str());
  m.duration = std::atoi(key_of(meta, "duration").c_str());
  return m;
}

sdk::Result<Message> Spool::deliver(const Mailbox& box, const fs::path& file, const std::string& callerid,
                                    std::int64_t now) {
  int duration = wav_seconds(file);
  auto m = place(box, "INBOX", file, metadata(box, callerid, now, duration, "INBOX"), false);
  std::error_code ec;
  if (!m) fs::remove(file, ec);
  return m;
}

sdk::Result<std::vector<Message>> Spool::messages(const Mailbox& box, const std::string& folder) const {
  if (!valid_folder(folder)) return Error::invalid("no folder " + folder);
  std::vector<Message> out;
  fs::path dir = box_dir(box) / folder;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (e.path().extension() != ".txt" || name.rfind("msg", 0) != 0 || name.size() != 11) continue;
    fs::path wav = e.path();
    wav.replace_extension(".wav");
    if (!fs::exists(wav, ec)) continue;
    const std::string text = sdk::read_file(e.path()).value_or("");
    Message m;
    m.id = name.substr(0, 7);
    m.folder = folder;
    m.wav = wav;
    m.callerid = key_of(text, "callerid");
    m.origtime = std::atoll(key_of(text, "origtime").c_str());
    m.duration = std::atoi(key_of(text, "duration").c_str());
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const Message& a, const Message& b) { return a.id < b.id; });
  return out;
}

sdk::Result<Message> Spool::move(const Mailbox& box, const std::string& folder, const std::string& id,
                                 const std::string& to) {
  if (!valid_folder(folder) || !valid_folder(to)) return Error::invalid("no folder " + folder + " or " + to);
  fs::path txt = box_dir(box) / folder / (id + ".txt"), wav = box_dir(box) / folder / (id + ".wav");
  auto original = sdk::read_file(txt);
  if (!original) return Error::not_found("no message " + id + " in " + folder);
  std::string meta = *original;
  auto at = meta.find("folder=" + folder + "\n");
  if (at != std::string::npos) meta.replace(at, 8 + folder.size(), "folder=" + to + "\n");
  // The .txt goes first: a crash between the two leaves an unlisted .wav, never a listed message without audio.
  std::error_code ec;
  fs::remove(txt, ec);
  auto m = place(box, to, wav, meta, false);
  if (!m) (void)write_atomically(txt, *original);
  return m;
}

sdk::Status Spool::remove(const Mailbox& box, const std::string& folder, const std::string& id) {
  if (!valid_folder(folder)) return Error::invalid("no folder " + folder);
  fs::path txt = box_dir(box) / folder / (id + ".txt"), wav = box_dir(box) / folder / (id + ".wav");
  std::error_code ec;
  if (!fs::remove(txt, ec)) return Error::not_found("no message " + id + " in " + folder);
  fs::remove(wav, ec);
  return {};
}

sdk::Result<Message> Spool::forward(const Mailbox& box, const std::string& folder, const std::string& id,
                                    const Mailbox& to, std::int64_t now) {
  auto list = messages(box, folder);
  if (!list) return list.error();
  for (auto& m : *list)
    if (m.id == id) return place(to, "INBOX", m.wav, metadata(to, m.callerid, now, m.duration, "INBOX"), true);
  return Error::not_found("no message " + id + " in " + folder);
}

Counts Spool::counts(const Mailbox& box) const {
  Counts c;
  if (auto m = messages(box, "INBOX")) c.new_messages = static_cast<int>(m->size());
  // Asterisk's "old" count: the Old folder (Work, Family, Friends are filed away).
  if (auto m = messages(box, "Old")) c.old_messages = static_cast<int>(m->size());
  return c;
}

std::optional<fs::path> Spool::greeting(const Mailbox& box, const std::string& kind) const {
  if (!valid_greeting(kind)) return std::nullopt;
  fs::path p = box_dir(box) / (kind + ".wav");
  std::error_code ec;
  if (fs::exists(p, ec) && wav_seconds_exact(p) > 0) return p;
  return std::nullopt;
}

sdk::Status Spool::save_greeting(const Mailbox& box, const std::string& kind, const fs::path& file) {
  if (!valid_greeting(kind)) return Error::invalid("no greeting " + kind + " (unavail, busy, greet, temp)");
  fs::path to = box_dir(box) / (kind + ".wav");
  if (::rename(file.c_str(), to.c_str()) != 0)
    return Error::unavailable("cannot move " + file.string() + " to " + to.string() + ": " + errno_text(errno));
  return {};
}

}  // namespace dialtone::plugins::voicemail
