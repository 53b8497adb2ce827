#include "mixer.h"

#include <algorithm>

#include "endpoint.h"
#include "engine_context.h"
#include "media_thread.h"

namespace dialtone::plugins::media {

void MixerCore::add(EndpointCore* ep) {
  if (closed_ || std::find(members_.begin(), members_.end(), ep) != members_.end()) return;
  members_.push_back(ep);
  ep->mixer = this;
  size.store(members_.size());
}

void MixerCore::remove(EndpointCore* ep) {
  auto it = std::find(members_.begin(), members_.end(), ep);
  if (it == members_.end()) return;
  members_.erase(it);
  ep->mixer = nullptr;
  ep->set_mix_valid(false);
  size.store(members_.size());
}

void MixerCore::close() {
  closed_ = true;
  for (auto* ep : members_) {
    ep->mixer = nullptr;
    ep->set_mix_valid(false);
  }
  members_.clear();
  size.store(0);
}

void MixerCore::mix() {
  if (members_.empty()) return;
  std::int32_t sum[kFrame] = {};
  for (auto* ep : members_)
    if (const std::int16_t* in = ep->input())
      for (int i = 0; i < kFrame; ++i) sum[i] += in[i];
  for (auto* ep : members_) {
    std::int16_t* out = ep->mix_out();
    if (const std::int16_t* own = ep->input())
      for (int i = 0; i < kFrame; ++i) out[i] = clamp16(sum[i] - own[i]);
    else
      for (int i = 0; i < kFrame; ++i) out[i] = clamp16(sum[i]);
    ep->set_mix_valid(true);
  }
}

MixerHandle::MixerHandle(std::shared_ptr<EngineContext> ctx, std::shared_ptr<MixerCore> core)
    : ctx_(std::move(ctx)), core_(std::move(core)) {}

MixerHandle::~MixerHandle() {
  std::lock_guard lk(m_);
  auto core = core_;
  core_->home()->post([core](MediaThread& t) { t.remove_mixer(core.get()); });
  members_.clear();
}

void MixerHandle::add(const std::shared_ptr<sdk::media::Endpoint>& endpoint) {
  auto* h = dynamic_cast<EndpointHandle*>(endpoint.get());
  if (!h) return;
  std::lock_guard lk(m_);
  if (std::find(members_.begin(), members_.end(), endpoint) != members_.end()) return;
  members_.push_back(endpoint);
  EndpointCore* ep = h->core();
  auto core = core_;
  ep->home.load(std::memory_order_acquire)->post([ep, core](MediaThread& t) { t.join(ep, core); });
}

void MixerHandle::remove(const std::shared_ptr<sdk::media::Endpoint>& endpoint) {
  auto* h = dynamic_cast<EndpointHandle*>(endpoint.get());
  if (!h) return;
  std::lock_guard lk(m_);
  auto it = std::find(members_.begin(), members_.end(), endpoint);
  if (it == members_.end()) return;
  EndpointCore* ep = h->core();
  auto core = core_;
  // The handle stays alive in the command, so the core cannot be destroyed first.
  auto keep = *it;
  members_.erase(it);
  ep->home.load(std::memory_order_acquire)->post([ep, core, keep](MediaThread& t) { t.leave(ep, core); });
}

void MixerHandle::mute(const std::shared_ptr<sdk::media::Endpoint>& endpoint, bool muted) {
  auto* h = dynamic_cast<EndpointHandle*>(endpoint.get());
  if (!h) return;
  h->core()->post([muted](EndpointCore& c) { c.set_muted(muted); });
}

}  // namespace dialtone::plugins::media
