// The media engine service: owns the media threads, the I/O thread and the
// sound library; hands out endpoints and mixers.
#pragma once

#include <atomic>
#include <memory>

#include <dialtone/host.h>
#include <dialtone/media.h>

#include "channel_registry.h"
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
  std::filesystem::path music_path() const override;
  std::filesystem::path sound_store_path() const override;
  // Each class's file order (SoundLibrary::set_music_sort).
  void set_music_sort(std::function<std::string(std::string_view)> sort);
  void attach_channel(std::string channel_id, std::shared_ptr<sdk::media::Endpoint> endpoint) override {
    channels_.attach(std::move(channel_id), std::move(endpoint));
  }
  void detach_channel(std::string_view channel_id) override { channels_.detach(channel_id); }
  std::shared_ptr<sdk::media::Endpoint> channel_endpoint(std::string_view channel_id) const override {
    return channels_.endpoint(channel_id);
  }
  std::uint64_t listen(std::string_view channel_id, sdk::media::EventHandler handler) override {
    return channels_.listen(channel_id, std::move(handler));
  }
  void unlisten(std::string_view channel_id, std::uint64_t listener) override {
    channels_.unlisten(channel_id, listener);
  }
  void set_dtmf_sink(std::function<void(const std::string&, char, sdk::media::DtmfSource)> sink) override {
    channels_.set_dtmf_sink(std::move(sink));
  }
  std::size_t attached_channels() const { return channels_.size(); }

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
  ChannelRegistry channels_;
};

}  // namespace dialtone::plugins::media
