// XiVO's online call recording (seed 5.33.4, *3 "automixmon"): during a
// bridged call, a party allowed to (the user's online_call_record_enabled)
// presses the code to start recording the call, both parties mixed, and
// presses it again to stop. Each start writes a new file named as the call's
// other recordings (recordings.h), so /1.0/recordings lists it, and each
// start and stop is published on the bus with the call's channels.
//
// @code
//   OnlineRecording online([&] { return engine; }, [&] { return recordings; }, log);
//   online.allow({"caller-ch", "callee-ch"}, "caller-ch", "1764172800-42", "*3");
//   // From the engine's DTMF sink, for every digit of every channel:
//   online.digit("callee-ch", '*'); online.digit("callee-ch", '3');  // recording starts
// @endcode
//
// digit() runs on the engine's event thread: it only builds a name and asks
// the endpoint to record (the file is opened on the engine's I/O thread).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/media.h>

#include "plugins/media/engine/recordings.h"

namespace dialtone::plugins::media {

class OnlineRecording {
 public:
  using EngineOf = std::function<std::shared_ptr<sdk::media::MediaEngine>()>;
  using RecordingsOf = std::function<std::shared_ptr<const Recordings>()>;
  // Digits of the code further apart than this start the code again.
  static constexpr std::chrono::milliseconds kDigitGap{3000};

  // Publishes a bus event (sdk::kOnlineRecordingStarted / Stopped), so the
  // presence service lights the users' online recording keys.
  using Publish = std::function<void(std::string topic, std::string body)>;

  OnlineRecording(EngineOf engine, RecordingsOf recordings, sdk::Logger* log, Publish publish = {})
      : engine_(std::move(engine)), recordings_(std::move(recordings)), log_(log), publish_(std::move(publish)) {}

  // The parties of `pressers` may toggle the recording of call `call_id`,
  // whose mixed audio is that of `recorded` (a channel with its media in the
  // engine) with `code` ("*3"). Forgets calls whose channels ended.
  void allow(const std::vector<std::string>& pressers, const std::string& recorded, const std::string& call_id,
             const std::string& code);
  // A digit channel `channel`'s party sent.
  void digit(const std::string& channel, char digit);
  // Whether call `recorded`'s online recording runs (tests, logs).
  bool recording(const std::string& recorded) const;

 private:
  struct Call {
    std::string call_id, code;
    bool on = false;
  };
  struct Presser {
    std::string recorded;
    std::string typed;
    std::chrono::steady_clock::time_point last{};
  };
  void forget_ended();

  EngineOf engine_;
  RecordingsOf recordings_;
  sdk::Logger* log_;
  Publish publish_;
  mutable std::mutex m_;
  std::map<std::string, Call> calls_;         // by recorded channel
  std::map<std::string, Presser> pressers_;   // by pressing channel
};

}  // namespace dialtone::plugins::media
