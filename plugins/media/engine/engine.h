// The media engine service: owns the media threads, the I/O thread and the
// sound library; hands out endpoints and mixers.
#pragma once

#include <atomic>
#include <memory>

#include <dialtone/host.h>
#include <dialtone/media.h>

#include "engine_context.h"

namespace dialtone::plugins::media {

class Engine final : public sdk::media::MediaEngine {
 public:
  Engine(EngineConfig cfg, sdk::Logger& log);
  ~Engine() override;

  sdk::Status start();
  void stop();

  sdk::Result<std::shared_ptr<sdk::media::Endpoint>> create_endpoint(sdk::media::EndpointConfig config) override;
  std::shared_ptr<sdk::media::Mixer> create_mixer() override;
  std::vector<sdk::media::Codec> codecs() const override;
  sdk::media::CryptoAttribute new_crypto(int tag, std::string suite) override;
  std::optional<std::filesystem::path> find_sound(std::string_view name, std::string_view language) const override;
  std::vector<std::filesystem::path> music_files(std::string_view moh_class) const override;

  // For benches and diagnostics.
  std::size_t endpoint_count() const;
  std::uint64_t overruns() const;
  const EngineConfig& config() const { return ctx_->cfg; }

 private:
  int bind_port(std::uint16_t& port_out, std::string& error);

  std::shared_ptr<EngineContext> ctx_;
  std::atomic<unsigned> next_thread_{0};
  std::atomic<unsigned> next_port_{0};
  bool started_ = false;
};

}  // namespace dialtone::plugins::media
