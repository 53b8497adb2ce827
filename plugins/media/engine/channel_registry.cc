#include "channel_registry.h"

#include <vector>

namespace dialtone::plugins::media {

namespace sm = sdk::media;

void ChannelRegistry::attach(std::string channel_id, std::shared_ptr<sm::Endpoint> endpoint) {
  if (!endpoint) return;
  auto slot = std::make_shared<Slot>();
  slot->channel_id = channel_id;
  slot->endpoint = endpoint;
  std::shared_ptr<Slot> replaced;
  {
    std::lock_guard lk(mutex_);
    auto& s = slots_[channel_id];
    replaced = std::move(s);
    // Listeners follow the channel to its new endpoint (a re-answer).
    if (replaced) slot->listeners = replaced->listeners;
    s = slot;
  }
  std::weak_ptr<Slot> weak = slot;
  endpoint->set_handler([this, weak](const sm::MediaEvent& e) {
    if (auto s = weak.lock()) deliver(s, e);
  });
}

void ChannelRegistry::detach(std::string_view channel_id) {
  std::shared_ptr<Slot> gone;
  {
    std::lock_guard lk(mutex_);
    auto it = slots_.find(std::string(channel_id));
    if (it == slots_.end()) return;
    gone = std::move(it->second);
    slots_.erase(it);
  }
  gone->endpoint->set_handler(nullptr);
  sm::MediaEvent e;
  e.type = sm::EventType::detached;
  for (auto& [id, h] : gone->listeners)
    if (h) h(e);
}

std::shared_ptr<sm::Endpoint> ChannelRegistry::endpoint(std::string_view channel_id) const {
  std::lock_guard lk(mutex_);
  auto it = slots_.find(std::string(channel_id));
  return it == slots_.end() ? nullptr : it->second->endpoint;
}

std::uint64_t ChannelRegistry::listen(std::string_view channel_id, sm::EventHandler handler) {
  std::lock_guard lk(mutex_);
  auto it = slots_.find(std::string(channel_id));
  if (it == slots_.end()) return 0;
  auto id = next_listener_++;
  it->second->listeners.emplace(id, std::move(handler));
  return id;
}

void ChannelRegistry::unlisten(std::string_view channel_id, std::uint64_t listener) {
  std::lock_guard lk(mutex_);
  auto it = slots_.find(std::string(channel_id));
  if (it != slots_.end()) it->second->listeners.erase(listener);
}

void ChannelRegistry::set_dtmf_sink(DtmfSink sink) {
  std::lock_guard lk(mutex_);
  sink_ = sink ? std::make_shared<DtmfSink>(std::move(sink)) : nullptr;
}

std::size_t ChannelRegistry::size() const {
  std::lock_guard lk(mutex_);
  return slots_.size();
}

void ChannelRegistry::deliver(const std::shared_ptr<Slot>& slot, const sm::MediaEvent& e) {
  std::vector<sm::EventHandler> handlers;
  std::shared_ptr<DtmfSink> sink;
  {
    std::lock_guard lk(mutex_);
    handlers.reserve(slot->listeners.size());
    for (auto& [id, h] : slot->listeners) handlers.push_back(h);
    sink = sink_;
  }
  if (e.type == sm::EventType::dtmf && sink) (*sink)(slot->channel_id, e.digit, e.dtmf_source);
  for (auto& h : handlers)
    if (h) h(e);
}

}  // namespace dialtone::plugins::media
