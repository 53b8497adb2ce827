#include "engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <dialtone/base64.h>

#include "endpoint.h"
#include "media_thread.h"
#include "mixer.h"
#include "srtp_session.h"

namespace dialtone::plugins::media {

namespace sm = sdk::media;

Engine::Engine(EngineConfig cfg, sdk::Logger& log) : ctx_(std::make_shared<EngineContext>(std::move(cfg), log)) {
  unsigned r = 0;
  if (getrandom(&r, sizeof r, 0) != sizeof r) r = 0;
  next_port_ = r;
}

Engine::~Engine() { stop(); }

sdk::Status Engine::start() {
  auto& c = ctx_->cfg;
  if (c.port_min < 1024 || c.port_max > 65535 || c.port_max - c.port_min < 2)
    return sdk::Error::invalid("media: rtp.port_min/rtp.port_max must give at least one even port pair in 1024-65535");
  if (c.threads < 1) c.threads = 1;
  sockaddr_storage probe;
  socklen_t len;
  if (!parse_address(c.address.find(':') != std::string::npos && c.address.front() != '['
                         ? "[" + c.address + "]:1"
                         : c.address + ":1",
                     probe, len))
    return sdk::Error::invalid("media: rtp.address '" + c.address + "' is not a numeric IP address");
  std::error_code ec;
  if (!std::filesystem::is_directory(c.sounds_path, ec))
    ctx_->log.warn("media: sounds.path " + c.sounds_path.string() +
                   " is not a directory: prompts will be replaced by the info tone - install "
                   "asterisk-core-sounds-en-wav or set sounds.path");
  ctx_->io.start();
  for (int i = 0; i < c.threads; ++i) {
    ctx_->threads.push_back(std::make_unique<MediaThread>(*ctx_, i));
    if (!ctx_->threads.back()->start()) {
      stop();
      return sdk::Error::internal(std::string("media: cannot start a media thread: ") + std::strerror(errno));
    }
  }
  started_ = true;
  return {};
}

void Engine::stop() {
  if (!ctx_) return;
  for (auto& t : ctx_->threads) t->stop();
  ctx_->fax.stop();
  ctx_->io.stop();
  started_ = false;
}

int Engine::bind_port(std::uint16_t& port_out, std::string& error) {
  auto& c = ctx_->cfg;
  bool v6 = c.address.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int buf = 256 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  int first = (c.port_min + 1) & ~1;
  int pairs = (c.port_max - first + 1) / 2;
  for (int attempt = 0; attempt < pairs; ++attempt) {
    int port = first + 2 * static_cast<int>(next_port_.fetch_add(1) % pairs);
    sockaddr_storage a;
    socklen_t len = 0;
    parse_address(v6 ? "[" + c.address + "]:" + std::to_string(port) : c.address + ":" + std::to_string(port), a, len);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0) {
      port_out = static_cast<std::uint16_t>(port);
      return fd;
    }
    if (errno != EADDRINUSE) {
      error = "bind " + c.address + ":" + std::to_string(port) + ": " + std::strerror(errno);
      ::close(fd);
      return -1;
    }
  }
  ::close(fd);
  error = "every port of rtp.port_min-rtp.port_max is in use; widen the range";
  return -1;
}

sdk::Result<std::shared_ptr<sm::Endpoint>> Engine::create_endpoint(sm::EndpointConfig config) {
  if (!started_) return sdk::Error::unavailable("media: the engine is not started");
  if (config.formats.empty()) return sdk::Error::invalid("media: an endpoint needs at least one payload format");
  for (const auto& f : config.formats) {
    Decoder d(f.codec);
    if (!d.ok()) return sdk::Error::unsupported(std::string("media: codec ") + codec_name(f.codec) + " is unavailable");
  }
  std::string error;
  std::uint16_t port = 0;
  int fd = bind_port(port, error);
  if (fd < 0) return sdk::Error::unavailable("media: " + error);
  auto shared = std::make_shared<EndpointShared>();
  shared->remote = config.remote;
  std::string language = config.language, country = config.tone_country.empty() ? ctx_->cfg.country : config.tone_country;
  auto* core = new EndpointCore(*ctx_, fd, std::move(config), shared);
  core->local_port = port;
  if (auto s = core->init_srtp(); !s.ok()) {
    delete core;
    return sdk::Error::invalid("media: " + s.error().message);
  }
  auto& thread = ctx_->threads[next_thread_.fetch_add(1) % ctx_->threads.size()];
  core->home.store(thread.get(), std::memory_order_release);
  thread->post([core](MediaThread& t) { t.attach(core); });
  return std::shared_ptr<sm::Endpoint>(
      std::make_shared<EndpointHandle>(ctx_, core, shared, port, ctx_->cfg.address, language, country));
}

std::shared_ptr<sm::Mixer> Engine::create_mixer() {
  if (!started_) return nullptr;
  auto& thread = ctx_->threads[next_thread_.fetch_add(1) % ctx_->threads.size()];
  auto core = std::make_shared<MixerCore>(thread.get());
  thread->post([core](MediaThread& t) { t.add_mixer(core); });
  return std::make_shared<MixerHandle>(ctx_, core);
}

std::vector<sm::Codec> Engine::codecs() const {
  return {sm::Codec::opus, sm::Codec::g722, sm::Codec::pcma, sm::Codec::pcmu};
}

sm::CryptoAttribute Engine::new_crypto(int tag, std::string suite) {
  std::uint8_t key[30];
  if (getrandom(key, sizeof key, 0) != sizeof key) ctx_->log.error("media: getrandom failed for an SRTP key");
  sm::CryptoAttribute a;
  a.tag = tag;
  a.suite = std::move(suite);
  a.key_base64 = sdk::base64_encode({reinterpret_cast<const char*>(key), sizeof key});
  return a;
}

std::optional<std::filesystem::path> Engine::find_sound(std::string_view name, std::string_view language) const {
  return ctx_->sounds.find(name, language);
}

std::vector<std::filesystem::path> Engine::music_files(std::string_view moh_class) const {
  return ctx_->sounds.music_files(moh_class);
}

std::filesystem::path Engine::music_path() const { return ctx_->sounds.music_dir("default"); }

std::filesystem::path Engine::sound_store_path() const { return ctx_->cfg.store_path; }

void Engine::set_music_sort(std::function<std::string(std::string_view)> sort) {
  ctx_->sounds.set_music_sort(std::move(sort));
}

std::size_t Engine::endpoint_count() const {
  std::size_t n = 0;
  for (auto& t : ctx_->threads) n += t->endpoint_count();
  return n;
}

std::uint64_t Engine::overruns() const {
  std::uint64_t n = 0;
  for (auto& t : ctx_->threads) n += t->overruns();
  return n;
}

}  // namespace dialtone::plugins::media
