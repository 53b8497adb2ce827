#include "kernel/calls/call_core.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace dialtone::kernel {
namespace {

// How long the publisher naps between batches while events keep coming.
constexpr auto kPublishNap = std::chrono::milliseconds(1);

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* topic_of(int kind) {
  static const char* topics[] = {"calls.channel.created",  "calls.channel.state",
                                 "calls.channel.ended",    "calls.channel.bridged",
                                 "calls.channel.unbridged", "calls.channel.held",
                                 "calls.channel.unheld",   "calls.channel.transferred",
                                 "calls.channel.dtmf"};
  return topics[kind];
}

}  // namespace

// Followers (call records, CTI, BLF) read these fields: names are only ever
// added. Published as fields: the JSON is written only for a subscriber that
// asks for text (the WebSocket stream), never on this thread.
static std::vector<sdk::EventField> event_fields_of(const sdk::Channel& c, bool ended, std::int64_t duration_ms,
                                                    const std::string& extra_key, const std::string& extra, int cause,
                                                    int q850, int sip, const std::string& exten,
                                                    const std::string& context, const std::string& target,
                                                    const std::string& source = {},
                                                    std::vector<std::pair<std::string, std::string>> more = {}) {
  std::vector<sdk::EventField> f;
  f.reserve(24 + more.size());
  f.emplace_back("id", c.id);
  f.emplace_back("call_id", c.call_id);
  f.emplace_back("backend", c.backend);
  f.emplace_back("endpoint", c.endpoint);
  f.emplace_back("direction", sdk::to_string(c.direction));
  f.emplace_back("state", ended ? "ended" : sdk::to_string(c.state));
  f.emplace_back("caller_number", c.caller_number);
  f.emplace_back("caller_name", c.caller_name);
  f.emplace_back("callee_number", c.callee_number);
  f.emplace_back("callee_name", c.callee_name);
  f.emplace_back("protocol_id", c.protocol_id);
  f.emplace_back("peer", c.peer);
  f.emplace_back("created_at_ms", c.created_at_ms);
  f.emplace_back("answered_at_ms", c.answered_at_ms);
  f.emplace_back("held", c.held);
  if (!extra_key.empty()) f.emplace_back(extra_key, extra);
  if (!exten.empty() || !context.empty()) {
    f.emplace_back("exten", exten);
    f.emplace_back("context", context);
  }
  if (!target.empty()) f.emplace_back("target_channel", target);
  if (!source.empty()) f.emplace_back("source", source);
  for (auto& [k, v] : more) f.emplace_back(std::move(k), std::move(v));
  if (ended) {
    f.emplace_back("cause", cause);
    f.emplace_back("q850_cause", q850);
    f.emplace_back("sip_code", sip);
    f.emplace_back("duration_ms", duration_ms);
  }
  return f;
}


CallCoreImpl::CallCoreImpl(sdk::EventBus& bus, sdk::Logger& log, CallCoreConfig config)
    : bus_(bus),
      log_(log),
      config_(config),
      id_prefix_(std::to_string(now_ms() / 1000) + "-") {
  publisher_ = std::thread([this] { publish_loop(); });
}

CallCoreImpl::~CallCoreImpl() { stop(); }

void CallCoreImpl::stop() {
  timers_.stop();
  {
    std::lock_guard lock(events_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  events_cv_.notify_one();
  if (publisher_.joinable()) publisher_.join();
  // Drivers and verbs left registered were built by plugins: destroy them
  // now, while those libraries are still loaded (the kernel unloads them
  // before the call core is destroyed; a destructor run after that crashes).
  decltype(drivers_) drivers;
  {
    std::lock_guard lock(mutex_);
    drivers.swap(drivers_);
  }
  std::vector<sdk::LuaFunctionSpec> verbs;
  {
    std::lock_guard lock(lua_mutex_);
    verbs.swap(verbs_);
    lua_ = nullptr;
  }
}

void CallCoreImpl::queue(Pending p) {
  bool wake = false;
  {
    std::lock_guard lock(events_mutex_);
    if (stopping_) return;
    if (events_.size() >= config_.max_queued_events) {
      // Counted, logged by the publisher: never block or log on the caller's thread.
      ++dropped_;
      return;
    }
    wake = publisher_idle_;
    publisher_idle_ = false;  // one wake-up is enough
    events_.push_back(std::move(p));
  }
  if (wake) events_cv_.notify_one();
}

void CallCoreImpl::queue_service(std::string topic, const sdk::Channel& c,
                                 std::vector<std::pair<std::string, std::string>> more) {
  Pending p{Kind::service, c};
  p.topic = std::move(topic);
  p.more = std::move(more);
  queue(std::move(p));
}

void CallCoreImpl::publish_loop() {
  std::vector<Pending> batch;
  bool published = false;
  std::uint64_t reported = 0;
  for (;;) {
    {
      std::unique_lock lock(events_mutex_);
      // A batch was just published: more events of the same calls are on
      // their way, so nap rather than ask to be woken for each of them.
      if (published && events_.empty() && !stopping_)
        events_cv_.wait_for(lock, kPublishNap, [this] { return stopping_; });
      if (events_.empty() && !stopping_) {
        publisher_idle_ = true;
        events_cv_.wait(lock, [this] { return stopping_ || !events_.empty(); });
        publisher_idle_ = false;
      }
      if (events_.empty() && stopping_) return;
      batch.swap(events_);
      published = !batch.empty();
    }
    {
      // The dialog tags of each leg that has them (BLF pickup with Replaces).
      std::lock_guard lock(mutex_);
      for (auto& p : batch)
        if (auto t = tags_.find(p.channel.id); t != tags_.end() && p.kind != Kind::service) {
          p.more.emplace_back("local_tag", t->second.first);
          p.more.emplace_back("remote_tag", t->second.second);
        }
    }
    // One publish for the batch: each subscriber is woken once for all of it.
    std::vector<std::shared_ptr<const sdk::Event>> events;
    events.reserve(batch.size());
    for (auto& p : batch) {
      if (p.kind == Kind::service) {
        events.push_back(std::make_shared<const sdk::Event>(
            std::move(p.topic),
            event_fields_of(p.channel, false, 0, "", "", 0, 0, 0, {}, {}, {}, {}, std::move(p.more))));
        continue;
      }
      const char* extra_key = p.kind == Kind::bridged       ? "media"
                              : p.kind == Kind::transferred ? "kind"
                              : p.kind == Kind::dtmf        ? "digit"
                                                            : "";
      // A digit's source travels in `target` (no transfer target on a DTMF event).
      bool dtmf = p.kind == Kind::dtmf;
      events.push_back(std::make_shared<const sdk::Event>(
          topic_of(static_cast<int>(p.kind)),
          event_fields_of(p.channel, p.kind == Kind::ended, p.duration_ms, extra_key, p.extra, p.cause, p.q850,
                          p.sip, p.exten, p.context, dtmf ? std::string() : p.target,
                          dtmf ? p.target : std::string(), std::move(p.more))));
    }
    bus_.publish_batch(std::move(events));
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
  for (auto& c : gone) {
    if (c.state != sdk::ChannelState::up) c.answered_at_ms = 0;
    queue(Pending{Kind::ended, c, 0, sdk::q850::normal_unspecified, 0});
  }
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
    ++busy_[c.backend + "/" + c.endpoint];
    channels_.emplace(c.id, c);
  }
  queue(Kind::created, c);
  return c.id;
}

sdk::Status CallCoreImpl::set_state(std::string_view channel_id, sdk::ChannelState state) {
  sdk::Channel snapshot;
  std::vector<std::function<void(bool, std::string)>> early;
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
    // Early media is reported as ringing, perhaps again: call:progress() goes on.
    if (state != sdk::ChannelState::down) {
      auto [from, to] = early_waiters_.equal_range(it->first);
      for (auto w = from; w != to; ++w) early.push_back(std::move(w->second));
      early_waiters_.erase(from, to);
    }
    if (it->second.state != state) {
      changed = true;
      it->second.state = state;
      if (state == sdk::ChannelState::up && it->second.answered_at_ms == 0) it->second.answered_at_ms = now_ms();
      snapshot = it->second;
    }
  }
  for (auto& w : early) w(true, {});
  if (!changed) return {};
  queue(Kind::state, snapshot);
  if (state == sdk::ChannelState::up) {
    wake_up_waiters(snapshot.id, true);
    dial_leg_up(snapshot.id);
  }
  return {};
}

void CallCoreImpl::wake(Waiters& waiters, const std::string& channel_id, bool ok, const std::string& error) {
  std::vector<std::function<void(bool, std::string)>> ready;
  {
    std::lock_guard lock(mutex_);
    auto [from, to] = waiters.equal_range(channel_id);
    for (auto it = from; it != to; ++it) ready.push_back(std::move(it->second));
    waiters.erase(from, to);
  }
  for (auto& w : ready) w(ok, ok ? std::string() : error);
}

void CallCoreImpl::wake_up_waiters(const std::string& channel_id, bool up) {
  wake(up_waiters_, channel_id, up, "the call ended before it was answered");
}

void CallCoreImpl::wake_early_waiters(const std::string& channel_id, bool ok) {
  wake(early_waiters_, channel_id, ok, "the call ended before its early media");
}

void CallCoreImpl::ask_and_wait(std::string_view channel_id, Waiters& waiters,
                                std::function<void(bool, std::string)> done, const DriverAsk& ask) {
  std::string id(channel_id);
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(id);
    if (it == channels_.end()) {
      done(false, "no channel " + id);
      return;
    }
    if (it->second.state == sdk::ChannelState::up) {
      done(true, {});
      return;
    }
    // Registered before the driver runs: it may report from inside `ask`.
    waiters.emplace(id, std::move(done));
  }
  bool settled = false;
  auto s = with_driver(id, [&](sdk::ChannelDriver& d, const sdk::Channel& c) { return ask(d, c, settled); });
  if (s && !settled) return;
  wake(waiters, id, static_cast<bool>(s), s ? std::string() : s.error().message);
}

void CallCoreImpl::progress_channel(std::string_view channel_id, std::function<void(bool, std::string)> done) {
  ask_and_wait(channel_id, early_waiters_, std::move(done),
               [](sdk::ChannelDriver& d, const sdk::Channel& c, bool&) { return d.progress(c); });
}

void CallCoreImpl::answer_channel(std::string_view channel_id, std::function<void(bool, std::string)> done) {
  ask_and_wait(channel_id, up_waiters_, std::move(done), [](sdk::ChannelDriver& d, const sdk::Channel& c, bool& settled) {
    // A local leg has no wire to answer on: its driver accepts and nothing
    // will come up, so the script goes on at once (as it always did).
    settled = c.backend == "local";
    return d.answer(c);
  });
}

sdk::Status CallCoreImpl::dtmf_received(std::string_view channel_id, char digit, std::string_view source) {
  auto c = channel(channel_id);
  if (!c) return c.error();
  Pending p{Kind::dtmf, *c, 0, 0, 0, std::string(1, digit)};
  p.target = std::string(source);
  queue(std::move(p));
  return {};
}

sdk::Status CallCoreImpl::link(std::string_view channel_a, std::string_view channel_b) {
  // A channel already up that changes peer (a transfer) is reported again so
  // that followers see who it talks to now; on answer set_state reports it.
  std::vector<sdk::Channel> relinked, bridged;
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
      bridged.push_back(self->second);
    }
  }
  for (auto& c : relinked) queue(Kind::state, c);
  for (auto& c : bridged) queue(Pending{Kind::bridged, c, 0, 0, 0, "relayed"});
  return {};
}

sdk::Status CallCoreImpl::end_channel(std::string_view channel_id, int cause) {
  return end(channel_id, cause, sdk::q850_from_sip(cause), cause);
}

sdk::Status CallCoreImpl::end_channel_q850(std::string_view channel_id, int q850_cause) {
  int sip = sdk::sip_from_q850(q850_cause);
  return end(channel_id, sip, q850_cause, sip);
}

sdk::Status CallCoreImpl::end(std::string_view channel_id, int cause, int q850, int sip) {
  sdk::Channel gone;
  std::optional<sdk::Channel> unbridged;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
    gone = std::move(it->second);
    channels_.erase(it);
    if (auto b = busy_.find(gone.backend + "/" + gone.endpoint); b != busy_.end() && --b->second == 0)
      busy_.erase(b);
    if (auto v = vars_.find(gone.id); v != vars_.end()) vars_.erase(v);
    if (auto d = depth_.find(gone.id); d != depth_.end()) depth_.erase(d);
    refusals_.erase(gone.id);
    tags_.erase(gone.id);
    if (!gone.protocol_id.empty())
      if (auto b = by_protocol_id_.find(gone.protocol_id); b != by_protocol_id_.end() && b->second == gone.id)
        by_protocol_id_.erase(b);
    // The peer no longer talks to anyone.
    if (!gone.peer.empty())
      if (auto p = channels_.find(gone.peer); p != channels_.end() && p->second.peer == gone.id) {
        p->second.peer.clear();
        unbridged = p->second;
      }
  }
  if (unbridged) queue(Kind::unbridged, *unbridged);
  wake_up_waiters(gone.id, false);
  wake_early_waiters(gone.id, false);
  sdk::ParkedCall was;
  if (unpark_as(gone.id, "hangup", &was))
    queue_service("calls.park.abandoned", gone, {{"slot", std::to_string(was.slot)}, {"lot", was.lot},
                                                 {"context", was.context}});
  Pending p{Kind::ended, gone, cause, q850, sip};
  p.duration_ms = gone.answered_at_ms ? std::max<std::int64_t>(0, now_ms() - gone.answered_at_ms) : 0;
  queue(std::move(p));
  dial_leg_ended(gone.id, q850, sip);
  dial_origin_ended(gone.id);
  return {};
}

sdk::Status CallCoreImpl::set_held(std::string_view channel_id, bool held) {
  sdk::Channel snapshot;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
    if (it->second.held == held) return {};
    it->second.held = held;
    snapshot = it->second;
  }
  queue(held ? Kind::held : Kind::unheld, snapshot);
  return {};
}

sdk::Status CallCoreImpl::set_variable(std::string_view channel_id, std::string name, std::string value) {
  if (name.empty()) return sdk::Error::invalid("a channel variable needs a name");
  std::lock_guard lock(mutex_);
  if (!channels_.count(channel_id)) return sdk::Error::not_found("no channel " + std::string(channel_id));
  vars_[std::string(channel_id)][std::move(name)] = std::move(value);
  return {};
}

sdk::Result<std::string> CallCoreImpl::variable(std::string_view channel_id, std::string_view name) const {
  std::lock_guard lock(mutex_);
  if (!channels_.count(channel_id)) return sdk::Error::not_found("no channel " + std::string(channel_id));
  auto v = vars_.find(channel_id);
  if (v == vars_.end()) return sdk::Error::not_found("no variable " + std::string(name));
  auto it = v->second.find(std::string(name));
  if (it == v->second.end()) return sdk::Error::not_found("no variable " + std::string(name));
  return it->second;
}

std::map<std::string, std::string> CallCoreImpl::variables(std::string_view channel_id) const {
  std::lock_guard lock(mutex_);
  auto v = vars_.find(channel_id);
  return v == vars_.end() ? std::map<std::string, std::string>{} : v->second;
}

int CallCoreImpl::depth_of(std::string_view channel_id) const {
  std::lock_guard lock(mutex_);
  auto d = depth_.find(channel_id);
  return d == depth_.end() ? 0 : d->second;
}

std::size_t CallCoreImpl::active_calls(const std::vector<std::string>& interfaces) const {
  std::size_t n = 0;
  std::lock_guard lock(mutex_);
  for (auto& i : interfaces)
    if (auto it = busy_.find(i); it != busy_.end()) n += it->second;
  return n;
}

std::shared_ptr<sdk::ChannelDriver> CallCoreImpl::driver_of(const std::string& backend) const {
  std::lock_guard lock(mutex_);
  auto it = drivers_.find(backend);
  return it == drivers_.end() ? nullptr : it->second;
}

sdk::Status CallCoreImpl::with_driver(
    std::string_view channel_id,
    const std::function<sdk::Status(sdk::ChannelDriver&, const sdk::Channel&)>& act) {
  auto c = channel(channel_id);
  if (!c) return c.error();
  auto driver = driver_of(c->backend);
  if (!driver)
    return sdk::Error::unavailable("backend '" + c->backend + "' of channel " + c->id + " has no driver");
  return act(*driver, *c);
}

sdk::Status CallCoreImpl::bridge(std::string_view a, std::string_view b, bool relayed) {
  auto ca = channel(a);
  if (!ca) return ca.error();
  auto cb = channel(b);
  if (!cb) return cb.error();
  if (ca->backend != cb->backend)
    return sdk::Error::unsupported("cannot bridge a " + ca->backend + " channel with a " + cb->backend +
                                   " channel without the media engine");
  auto driver = driver_of(ca->backend);
  if (!driver) return sdk::Error::unavailable("backend '" + ca->backend + "' has no driver");
  auto path = relayed ? sdk::MediaPath::relayed : sdk::MediaPath::direct;
  if (auto s = driver->bridge(*ca, *cb, path); !s) return s;
  std::vector<sdk::Channel> both;
  {
    std::lock_guard lock(mutex_);
    auto ia = channels_.find(a);
    auto ib = channels_.find(b);
    if (ia == channels_.end() || ib == channels_.end()) return sdk::Error::not_found("a channel ended");
    ia->second.peer = ib->first;
    ib->second.peer = ia->first;
    both = {ia->second, ib->second};
  }
  for (auto& c : both) queue(Pending{Kind::bridged, c, 0, 0, 0, sdk::to_string(path)});
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

sdk::Status CallCoreImpl::hangup(const std::vector<sdk::Channel>& targets, int q850_cause) {
  sdk::Status result;
  for (auto& c : targets) {
    std::shared_ptr<sdk::ChannelDriver> driver;
    {
      std::lock_guard lock(mutex_);
      if (auto it = drivers_.find(c.backend); it != drivers_.end()) driver = it->second;
    }
    // The driver only posts to its backend's thread: called without the lock.
    auto s = driver ? driver->hangup(c, q850_cause)
                    : sdk::Status(sdk::Error::unavailable("backend '" + c.backend + "' of channel " + c.id +
                                                          " cannot hang up (no driver)"));
    if (!s && result) result = s;
  }
  return result;
}

sdk::Status CallCoreImpl::hangup_channel(std::string_view channel_id, int q850_cause) {
  auto c = channel(channel_id);
  if (!c) return c.error();
  return hangup({*c}, q850_cause);
}

sdk::Status CallCoreImpl::hangup_call(std::string_view call_id, int q850_cause) {
  std::vector<sdk::Channel> legs;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, c] : channels_)
      if (c.call_id == call_id) legs.push_back(c);
  }
  if (legs.empty()) return sdk::Error::not_found("no call " + std::string(call_id));
  return hangup(legs, q850_cause);
}

}  // namespace dialtone::kernel
