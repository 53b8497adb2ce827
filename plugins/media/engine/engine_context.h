// What the engine's parts share: options, logger, I/O thread, sounds and the
// media threads. Owned by the engine, kept alive by every endpoint handle.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <dialtone/host.h>

#include "fax_receiver.h"
#include "io_worker.h"
#include "media_thread.h"
#include "sound_library.h"

namespace dialtone::plugins::media {


struct EngineConfig {
  std::string address = "127.0.0.1";
  int port_min = 40000;
  int port_max = 50000;
  int threads = 2;
  std::filesystem::path sounds_path = "/usr/share/asterisk/sounds";
  std::filesystem::path moh_path = "/usr/share/asterisk/moh";
  std::filesystem::path store_path = "/var/lib/dialtone/sounds";  // sounds recorded by users (*9)
  std::string language = "en";
  std::string country = "fr";
  int jitter_ms = 60;
  int tick_ms = 20;
  bool realtime = true;  // SCHED_FIFO media threads, as Asterisk -p / FreeSWITCH -rp
};

struct EngineContext {
  EngineContext(EngineConfig c, sdk::Logger& l)
      : cfg(std::move(c)), log(l), io(l), sounds(cfg.sounds_path, cfg.language, cfg.moh_path) {}
  EngineConfig cfg;
  sdk::Logger& log;
  IoWorker io;
  FaxWorker fax;  // started with the first fax
  SoundLibrary sounds;
  std::vector<std::unique_ptr<MediaThread>> threads;
};

}  // namespace dialtone::plugins::media
