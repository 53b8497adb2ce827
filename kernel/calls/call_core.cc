#include "kernel/calls/call_core.h"

#include <chrono>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dialtone::kernel {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void field(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string event_body(const sdk::Channel& c, bool ended, int cause) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  field(w, "id", c.id);
  field(w, "call_id", c.call_id);
  field(w, "backend", c.backend);
  field(w, "endpoint", c.endpoint);
  w.Key("direction");
  w.String(sdk::to_string(c.direction));
  w.Key("state");
  w.String(ended ? "ended" : sdk::to_string(c.state));
  field(w, "caller_number", c.caller_number);
  field(w, "caller_name", c.caller_name);
  field(w, "callee_number", c.callee_number);
  field(w, "callee_name", c.callee_name);
  field(w, "protocol_id", c.protocol_id);
  field(w, "peer", c.peer);
  w.Key("created_at_ms");
  w.Int64(c.created_at_ms);
  w.Key("answered_at_ms");
  w.Int64(c.answered_at_ms);
  if (ended) {
    w.Key("cause");
    w.Int(cause);
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

CallCoreImpl::CallCoreImpl(sdk::EventBus& bus, sdk::Logger& log, CallCoreConfig config)
    : bus_(bus),
      log_(log),
      config_(config),
      id_prefix_(std::to_string(now_ms() / 1000) + "-") {
  publisher_ = std::thread([this] { publish_loop(); });
}

CallCoreImpl::~CallCoreImpl() { stop(); }

void CallCoreImpl::stop() {
  {
    std::lock_guard lock(events_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  events_cv_.notify_one();
  if (publisher_.joinable()) publisher_.join();
}

void CallCoreImpl::queue(Kind kind, const sdk::Channel& channel, int cause) {
  bool wake = false;
  {
    std::lock_guard lock(events_mutex_);
    if (stopping_) return;
    if (events_.size() >= config_.max_queued_events) {
      // Counted, logged by the publisher: never block or log on the caller's thread.
      ++dropped_;
      return;
    }
    wake = events_.empty();
    events_.push_back(Pending{kind, channel, cause});
  }
  if (wake) events_cv_.notify_one();
}

void CallCoreImpl::publish_loop() {
  std::vector<Pending> batch;
  std::uint64_t reported = 0;
  for (;;) {
    {
      std::unique_lock lock(events_mutex_);
      events_cv_.wait(lock, [this] { return stopping_ || !events_.empty(); });
      if (events_.empty() && stopping_) return;
      batch.swap(events_);
    }
    for (auto& p : batch) {
      const char* topic = p.kind == Kind::created ? "calls.channel.created"
                          : p.kind == Kind::state ? "calls.channel.state"
                                                  : "calls.channel.ended";
      bus_.publish(topic, event_body(p.channel, p.kind == Kind::ended, p.cause));
    }
    batch.clear();
    if (auto d = dropped_.load(); d != reported) {
      log_.warn("calls: " + std::to_string(d - reported) + " channel event(s) not published: more than " +
                std::to_string(config_.max_queued_events) + " were waiting for the bus");
      reported = d;
    }
  }
}

sdk::Status CallCoreImpl::register_driver(std::string backend, std::shared_ptr<sdk::ChannelDriver> driver) {
  if (backend.empty() || !driver) return sdk::Error::invalid("call core: a driver needs a backend name");
  std::lock_guard lock(mutex_);
  if (drivers_.count(backend))
    return sdk::Error::conflict("call core: backend '" + backend + "' already has a driver");
  drivers_.emplace(std::move(backend), std::move(driver));
  return {};
}

void CallCoreImpl::unregister_driver(std::string_view backend) {
  std::vector<sdk::Channel> gone;
  {
    std::lock_guard lock(mutex_);
    if (auto it = drivers_.find(backend); it != drivers_.end()) drivers_.erase(it);
    for (auto it = channels_.begin(); it != channels_.end();) {
      if (it->second.backend == backend) {
        gone.push_back(std::move(it->second));
        it = channels_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : gone) queue(Kind::ended, c, 0);
}

sdk::Result<std::string> CallCoreImpl::create_channel(sdk::ChannelSpec spec) {
  sdk::Channel c;
  static_cast<sdk::ChannelSpec&>(c) = std::move(spec);
  c.created_at_ms = now_ms();
  {
    std::lock_guard lock(mutex_);
    if (channels_.size() >= config_.max_channels)
      return sdk::Error::unavailable("call core: " + std::to_string(channels_.size()) +
                                     " channels held, the maximum; a backend does not end its channels");
    c.id = id_prefix_ + std::to_string(next_id_++);
    if (c.call_id.empty()) c.call_id = c.id;
    channels_.emplace(c.id, c);
  }
  queue(Kind::created, c);
  return c.id;
}

sdk::Status CallCoreImpl::set_state(std::string_view channel_id, sdk::ChannelState state) {
  sdk::Channel snapshot;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
    if (it->second.state == state) return {};
    it->second.state = state;
    if (state == sdk::ChannelState::up && it->second.answered_at_ms == 0) it->second.answered_at_ms = now_ms();
    snapshot = it->second;
  }
  queue(Kind::state, snapshot);
  return {};
}

sdk::Status CallCoreImpl::link(std::string_view channel_a, std::string_view channel_b) {
  // A channel already up that changes peer (a transfer) is reported again so
  // that followers see who it talks to now; on answer set_state reports it.
  std::vector<sdk::Channel> relinked;
  {
    std::lock_guard lock(mutex_);
    auto a = channels_.find(channel_a);
    auto b = channels_.find(channel_b);
    if (a == channels_.end() || b == channels_.end())
      return sdk::Error::not_found("no channel " + std::string(a == channels_.end() ? channel_a : channel_b));
    for (auto [self, other] : {std::pair{a, b}, std::pair{b, a}}) {
      if (self->second.peer == other->first) continue;
      self->second.peer = other->first;
      if (self->second.state == sdk::ChannelState::up) relinked.push_back(self->second);
    }
  }
  for (auto& c : relinked) queue(Kind::state, c);
  return {};
}

sdk::Status CallCoreImpl::end_channel(std::string_view channel_id, int cause) {
  sdk::Channel gone;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
    gone = std::move(it->second);
    channels_.erase(it);
    // The peer no longer talks to anyone.
    if (!gone.peer.empty())
      if (auto p = channels_.find(gone.peer); p != channels_.end() && p->second.peer == gone.id)
        p->second.peer.clear();
  }
  queue(Kind::ended, gone, cause);
  return {};
}

std::vector<sdk::Channel> CallCoreImpl::channels() const {
  std::vector<sdk::Channel> out;
  std::lock_guard lock(mutex_);
  out.reserve(channels_.size());
  for (auto& [id, c] : channels_) out.push_back(c);
  return out;
}

sdk::Result<sdk::Channel> CallCoreImpl::channel(std::string_view channel_id) const {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
  return it->second;
}

sdk::Status CallCoreImpl::hangup(const std::vector<sdk::Channel>& targets, int cause) {
  sdk::Status result;
  for (auto& c : targets) {
    std::shared_ptr<sdk::ChannelDriver> driver;
    {
      std::lock_guard lock(mutex_);
      if (auto it = drivers_.find(c.backend); it != drivers_.end()) driver = it->second;
    }
    // The driver only posts to its backend's thread: called without the lock.
    auto s = driver ? driver->hangup(c, cause)
                    : sdk::Status(sdk::Error::unavailable("backend '" + c.backend + "' of channel " + c.id +
                                                          " cannot hang up (no driver)"));
    if (!s && result) result = s;
  }
  return result;
}

sdk::Status CallCoreImpl::hangup_channel(std::string_view channel_id, int cause) {
  auto c = channel(channel_id);
  if (!c) return c.error();
  return hangup({*c}, cause);
}

sdk::Status CallCoreImpl::hangup_call(std::string_view call_id, int cause) {
  std::vector<sdk::Channel> legs;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, c] : channels_)
      if (c.call_id == call_id) legs.push_back(c);
  }
  if (legs.empty()) return sdk::Error::not_found("no call " + std::string(call_id));
  return hangup(legs, cause);
}

}  // namespace dialtone::kernel
