// The voicemail spool on disk, laid out as Asterisk's so that its tools and
// habits apply:
//
//   <spool>/<context>/<box>/INBOX/msg0000.wav + msg0000.txt   new messages
//   <spool>/<context>/<box>/Old|Work|Family|Friends/...       the other folders
//   <spool>/<context>/<box>/unavail.wav, busy.wav, greet.wav  the user's greetings
//   <spool>/<context>/<box>/tmp/                              recordings in progress
//
// Every file appears whole or not at all: it is written under tmp/ (same
// file system) then renamed into place, the .wav before the .txt that lists
// it. Blocking file I/O: call it from a worker thread, never from the SIP,
// media or dialplan threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/result.h>

namespace dialtone::plugins::voicemail {

// "1001@default" -> {"1001", "default"} (context "default" when absent).
struct Mailbox {
  std::string number, context;
  std::string key() const { return number + "@" + context; }
  static std::optional<Mailbox> parse(const std::string& text);
};

struct Message {
  std::string id;      // "msg0003"
  std::string folder;  // "INBOX"
  std::filesystem::path wav;
  std::string callerid;  // "\"Alice\" <1001>"
  std::int64_t origtime = 0;  // unix seconds
  int duration = 0;           // seconds
};

struct Counts {
  int new_messages = 0, old_messages = 0;
};

class Spool {
 public:
  // The folders of XiVO/Asterisk, in their menu order (0 new ... 4 friends).
  static const std::vector<std::string>& folders();
  static bool valid_folder(const std::string& folder);

  explicit Spool(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path box_dir(const Mailbox& box) const { return root_ / box.context / box.number; }

  // A fresh file under the box's tmp/ for a recording (the directory exists).
  sdk::Result<std::filesystem::path> recording_file(const Mailbox& box, const std::string& stem);
  // Moves the recording `file` into INBOX as the next message with its
  // metadata. The recording stays in tmp/ (then removed) on any failure.
  sdk::Result<Message> deliver(const Mailbox& box, const std::filesystem::path& file, const std::string& callerid,
                               std::int64_t now);
  sdk::Result<std::vector<Message>> messages(const Mailbox& box, const std::string& folder) const;
  // Moves a message to the end of another folder (renumbered there).
  sdk::Result<Message> move(const Mailbox& box, const std::string& folder, const std::string& id,
                            const std::string& to);
  sdk::Status remove(const Mailbox& box, const std::string& folder, const std::string& id);
  // Copies a message into `to`'s INBOX.
  sdk::Result<Message> forward(const Mailbox& box, const std::string& folder, const std::string& id,
                               const Mailbox& to, std::int64_t now);
  Counts counts(const Mailbox& box) const;
  // unavail, busy, greet (name), temp: the recorded greeting, when there is one.
  std::optional<std::filesystem::path> greeting(const Mailbox& box, const std::string& kind) const;
  sdk::Status save_greeting(const Mailbox& box, const std::string& kind, const std::filesystem::path& file);
  static bool valid_greeting(const std::string& kind);

 private:
  sdk::Result<Message> place(const Mailbox& box, const std::string& folder, const std::filesystem::path& wav,
                             const std::string& metadata, bool copy);
  std::filesystem::path root_;
};

// Seconds of audio of a WAV file (its data chunk), 0 when unreadable.
int wav_seconds(const std::filesystem::path& wav);
double wav_seconds_exact(const std::filesystem::path& wav);

}  // namespace dialtone::plugins::voicemail
