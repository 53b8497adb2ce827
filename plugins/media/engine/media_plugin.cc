// media.engine: terminated RTP (prompts, tones, recording, mixing, DTMF,
// SRTP) provided to other plugins as the `media.engine` service.
#include <cstdlib>

#include <dialtone/calls.h>
#include <dialtone/config.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "call_verbs.h"
#include "conference_api.h"
#include "engine.h"
#include "tones.h"

namespace dialtone::plugins::media {
namespace {

using sdk::OptionType;

constexpr sdk::OptionSpec kOptions[] = {
    {"rtp.address", OptionType::string, "127.0.0.1",
     "IP address the media endpoints bind (0.0.0.0 or the LAN address for phones)"},
    {"rtp.port_min", OptionType::integer, "40000", "lowest UDP port of terminated media", sdk::kNone, nullptr, 1024,
     65535},
    {"rtp.port_max", OptionType::integer, "50000", "highest UDP port of terminated media", sdk::kNone, nullptr, 1024,
     65535},
    {"media.threads", OptionType::integer, "2", "media threads (each ticks its endpoints every 20 ms)", sdk::kNone,
     nullptr, 1, 64},
    {"media.realtime", OptionType::boolean, "true",
     "run media threads with real-time priority (SCHED_FIFO 10) so other load cannot delay a tick"},
    {"media.jitter_buffer", OptionType::duration, "60ms",
     "audio buffered before playout; absorbs that much network jitter"},
    {"sounds.path", OptionType::path, "/usr/share/asterisk/sounds",
     "prompt root: <path>/<language>/<name>.wav (Debian asterisk-core-sounds-*-wav)"},
    {"sounds.language", OptionType::string, "en", "default prompt language (fallback: en)"},
    {"sounds.moh_path", OptionType::path, "/usr/share/asterisk/moh",
     "music on hold: class `default` is this directory, other classes its sub-directories"},
    {"sounds.store", OptionType::path, "/var/lib/dialtone/sounds",
     "writable sound store, one directory per category: <store>/recordings/<number>-<time>.wav are the sounds "
     "users record with *9 (listed and served by confd's /1.1/sounds)"},
    {"recordings.path", OptionType::path, "/var/lib/dialtone/recordings",
     "call recordings (*26, call_record_enabled, recorded pages): <path>/<date>-<call id>.wav"},
    {"recordings.listener", OptionType::string, "calld",
     "HTTP listener of GET/DELETE /1.0/recordings (empty: not served)"},
    {"conferences.listener", OptionType::string, "calld",
     "HTTP listener of /1.0/conferences/{conference_id}/participants: list, kick, mute (empty: not served)"},
    {"tones.country", OptionType::choice, "fr", "default tone table (dial, ring, busy, congestion)", sdk::kNone,
     "fr|us|uk|de"},
    {}};

class MediaPlugin final : public sdk::Plugin {
 public:
  explicit MediaPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    cfg_.address = o.get("rtp.address", "127.0.0.1");
    cfg_.port_min = static_cast<int>(o.get_int("rtp.port_min", 40000));
    cfg_.port_max = static_cast<int>(o.get_int("rtp.port_max", 50000));
    if (cfg_.port_max - cfg_.port_min < 2)
      return sdk::Error::invalid("media: rtp.port_max must be at least rtp.port_min + 2");
    cfg_.threads = static_cast<int>(o.get_int("media.threads", 2));
    cfg_.realtime = o.get_bool("media.realtime", true);
    cfg_.jitter_ms = static_cast<int>(o.get_duration("media.jitter_buffer", std::chrono::milliseconds(60)).count());
    if (cfg_.jitter_ms < 20 || cfg_.jitter_ms > 300)
      return sdk::Error::invalid("media: media.jitter_buffer must be between 20ms and 300ms");
    cfg_.sounds_path = o.get("sounds.path", "/usr/share/asterisk/sounds");
    cfg_.language = o.get("sounds.language", "en");
    cfg_.moh_path = o.get("sounds.moh_path", "/usr/share/asterisk/moh");
    cfg_.store_path = o.get("sounds.store", "/var/lib/dialtone/sounds");
    cfg_.country = o.get("tones.country", "fr");
    recordings_path_ = o.get("recordings.path", "/var/lib/dialtone/recordings");
    recordings_listener_ = o.get("recordings.listener", "calld");
    conferences_listener_ = o.get("conferences.listener", "calld");
    return {};
  }

  sdk::Status start() override {
    engine_ = std::make_shared<Engine>(cfg_, host_.log());
    if (auto s = engine_->start(); !s.ok()) return s;
    // Each class's `sort` from confd's /1.1/moh (random, random_start;
    // alphabetical without the configuration service).
    engine_->set_music_sort([&services = host_.services()](std::string_view cls) -> std::string {
      auto config = services.find<sdk::ConfigService>();
      if (!config) return {};
      auto snap = config->snapshot();
      auto it = snap->moh_sort.find(std::string(cls.empty() ? "default" : cls));
      return it == snap->moh_sort.end() ? std::string() : it->second;
    });
    auto core = host_.services().find<sdk::CallCore>();
    if (auto s = host_.services().provide<sdk::media::MediaEngine>("default", engine_); !s.ok()) return s;
    // call:play, call:read_digits ...: the call core keeps them for its
    // `channel` module (once per process: a restart finds them registered).
    // The call core cannot withdraw a verb: the first start registers them
    // and later starts give the same verbs the new engine.
    static std::shared_ptr<CallVerbs> verbs;
    if (!verbs) {
      verbs = std::make_shared<CallVerbs>(engine_, &host_.executor(), &host_.log(), &host_.bus());
      verbs->set_call_core(core);
      if (core)
        for (auto& v : verbs->functions())
          if (auto s = core->register_verb(std::move(v)); !s)
            host_.log().warn("media: call verb not registered: " + s.error().message);
    } else {
      verbs->rebind(engine_);
    }
    verbs_ = verbs;
    // Digits of channels answered with their media here reach the call core
    // (calls.channel.dtmf) whatever application listens, and *3 (online
    // call recording) where the dialplan allowed it.
    engine_->set_dtmf_sink(verbs->digit_sink(core));
    auto recordings = std::make_shared<Recordings>(recordings_path_);
    verbs->set_recordings(recordings);
    if (auto* http = host_.http(); http && !recordings_listener_.empty())
      for (auto& r : recordings->routes())
        if (auto s = http->mount(recordings_listener_, std::move(r)); !s)
          host_.log().warn("media: /1.0/recordings not served on listener '" + recordings_listener_ +
                           "': " + s.error().message);
    if (auto* http = host_.http(); http && !conferences_listener_.empty()) {
      // A room confd does not have answers 404 (not checked without confd).
      std::weak_ptr<sdk::ConfigService> config = host_.services().find<sdk::ConfigService>();
      auto exists = [config](const std::string& id) {
        auto c = config.lock();
        if (!c) return true;
        char* end = nullptr;
        long long n = std::strtoll(id.c_str(), &end, 10);
        return !id.empty() && *end == 0 && c->snapshot()->conferences.count(n) > 0;
      };
      for (auto& r : conference_routes(verbs->shared_rooms(), exists))
        if (auto s = http->mount(conferences_listener_, std::move(r)); !s)
          host_.log().warn("media: /1.0/conferences not served on listener '" + conferences_listener_ +
                           "': " + s.error().message);
    }
    host_.log().info("media: " + std::to_string(cfg_.threads) + " media threads, ports " +
                     std::to_string(cfg_.port_min) + "-" + std::to_string(cfg_.port_max) + " on " + cfg_.address +
                     ", sounds " + cfg_.sounds_path.string() + " (" + cfg_.language + ")");
    return {};
  }

  void stop() override {
    if (host_.http()) host_.http()->unmount_all(host_.plugin_id());
    host_.services().withdraw<sdk::media::MediaEngine>("default");
    if (verbs_) verbs_->rebind(nullptr);
    if (engine_) engine_->stop();
    engine_.reset();
  }

 private:
  sdk::Host& host_;
  EngineConfig cfg_;
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<CallVerbs> verbs_;
  std::filesystem::path recordings_path_;
  std::string recordings_listener_;
  std::string conferences_listener_;
};

}  // namespace
}  // namespace dialtone::plugins::media

DIALTONE_PLUGIN(dialtone::plugins::media::MediaPlugin, "media.engine", "media", "1.0.0",
                "terminated RTP: prompts, tones, recording, DTMF, mixing, SRTP", "", "",
                dialtone::plugins::media::kOptions)
