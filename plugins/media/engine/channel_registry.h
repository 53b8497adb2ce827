// Call channels whose media ends in the engine: the endpoint a backend
// answered each with, and who listens to its events. Events fan out on the
// engine's event thread; the lock is held only to copy the listener list.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <dialtone/media.h>

namespace dialtone::plugins::media {

class ChannelRegistry {
 public:
  using DtmfSink = std::function<void(const std::string&, char, sdk::media::DtmfSource)>;

  void attach(std::string channel_id, std::shared_ptr<sdk::media::Endpoint> endpoint);
  void detach(std::string_view channel_id);
  std::shared_ptr<sdk::media::Endpoint> endpoint(std::string_view channel_id) const;
  std::uint64_t listen(std::string_view channel_id, sdk::media::EventHandler handler);
  void unlisten(std::string_view channel_id, std::uint64_t listener);
  void set_dtmf_sink(DtmfSink sink);
  std::size_t size() const;

 private:
  // One attached channel; its endpoint's handler holds it weakly.
  struct Slot {
    std::string channel_id;
    std::shared_ptr<sdk::media::Endpoint> endpoint;
    std::map<std::uint64_t, sdk::media::EventHandler> listeners;
  };
  void deliver(const std::shared_ptr<Slot>& slot, const sdk::media::MediaEvent& e);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots_;
  std::uint64_t next_listener_ = 1;
  std::shared_ptr<DtmfSink> sink_;
};

}  // namespace dialtone::plugins::media
