// N-party mixing on one media thread: each member receives the sum of the
// others' input (16 kHz linear), never its own. Also the transcoding bridge.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <dialtone/media.h>

namespace dialtone::plugins::media {

struct EngineContext;
class EndpointCore;
class MediaThread;

class MixerCore {
 public:
  explicit MixerCore(MediaThread* home) : home_(home) { members_.reserve(64); }
  MediaThread* home() const { return home_; }
  // Media thread.
  void add(EndpointCore* ep);
  void remove(EndpointCore* ep);
  void mix();
  // The mixer is gone: members leave, late joins are refused.
  void close();
  std::atomic<std::size_t> size{0};

 private:
  MediaThread* home_;
  bool closed_ = false;
  std::vector<EndpointCore*> members_;
};

class MixerHandle final : public sdk::media::Mixer {
 public:
  MixerHandle(std::shared_ptr<EngineContext> ctx, std::shared_ptr<MixerCore> core);
  ~MixerHandle() override;
  void add(const std::shared_ptr<sdk::media::Endpoint>& endpoint) override;
  void remove(const std::shared_ptr<sdk::media::Endpoint>& endpoint) override;
  void mute(const std::shared_ptr<sdk::media::Endpoint>& endpoint, bool muted) override;
  std::size_t size() const override { return core_->size.load(); }

 private:
  std::shared_ptr<EngineContext> ctx_;
  std::shared_ptr<MixerCore> core_;
  // Endpoints stay alive while they are members.
  std::vector<std::shared_ptr<sdk::media::Endpoint>> members_;
  std::mutex m_;
};

}  // namespace dialtone::plugins::media
