// The application side of an endpoint: every call turns into a command for
// the media thread, or into a task for the I/O thread when a file is involved.
#include <sndfile.h>

#include <algorithm>

#include "endpoint.h"
#include "engine_context.h"
#include "fax_receiver.h"
#include "media_thread.h"

namespace dialtone::plugins::media {

namespace sm = sdk::media;

EndpointHandle::EndpointHandle(std::shared_ptr<EngineContext> ctx, EndpointCore* core,
                               std::shared_ptr<EndpointShared> shared, std::uint16_t port, std::string address,
                               std::string language, std::string country)
    : ctx_(std::move(ctx)),
      core_(core),
      shared_(std::move(shared)),
      port_(port),
      address_(std::move(address)),
      country_(std::move(country)),
      language_(std::move(language)) {}

void EndpointHandle::set_language(std::string language) {
  std::lock_guard lk(language_m_);
  language_ = std::move(language);
}

EndpointHandle::~EndpointHandle() {
  {
    std::lock_guard lk(shared_->m);
    shared_->handler = nullptr;
  }
  EndpointCore* ep = core_;
  ep->home.load(std::memory_order_acquire)->post([ep](MediaThread& t) { t.destroy(ep); });
}

void EndpointHandle::set_remote(std::string host_port) {
  sockaddr_storage a;
  socklen_t len = 0;
  if (!parse_address(host_port, a, len)) {
    ctx_->log.warn("media: remote address '" + host_port + "' for port " + std::to_string(port_) +
                   " is not a numeric host:port; keeping the previous one");
    return;
  }
  core_->post([a, len](EndpointCore& c) { c.set_remote(a, len); });
}

void EndpointHandle::apply_answer(sm::EndpointConfig answer) {
  for (const auto& f : answer.formats)
    if (!Decoder(f.codec).ok()) {
      ctx_->log.warn(std::string("media: the answer for port ") + std::to_string(port_) + " names codec " +
                     codec_name(f.codec) + ", unavailable in this build; keeping the offered formats");
      return;
    }
  core_->post([answer = std::move(answer)](EndpointCore& c) { c.apply_answer(answer); });
}

void EndpointHandle::set_handler(sm::EventHandler handler) {
  std::lock_guard lk(shared_->m);
  shared_->handler = std::move(handler);
}

void EndpointHandle::play(std::vector<std::string> sounds, sm::PlayOptions options) {
  std::uint64_t request = ++shared_->play_request;
  auto ctx = ctx_;
  EndpointCore* ep = core_;
  // Resolve and decode on the I/O thread; the core gets a ready playlist. The
  // core is deleted by a later I/O task, so it outlives this one.
  std::string language;
  {
    std::lock_guard lk(language_m_);
    language = language_;
  }
  ctx_->io.post([ctx, ep, request, sounds = std::move(sounds), options, lang = std::move(language)] {
    auto list = std::make_unique<Playlist>();
    list->options = options;
    for (const auto& name : sounds) {
      auto path = ctx->sounds.find(name, lang);
      if (!path) {
        ctx->log.warn("media: sound '" + name + "' not found under " + ctx->sounds.sounds_path().string() +
                      " for language '" + (lang.empty() ? ctx->sounds.language() : lang) +
                      "' (nor en); playing the info tone instead - install asterisk-core-sounds-<lang>-wav "
                      "or set sounds.path");
        list->items.push_back(nullptr);
        list->any_failed = true;
        continue;
      }
      auto sound = ctx->sounds.load(*path);
      if (!sound) {
        ctx->log.warn("media: cannot play " + sound.error().message +
                      "; playing the info tone instead - replace the file");
        list->items.push_back(nullptr);
        list->any_failed = true;
        continue;
      }
      list->items.push_back(std::move(*sound));
    }
    ep->post([request, l = std::shared_ptr<Playlist>(list.release())](EndpointCore& c) mutable {
      c.start_playlist(request, std::unique_ptr<Playlist>(new Playlist(std::move(*l))));
    });
  });
}

void EndpointHandle::play_tone(std::string_view name) {
  auto tone = country_tone(country_, name);
  if (!tone) tone = country_tone(ctx_->cfg.country, name);
  if (!tone) tone = parse_tone(name);  // an indications string: "425/200,0/200"
  std::uint64_t request = ++shared_->play_request;
  if (!tone) {
    ctx_->log.warn("media: unknown tone '" + std::string(name) + "' for country '" + country_ +
                   "'; playing the info tone - use dial, ring, busy, congestion, callwaiting, info or record");
    tone = parse_tone("!950/330,!1400/330,!1800/330");
  }
  core_->post([request, t = *tone](EndpointCore& c) { c.start_tone(request, t); });
}

void EndpointHandle::play_music(std::string moh_class) {
  std::uint64_t request = ++shared_->play_request;
  auto ctx = ctx_;
  EndpointCore* ep = core_;
  ctx_->io.post([ctx, ep, request, moh_class = std::move(moh_class)] {
    auto list = std::make_unique<Playlist>();
    list->options.loop = true;
    for (const auto& file : ctx->sounds.music_files(moh_class)) {
      auto sound = ctx->sounds.load(file);
      if (!sound) {
        ctx->log.warn("media: music on hold class '" + moh_class + "': cannot play " + sound.error().message +
                      "; the info tone replaces it - replace or remove the file");
        list->items.push_back(nullptr);
        list->any_failed = true;
        continue;
      }
      list->items.push_back(std::move(*sound));
    }
    if (std::none_of(list->items.begin(), list->items.end(), [](auto& i) { return i != nullptr; })) {
      ctx->log.warn("media: music on hold class '" + moh_class + "' has no playable file under " +
                    ctx->sounds.music_dir(moh_class).string() +
                    "; playing a repeating info tone - upload files to the class (confd /1.1/moh) or "
                    "install asterisk-moh-opsound-wav");
      auto tone = parse_tone("950/330,1400/330,1800/330,0/1000");
      ep->post([request, t = *tone](EndpointCore& c) { c.start_tone(request, t); });
      return;
    }
    ep->post([request, l = std::shared_ptr<Playlist>(list.release())](EndpointCore& c) mutable {
      c.start_playlist(request, std::unique_ptr<Playlist>(new Playlist(std::move(*l))));
    });
  });
}

void EndpointHandle::stop_playing() {
  std::uint64_t request = ++shared_->play_request;
  core_->post([request](EndpointCore& c) { c.stop_playing(request); });
}

void EndpointHandle::record(std::filesystem::path file, sm::RecordOptions options) {
  open_recording(std::move(file), options, false);
}

void EndpointHandle::record_call(std::filesystem::path file) {
  sm::RecordOptions o;
  o.both_directions = true;
  open_recording(std::move(file), o, true);
}

void EndpointHandle::open_recording(std::filesystem::path file, sm::RecordOptions options, bool call) {
  auto ctx = ctx_;
  EndpointCore* ep = core_;
  auto shared = shared_;
  ctx_->io.post([ctx, ep, shared, file = std::move(file), options, call] {
    int rate = options.sample_rate == 16000 ? 16000 : 8000;
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    std::error_code ec;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
    // `whole`: written beside the file under a hidden name, renamed once closed.
    auto written = options.whole ? file.parent_path() / ("." + file.filename().string() + ".part") : file;
    SNDFILE* sf = sf_open(written.c_str(), SFM_WRITE, &info);
    // The call's recording tells nobody it ended: an application's record()
    // waits for its own record_done.
    auto done = [ctx, shared, call](sm::MediaEvent e) {
      if (!call) shared->deliver(e);
    };
    if (!sf) {
      std::string why = sf_strerror(nullptr);
      ctx->log.error("media: cannot record to " + file.string() + ": " + why +
                     "; the call goes on without recording - check the directory and its permissions");
      sm::MediaEvent e;
      e.type = sm::EventType::record_done;
      e.ok = false;
      e.detail = file.string() + ": " + why;
      done(e);
      return;
    }
    auto rec = std::make_shared<Recording>(written, sf, rate, options.max_seconds, done, options.silence_seconds,
                                           options.whole ? file : std::filesystem::path());
    ctx->io.add_recording(rec);
    std::erase_if(shared->recordings, [](auto& w) { return w.expired(); });
    shared->recordings.push_back(rec);
    if (call)
      ep->post([rec](EndpointCore& c) { c.attach_call_recording(rec); });
    else
      ep->post([rec, both = options.both_directions](EndpointCore& c) { c.attach_recording(rec, both); });
  });
}

bool EndpointHandle::receive_fax(std::filesystem::path file, sm::FaxOptions options) {
  auto shared = shared_;
  auto ctx = ctx_;
  auto on_done = std::move(options.on_done);
  options.on_done = nullptr;
  auto fax = std::make_shared<FaxReceiver>(std::move(file), std::move(options), ctx_->log,
                                           [ctx, shared, on_done](sm::MediaEvent e) {
                                             ctx->io.post([shared, on_done, e = std::move(e)] {
                                               shared->deliver(e);
                                               if (on_done) on_done(e);
                                             });
                                           });
  ctx_->fax.start(ctx_->cfg.realtime);
  ctx_->fax.add(fax);
  core_->post([fax](EndpointCore& c) { c.attach_fax(fax); });
  return true;
}

bool EndpointHandle::use_t38(sm::T38Options peer) {
  core_->post([peer = std::move(peer)](EndpointCore& c) { c.use_t38(peer); });
  return true;
}

bool EndpointHandle::detect_fax(bool on) {
  auto detector = on ? std::make_shared<FaxDetector>() : nullptr;
  core_->post([detector](EndpointCore& c) { c.detect_fax(detector); });
  return true;
}

void EndpointHandle::stop_recording() {
  core_->post([](EndpointCore& c) { c.stop_recording(); });
}

void EndpointHandle::stop_call_recording() {
  core_->post([](EndpointCore& c) { c.stop_call_recording(); });
}

void EndpointHandle::send_dtmf(std::string_view digits) {
  core_->post([d = std::string(digits)](EndpointCore& c) { c.queue_dtmf(d); });
}

void EndpointHandle::echo(bool on) {
  core_->post([on](EndpointCore& c) { c.set_echo(on); });
}

sm::EndpointStats EndpointHandle::stats() const {
  sm::EndpointStats s;
  s.packets_in = shared_->packets_in.load();
  s.packets_out = shared_->packets_out.load();
  s.lost = shared_->lost.load();
  s.late = shared_->late.load();
  s.srtp_failures = shared_->srtp_failures.load();
  std::lock_guard lk(shared_->m);
  s.remote = shared_->remote;
  return s;
}

}  // namespace dialtone::plugins::media
