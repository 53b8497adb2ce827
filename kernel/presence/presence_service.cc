#include "kernel/presence/presence_service.h"

#include <algorithm>

#include <rapidjson/document.h>

namespace dialtone::kernel {
namespace {

// The features whose state a key can show: XiVO's feature name (its code
// is confd's, /1.1/extensions/features) and the presence feature it names.
struct FeatureCode {
  const char* xivo_feature;
  const char* feature;
  bool takes_destination;
};
constexpr FeatureCode kFeatureCodes[] = {
    {"fwdunc", "forward_unconditional", true},
    {"fwdrna", "forward_noanswer", true},
    {"fwdbusy", "forward_busy", true},
    {"enablednd", "dnd", false},
    {"incallfilter", "incallfilter", false},  // incoming call filtering (call screening)
    {"bsfilter", "bsfilter", true},  // *37<member id>: that boss-secretary filter member
    {"paging", "paging", true},      // *11<number>: a page to that paging group runs
};

// The interface under which the callers' legs dialing `exten` are kept
// (the legs of a page: "dialed/*1142").
std::string dialed_interface(std::string_view exten) { return "dialed/" + std::string(exten); }

const std::shared_ptr<const sdk::ConfigSnapshot>& empty_snapshot() {
  static const auto empty = std::make_shared<const sdk::ConfigSnapshot>();
  return empty;
}

// Whether `exten` is a slot of a parking lot dialed in `context` (a lot
// without an extension: in every context).
bool park_slot(const sdk::ConfigSnapshot& snap, const std::string& exten, const std::string& context) {
  if (exten.empty() || exten.size() > 9 || exten.find_first_not_of("0123456789") != std::string::npos) return false;
  long n = std::atol(exten.c_str());
  for (auto& [_, lot] : snap.parkinglots) {
    if (n < std::atol(lot.slots_start.c_str()) || n > std::atol(lot.slots_end.c_str())) continue;
    bool here = lot.extension_ids.empty();
    for (auto xid : lot.extension_ids)
      if (const auto* x = snap.extension(xid)) here = here || x->context == context;
    if (here) return true;
  }
  return false;
}

}  // namespace

class PresenceServiceImpl::WatchHandle final : public sdk::PresenceService::Watch {
 public:
  WatchHandle(PresenceServiceImpl& owner, std::string key, std::uint64_t id)
      : owner_(owner), key_(std::move(key)), id_(id) {}
  ~WatchHandle() override { owner_.unwatch(key_, id_); }

 private:
  PresenceServiceImpl& owner_;
  std::string key_;
  std::uint64_t id_;
};

PresenceServiceImpl::PresenceServiceImpl(sdk::EventBus& bus, sdk::Logger& log, ConfigFinder find_config)
    : log_(log), find_config_(std::move(find_config)) {
  // Order matters (ringing before up before ended): one subscription, one
  // delivery thread, in publication order.
  sdk::SubscribeOptions options;
  options.name = "kernel.presence";
  channel_events_ = bus.subscribe("calls.channel.#", [this](const sdk::Event& e) { on_channel_event(e); }, options);
  sdk::SubscribeOptions recording_options;
  recording_options.name = "kernel.presence.recordings";
  recording_events_ = bus.subscribe(
      "calls.recording.online.#", [this](const sdk::Event& e) { on_recording_event(e); }, recording_options);
  sdk::SubscribeOptions park_options;
  park_options.name = "kernel.presence.parking";
  park_events_ = bus.subscribe("calls.park.#", [this](const sdk::Event& e) { on_park_event(e); }, park_options);
  // Registrations come from the registrar through the bus (the service
  // never reads a backend's location table). The registrar forgets its
  // bindings when it starts, so none is missed by starting empty.
  sdk::SubscribeOptions reg_options;
  reg_options.name = "kernel.presence.registrations";
  registration_events_ = bus.subscribe(
      "sip.registration.#", [this](const sdk::Event& e) { on_registration_event(e); }, reg_options);
}

PresenceServiceImpl::~PresenceServiceImpl() { stop(); }

void PresenceServiceImpl::stop() {
  channel_events_.reset();
  park_events_.reset();
  recording_events_.reset();
  registration_events_.reset();
  std::unique_ptr<sdk::ConfigService::Watch> watch;
  std::shared_ptr<sdk::ConfigService> config;
  {
    std::lock_guard lock(config_mutex_);
    watch = std::move(config_watch_);
    config = std::move(config_);
    find_config_ = nullptr;  // the plugin providing it is about to stop
  }
  watch.reset();
  config.reset();
  std::lock_guard order(notify_mutex_);
  std::lock_guard lock(mutex_);
  stopped_ = true;
}

void PresenceServiceImpl::attach_config() {
  std::shared_ptr<sdk::ConfigService> now;
  std::unique_ptr<sdk::ConfigService::Watch> old_watch;
  std::shared_ptr<sdk::ConfigService> old;
  {
    std::lock_guard lock(config_mutex_);
    if (!find_config_) return;
    now = find_config_();
    if (now == config_) return;
    old_watch = std::move(config_watch_);
    old = std::move(config_);
    config_ = now;
    if (config_) config_watch_ = config_->watch([this](const sdk::ConfigSnapshot& s) { on_config(s); });
  }
  // Released outside the lock: a watch may wait for its callback to end.
  old_watch.reset();
  old.reset();
  if (now) on_config(*now->snapshot());
}

std::shared_ptr<const sdk::ConfigSnapshot> PresenceServiceImpl::snapshot() const {
  std::shared_ptr<sdk::ConfigService> config;
  {
    std::lock_guard lock(config_mutex_);
    if (!config_ && find_config_) {
      config_ = find_config_();
      if (config_) {
        auto* self = const_cast<PresenceServiceImpl*>(this);
        config_watch_ = config_->watch([self](const sdk::ConfigSnapshot& s) { self->on_config(s); });
      }
    }
    config = config_;
  }
  return config ? config->snapshot() : empty_snapshot();
}

sdk::Result<sdk::PresenceResource> PresenceServiceImpl::resolve(std::string_view watcher_line,
                                                                std::string_view target) const {
  auto snap = snapshot();
  const auto* line = snap->line_by_username(std::string(watcher_line));
  if (!line) return sdk::Error::not_found("presence: no line '" + std::string(watcher_line) + "'");
  sdk::PresenceResource r;
  for (auto& fc : kFeatureCodes) {
    auto code = snap->feature_code(fc.xivo_feature);
    if (code.empty() || target.substr(0, code.size()) != code) continue;
    auto rest = target.substr(code.size());
    if (!rest.empty() && !fc.takes_destination) continue;
    if (!line->main_user_id)
      return sdk::Error::not_found("presence: line '" + std::string(watcher_line) + "' has no user for " +
                                   std::string(target));
    if (std::string_view(fc.feature) == "bsfilter") {
      // Only a member of the filter (boss or secretary) supervises it.
      bool member = false;
      for (auto& [_, f] : snap->callfilters) {
        bool has_member = false, has_user = false;
        for (auto& m : f.members) {
          has_member = has_member || std::to_string(m.id) == rest;
          has_user = has_user || m.user_id == *line->main_user_id;
        }
        member = member || (has_member && has_user);
      }
      if (rest.empty() || !member)
        return sdk::Error::not_found("presence: " + std::string(target) + " names no call filter member of " +
                                     std::string(watcher_line) + "'s filters");
    }
    if (std::string_view(fc.feature) == "paging" &&
        (rest.empty() || !sdk::ConfigSnapshot::find(snap->paging_by_number_, std::string(rest))))
      return sdk::Error::not_found("presence: " + std::string(target) + " names no paging group");
    r.kind = sdk::PresenceResource::Kind::feature;
    r.user_id = *line->main_user_id;
    r.feature = fc.feature;
    r.argument = std::string(rest);
    r.exten = std::string(target);
    r.context = line->context;
    return r;
  }
  if (target == sdk::kOnlineRecordingCode) {
    if (!line->main_user_id)
      return sdk::Error::not_found("presence: line '" + std::string(watcher_line) + "' has no user for " +
                                   std::string(target));
    r.kind = sdk::PresenceResource::Kind::feature;
    r.user_id = *line->main_user_id;
    r.feature = "onlinerec";
    r.exten = std::string(target);
    r.context = line->context;
    return r;
  }
  const auto* x = snap->extension(std::string(target), line->context);
  if (!x || x->commented) {
    // A line named by its username ("sip:bob@..."): its first extension.
    if (const auto* other = snap->line_by_username(std::string(target)); other && !other->extension_ids.empty())
      x = snap->extension(other->extension_ids.front());
  }
  if ((!x || x->commented) && park_slot(*snap, std::string(target), line->context)) {
    r.kind = sdk::PresenceResource::Kind::extension;
    r.exten = std::string(target);
    r.context = line->context;
    return r;
  }
  if (!x || x->commented)
    return sdk::Error::not_found("presence: no extension " + std::string(target) + " in context " + line->context);
  r.kind = sdk::PresenceResource::Kind::extension;
  r.exten = x->exten;
  r.context = x->context;
  return r;
}

sdk::Result<sdk::PresenceResource> PresenceServiceImpl::mailbox_of(std::string_view line_name) const {
  auto snap = snapshot();
  const auto* line = snap->line_by_username(std::string(line_name));
  if (!line) return sdk::Error::not_found("presence: no line '" + std::string(line_name) + "'");
  for (auto id : line->extension_ids)
    if (const auto* x = snap->extension(id); x && !x->commented) {
      sdk::PresenceResource r;
      r.kind = sdk::PresenceResource::Kind::mailbox;
      r.mailbox = x->exten + "@" + x->context;
      return r;
    }
  return sdk::Error::not_found("presence: line '" + std::string(line_name) + "' has no extension, so no mailbox");
}

void PresenceServiceImpl::bind(Entry& e, const sdk::ConfigSnapshot& snap) {
  bool paging = e.resource.kind == sdk::PresenceResource::Kind::feature && e.resource.feature == "paging";
  if (e.resource.kind != sdk::PresenceResource::Kind::extension && !paging) return;
  std::set<std::string> now;
  // A paging key follows the callers' legs that dialed its code.
  if (paging) now.insert(dialed_interface(e.resource.exten));
  if (!paging) e.resource.user_id = 0;
  const auto* x = paging ? nullptr : snap.extension(e.resource.exten, e.resource.context);
  if (!paging && (!x || x->commented) && park_slot(snap, e.resource.exten, e.resource.context))
    now.insert("park/" + e.resource.exten + "@" + e.resource.context);
  if (x && !x->commented)
    for (auto id : snap.lines_of(x->id))
      if (const auto* l = snap.line(id); l && !l->username.empty()) {
        now.insert("sip/" + l->username);
        if (!e.resource.user_id && l->main_user_id) e.resource.user_id = *l->main_user_id;
      }
  // A group's extension: the lines of its members, so the key flashes while
  // a call to the group (or to a member) rings them and is lit while one talks.
  if (x && !x->commented)
    for (auto& [_, g] : snap.groups) {
      if (std::find(g.extension_ids.begin(), g.extension_ids.end(), x->id) == g.extension_ids.end()) continue;
      for (auto uid : g.member_user_ids)
        if (const auto* u = snap.user(uid); u && u->enabled)
          for (auto lid : u->line_ids)
            if (const auto* l = snap.line(lid); l && !l->username.empty()) now.insert("sip/" + l->username);
    }
  auto key = e.resource.key();
  for (auto& i : e.interfaces)
    if (!now.count(i)) {
      auto it = watched_.find(i);
      if (it != watched_.end() && (it->second.erase(key), it->second.empty())) watched_.erase(it);
    }
  for (auto& i : now) watched_[i].insert(key);
  e.interfaces = std::move(now);
}

sdk::PresenceState PresenceServiceImpl::compute(const Entry& e, const sdk::ConfigSnapshot& snap) const {
  sdk::PresenceState s;
  const auto& r = e.resource;
  switch (r.kind) {
    case sdk::PresenceResource::Kind::extension: {
      for (auto& i : e.interfaces) {
        auto it = legs_of_.find(i);
        if (it == legs_of_.end()) continue;
        for (auto& id : it->second) {
          auto l = legs_.find(id);
          if (l == legs_.end()) continue;
          const Leg& leg = l->second;
          sdk::PresenceDialog d;
          d.initiator = leg.direction == "inbound";
          if (leg.ended) d.state = sdk::DialogState::terminated;
          else if (leg.state == "up") d.state = sdk::DialogState::confirmed;
          else if (leg.state == "ringing") d.state = sdk::DialogState::early;
          else if (d.initiator) d.state = sdk::DialogState::trying;
          else continue;  // a callee's leg not yet alerting: nothing rings
          d.id = leg.id;
          d.call_id = leg.call_id;
          d.local_tag = leg.local_tag;
          d.remote_tag = leg.remote_tag;
          d.endpoint = leg.interface;
          d.local_number = r.exten;
          d.remote_number = d.initiator ? leg.callee_number : leg.caller_number;
          d.remote_name = d.initiator ? leg.callee_name : leg.caller_name;
          d.started_ms = leg.created_ms;
          s.dialogs.push_back(std::move(d));
        }
      }
      std::sort(s.dialogs.begin(), s.dialogs.end(), [](auto& a, auto& b) {
        return a.started_ms != b.started_ms ? a.started_ms < b.started_ms : a.id < b.id;
      });
      if (const auto* u = snap.user(r.user_id)) s.dnd = u->dnd;
      for (auto& i : e.interfaces) s.registered = s.registered || registered_.count(i) > 0;
      break;
    }
    case sdk::PresenceResource::Kind::feature: {
      const auto* u = snap.user(r.user_id);
      if (!u) break;
      bool stopped = false;
      auto forward = [&](const sdk::ConfigForward& f) {
        return f.enabled && (r.argument.empty() || f.destination.value_or("") == r.argument);
      };
      if (r.feature == "dnd") s.feature_on = u->dnd;
      else if (r.feature == "incallfilter") s.feature_on = u->incallfilter;
      else if (r.feature == "forward_unconditional") s.feature_on = forward(u->forward_unconditional);
      else if (r.feature == "forward_noanswer") s.feature_on = forward(u->forward_noanswer);
      else if (r.feature == "forward_busy") s.feature_on = forward(u->forward_busy);
      else if (r.feature == "bsfilter") {
        for (auto& [_, f] : snap.callfilters)
          for (auto& m : f.members)
            if (std::to_string(m.id) == r.argument) s.feature_on = m.active;
      } else if (r.feature == "paging") {
        if (auto it = legs_of_.find(dialed_interface(r.exten)); it != legs_of_.end())
          for (auto& id : it->second)
            if (auto l = legs_.find(id); l != legs_.end() && !l->second.ended) s.feature_on = true;
      } else if (r.feature == "onlinerec") {
        // A channel of a call recorded online is on one of the user's lines.
        for (auto& [_, rec] : online_recorded_)
          for (auto& ch : rec.channels) {
            auto leg = legs_.find(ch);
            if (leg == legs_.end()) continue;
            for (auto lid : u->line_ids)
              if (const auto* l = snap.line(lid); l && leg->second.interface == "sip/" + l->username)
                (rec.ended ? stopped : s.feature_on) = true;
          }
      }
      s.dnd = u->dnd;
      if (s.feature_on || stopped) {
        // Phones light a key on a confirmed dialog: the feature is one while
        // on; a recording that just stopped is told as its end.
        sdk::PresenceDialog d;
        d.id = r.feature + "-" + std::to_string(r.user_id);
        d.state = s.feature_on ? sdk::DialogState::confirmed : sdk::DialogState::terminated;
        d.local_number = r.exten;
        s.dialogs.push_back(std::move(d));
      }
      break;
    }
    case sdk::PresenceResource::Kind::mailbox: {
      if (auto it = mailboxes_.find(r.mailbox); it != mailboxes_.end()) {
        s.new_messages = it->second.first;
        s.old_messages = it->second.second;
      }
      break;
    }
  }
  return s;
}

std::vector<PresenceServiceImpl::Change> PresenceServiceImpl::collect(const std::vector<std::string>& keys,
                                                                     const sdk::ConfigSnapshot& snap) {
  std::vector<Change> out;
  if (stopped_) return out;
  for (auto& key : keys) {
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    auto now = compute(it->second, snap);
    now.version = it->second.last.version;
    if (now == it->second.last) continue;
    now.version = ++version_;
    it->second.last = now;
    out.push_back({std::move(now), it->second.watchers});
  }
  return out;
}

void PresenceServiceImpl::tell(const std::vector<Change>& changes) {
  for (auto& c : changes)
    for (auto& w : c.watchers) w.fn(c.state);
}

void PresenceServiceImpl::refresh(const std::vector<std::string>& keys, const sdk::ConfigSnapshot& snap) {
  std::vector<Change> changes;
  {
    std::lock_guard lock(mutex_);
    changes = collect(keys, snap);
  }
  tell(changes);
}

void PresenceServiceImpl::on_channel_event(const sdk::Event& e) {
  update_leg(e, e.topic == "calls.channel.ended");
}

void PresenceServiceImpl::on_park_event(const sdk::Event& e) {
  // A parked call is a confirmed dialog of its slot ("park/701@default"),
  // the parked caller as the remote party: a BLF key on the slot lights.
  std::string slot(e.text("slot")), context(e.text("context"));
  if (slot.empty()) return;
  std::vector<sdk::EventField> leg{{"id", "park:" + std::string(e.text("id"))},
                                   {"backend", "park"},
                                   {"endpoint", slot + "@" + context},
                                   {"state", "up"},
                                   {"direction", "outbound"},
                                   {"protocol_id", ""}};
  for (const char* k : {"created_at_ms", "caller_number", "caller_name", "callee_number", "callee_name"})
    if (auto* f = e.field(k)) leg.push_back(*f);
  update_leg(sdk::Event(e.topic, std::move(leg)), e.topic != "calls.park.parked");
}

void PresenceServiceImpl::update_leg(const sdk::Event& e, bool ended) {
  std::string id(e.text("id"));
  if (id.empty()) return;
  std::string interface = std::string(e.text("backend")) + "/" + std::string(e.text("endpoint"));
  auto snap = snapshot();
  std::lock_guard order(notify_mutex_);
  std::vector<Change> changes;
  {
    std::lock_guard lock(mutex_);
    std::vector<std::string> keys;
    auto& leg = legs_[id];
    if (leg.id.empty()) {
      leg.id = id;
      leg.created_ms = e.number("created_at_ms");
    }
    // A transfer may move the leg to another endpoint.
    if (!leg.interface.empty() && leg.interface != interface) {
      auto old = legs_of_.find(leg.interface);
      if (old != legs_of_.end() && (old->second.erase(id), old->second.empty())) legs_of_.erase(old);
      if (auto w = watched_.find(leg.interface); w != watched_.end())
        keys.insert(keys.end(), w->second.begin(), w->second.end());
    }
    leg.interface = interface;
    legs_of_[interface].insert(id);
    leg.call_id = e.text("protocol_id");
    if (auto t = e.text("local_tag"); !t.empty()) leg.local_tag = t;
    if (auto t = e.text("remote_tag"); !t.empty()) leg.remote_tag = t;
    leg.direction = e.text("direction");
    leg.state = e.text("state");
    leg.caller_number = e.text("caller_number");
    leg.caller_name = e.text("caller_name");
    leg.callee_number = e.text("callee_number");
    leg.callee_name = e.text("callee_name");
    leg.ended = ended;
    if (auto w = watched_.find(interface); w != watched_.end())
      keys.insert(keys.end(), w->second.begin(), w->second.end());
    // A page runs while its caller's leg lasts (paging keys).
    std::string dialed;
    if (leg.direction == "inbound") {
      auto code = snap->feature_code("paging");
      if (!code.empty() && leg.callee_number.size() > code.size() && leg.callee_number.rfind(code, 0) == 0)
        dialed = dialed_interface(leg.callee_number);
    }
    for (const std::string* d : {&leg.dialed, &dialed}) {
      if (d->empty()) continue;
      if (auto w = watched_.find(*d); w != watched_.end()) keys.insert(keys.end(), w->second.begin(), w->second.end());
    }
    if (leg.dialed != dialed && !leg.dialed.empty())
      if (auto it = legs_of_.find(leg.dialed); it != legs_of_.end() && (it->second.erase(id), it->second.empty()))
        legs_of_.erase(it);
    leg.dialed = dialed;
    if (!dialed.empty()) legs_of_[dialed].insert(id);
    std::vector<std::string> recording_keys;
    if (ended) {
      // The end of the call ends its online recording.
      for (auto& [_, rec] : online_recorded_)
        if (!rec.ended && std::find(rec.channels.begin(), rec.channels.end(), id) != rec.channels.end())
          rec.ended = true;
      if (std::any_of(online_recorded_.begin(), online_recorded_.end(), [](auto& r) { return r.second.ended; })) {
        recording_keys = online_recording_keys();
        keys.insert(keys.end(), recording_keys.begin(), recording_keys.end());
      }
    }
    changes = collect(keys, *snap);
    if (!recording_keys.empty()) forget_ended_recordings(recording_keys, *snap);
    if (ended) {
      // Told once as terminated; then gone, in the same hold of the lock
      // (state() never sees it again), silently, so the next change of
      // the extension no longer lists it.
      for (auto& i : {interface, dialed})
        if (auto it = legs_of_.find(i); it != legs_of_.end() && (it->second.erase(id), it->second.empty()))
          legs_of_.erase(it);
      legs_.erase(id);
      for (auto& key : keys) {
        auto it = entries_.find(key);
        if (it == entries_.end()) continue;
        auto now = compute(it->second, *snap);
        now.version = it->second.last.version;
        it->second.last = std::move(now);
      }
    }
  }
  tell(changes);
}

std::vector<std::string> PresenceServiceImpl::online_recording_keys() const {
  std::vector<std::string> keys;
  for (auto& [key, e] : entries_)
    if (e.resource.kind == sdk::PresenceResource::Kind::feature && e.resource.feature == "onlinerec")
      keys.push_back(key);
  return keys;
}

void PresenceServiceImpl::on_recording_event(const sdk::Event& e) {
  std::string recorded(e.text("recorded"));
  if (recorded.empty()) return;
  std::vector<std::string> channels{recorded};
  if (auto* f = e.field("channels"); f && f->type == sdk::EventField::Type::json) {
    rapidjson::Document list;
    list.Parse(f->text.c_str(), f->text.size());
    if (!list.HasParseError() && list.IsArray())
      for (auto& v : list.GetArray())
        if (v.IsString() && v.GetString() != recorded) channels.emplace_back(v.GetString());
  }
  auto snap = snapshot();
  std::lock_guard order(notify_mutex_);
  std::vector<Change> changes;
  {
    std::lock_guard lock(mutex_);
    auto keys = online_recording_keys();
    if (e.topic == sdk::kOnlineRecordingStarted) {
      online_recorded_[recorded] = {std::move(channels), false};
      changes = collect(keys, *snap);
    } else if (auto it = online_recorded_.find(recorded); it != online_recorded_.end()) {
      it->second.ended = true;
      changes = collect(keys, *snap);
      forget_ended_recordings(keys, *snap);
    }
  }
  tell(changes);
}

void PresenceServiceImpl::forget_ended_recordings(const std::vector<std::string>& keys,
                                                  const sdk::ConfigSnapshot& snap) {
  for (auto it = online_recorded_.begin(); it != online_recorded_.end();)
    it = it->second.ended ? online_recorded_.erase(it) : std::next(it);
  for (auto& key : keys) {
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    auto now = compute(it->second, snap);
    now.version = it->second.last.version;
    it->second.last = std::move(now);
  }
}

void PresenceServiceImpl::on_config(const sdk::ConfigSnapshot& snap) {
  std::lock_guard order(notify_mutex_);
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, e] : entries_) {
      bind(e, snap);
      keys.push_back(key);
    }
  }
  refresh(keys, snap);
}

std::unique_ptr<sdk::PresenceService::Watch> PresenceServiceImpl::watch(
    const sdk::PresenceResource& resource, std::function<void(const sdk::PresenceState&)> on_change) {
  auto snap = snapshot();
  auto key = resource.key();
  std::lock_guard order(notify_mutex_);
  std::lock_guard lock(mutex_);
  auto [it, fresh] = entries_.try_emplace(key);
  if (fresh) {
    it->second.resource = resource;
    bind(it->second, *snap);
    it->second.last = compute(it->second, *snap);
  }
  auto id = next_watcher_++;
  it->second.watchers.push_back({id, std::move(on_change)});
  return std::make_unique<WatchHandle>(*this, key, id);
}

void PresenceServiceImpl::unwatch(const std::string& key, std::uint64_t id) {
  std::lock_guard order(notify_mutex_);
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  auto& w = it->second.watchers;
  w.erase(std::remove_if(w.begin(), w.end(), [id](auto& x) { return x.id == id; }), w.end());
  if (!w.empty()) return;
  for (auto& i : it->second.interfaces) {
    auto wi = watched_.find(i);
    if (wi != watched_.end() && (wi->second.erase(key), wi->second.empty())) watched_.erase(wi);
  }
  entries_.erase(it);
}

void PresenceServiceImpl::on_registration_event(const sdk::Event& e) {
  std::string aor(e.text("aor"));
  auto* registered = e.field("registered");
  if (aor.empty() || !registered || registered->type != sdk::EventField::Type::boolean) return;
  std::string interface = "sip/" + aor;
  auto snap = snapshot();
  std::lock_guard order(notify_mutex_);
  std::vector<Change> changes;
  {
    std::lock_guard lock(mutex_);
    bool changed = e.flag("registered") ? registered_.insert(interface).second : registered_.erase(interface) > 0;
    if (!changed) return;
    if (auto w = watched_.find(interface); w != watched_.end())
      changes = collect({w->second.begin(), w->second.end()}, *snap);
  }
  tell(changes);
}

sdk::PresenceState PresenceServiceImpl::state(const sdk::PresenceResource& resource) const {
  auto snap = snapshot();
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(resource.key()); it != entries_.end()) return compute(it->second, *snap);
  Entry e;
  e.resource = resource;
  if (resource.kind == sdk::PresenceResource::Kind::extension)
    if (const auto* x = snap->extension(resource.exten, resource.context); x && !x->commented)
      for (auto id : snap->lines_of(x->id))
        if (const auto* l = snap->line(id); l && !l->username.empty()) {
          e.interfaces.insert("sip/" + l->username);
          if (!e.resource.user_id && l->main_user_id) e.resource.user_id = *l->main_user_id;
        }
  return compute(e, *snap);
}

void PresenceServiceImpl::set_mwi(const std::string& mailbox, int new_messages, int old_messages) {
  {
    std::lock_guard lock(mutex_);
    mailboxes_[mailbox] = {std::max(0, new_messages), std::max(0, old_messages)};
  }
  auto snap = snapshot();
  std::lock_guard order(notify_mutex_);
  sdk::PresenceResource r;
  r.kind = sdk::PresenceResource::Kind::mailbox;
  r.mailbox = mailbox;
  refresh({r.key()}, *snap);
}

std::size_t PresenceServiceImpl::resources() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t PresenceServiceImpl::watchers() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto& [_, e] : entries_) n += e.watchers.size();
  return n;
}

}  // namespace dialtone::kernel
