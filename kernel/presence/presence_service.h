// The kernel's presence model (sdk::PresenceService): the call core's
// channel events folded into per-line dialog states, the configuration's
// forwards and services, mailbox counts. Watchers of one resource share one
// entry: a change is computed once and fanned out to every watcher.
//
// @code
//   dialtone::kernel::PresenceServiceImpl presence(bus, log, [&] { return find_config(); });
//   registry.provide_as("kernel", "kernel.presence", 1, "", ...&presence...);
//   ...
//   presence.stop();   // no callback runs after this returns
// @endcode
//
// Lines are matched to channels as "<backend>/<endpoint>": a SIP line's
// channels are "sip/<username>" (the SIP backend names its legs by line).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/config.h>
#include <dialtone/host.h>
#include <dialtone/presence.h>

namespace dialtone::kernel {

class PresenceServiceImpl final : public sdk::PresenceService {
 public:
  // `find_config` gives the configuration service once a plugin provides it
  // (null until then); it is asked again until one is found.
  using ConfigFinder = std::function<std::shared_ptr<sdk::ConfigService>()>;
  PresenceServiceImpl(sdk::EventBus& bus, sdk::Logger& log, ConfigFinder find_config);
  ~PresenceServiceImpl() override;
  PresenceServiceImpl(const PresenceServiceImpl&) = delete;
  PresenceServiceImpl& operator=(const PresenceServiceImpl&) = delete;

  // Follows the configuration service provided now (the kernel calls it
  // after the plugins started and after each reload, which may have
  // started api.confd again; resolve() also looks for one while none is
  // followed).
  void attach_config();
  void stop();

  sdk::Result<sdk::PresenceResource> resolve(std::string_view watcher_line,
                                             std::string_view target) const override;
  sdk::Result<sdk::PresenceResource> mailbox_of(std::string_view line) const override;
  std::unique_ptr<Watch> watch(const sdk::PresenceResource& resource,
                               std::function<void(const sdk::PresenceState&)> on_change) override;
  sdk::PresenceState state(const sdk::PresenceResource& resource) const override;
  void set_mwi(const std::string& mailbox, int new_messages, int old_messages) override;

  // Watched resources and watchers, for tests and the bench.
  std::size_t resources() const;
  std::size_t watchers() const;

  // A calls.channel.* event (the bus subscription calls it; tests may too).
  void on_channel_event(const sdk::Event& e);
  // A sip.registration.<line> event: whether the line has a contact.
  void on_registration_event(const sdk::Event& e);
  // A calls.park.* event: the slot's BLF.
  void on_park_event(const sdk::Event& e);
  // A calls.recording.online.* event: the online recording keys of the call's users.
  void on_recording_event(const sdk::Event& e);

 private:
  struct Leg {
    std::string id, interface, call_id, state, direction;
    std::string caller_number, caller_name, callee_number, callee_name;
    std::string local_tag, remote_tag;
    // A caller's leg that dialed a paging code: dialed_interface() of it.
    std::string dialed;
    std::int64_t created_ms = 0;
    bool ended = false;
  };
  struct Watcher {
    std::uint64_t id = 0;
    std::function<void(const sdk::PresenceState&)> fn;
  };
  struct Entry {
    sdk::PresenceResource resource;
    std::set<std::string> interfaces;  // extension: "sip/<username>" of its lines
    sdk::PresenceState last;
    std::vector<Watcher> watchers;
  };
  class WatchHandle;

  std::shared_ptr<const sdk::ConfigSnapshot> snapshot() const;
  // Lines of exten@context as interfaces, and the main user of the extension.
  void bind(Entry& e, const sdk::ConfigSnapshot& snap);
  sdk::PresenceState compute(const Entry& e, const sdk::ConfigSnapshot& snap) const;
  struct Change {
    sdk::PresenceState state;
    std::vector<Watcher> watchers;
  };
  // The new states of `keys` that changed (mutex_ held), then told to
  // their watchers (mutex_ released, notify_mutex_ held: in order).
  // A leg's new state from a calls.channel.* body (or a park event made one).
  void update_leg(const sdk::Event& e, bool ended);
  std::vector<Change> collect(const std::vector<std::string>& keys, const sdk::ConfigSnapshot& snap);
  void tell(const std::vector<Change>& changes);
  void refresh(const std::vector<std::string>& keys, const sdk::ConfigSnapshot& snap);
  void on_config(const sdk::ConfigSnapshot& snap);
  void unwatch(const std::string& key, std::uint64_t id);
  // The keys of watched onlinerec resources (mutex_ held).
  std::vector<std::string> online_recording_keys() const;
  // Forgets the recordings marked ended and sets the last state of `keys`
  // without telling anyone (they were told "terminated" already).
  void forget_ended_recordings(const std::vector<std::string>& keys, const sdk::ConfigSnapshot& snap);

  sdk::Logger& log_;
  ConfigFinder find_config_;
  // notify_mutex_ orders recomputation and callbacks (taken first);
  // mutex_ guards the tables below.
  mutable std::mutex notify_mutex_;
  mutable std::mutex mutex_;
  mutable std::mutex config_mutex_;
  mutable std::shared_ptr<sdk::ConfigService> config_;
  mutable std::unique_ptr<sdk::ConfigService::Watch> config_watch_;
  std::unordered_map<std::string, Leg> legs_;  // by channel id
  // interface -> channel ids (also "dialed/<code>" -> the callers' legs that dialed it)
  std::unordered_map<std::string, std::set<std::string>> legs_of_;
  std::set<std::string> registered_;  // interfaces ("sip/<line>") with a contact
  std::unordered_map<std::string, Entry> entries_;  // by resource key
  std::unordered_map<std::string, std::set<std::string>> watched_;  // interface -> entry keys
  std::map<std::string, std::pair<int, int>> mailboxes_;
  // Calls recorded online (*3), by recorded channel: the call's channels;
  // `ended` while their keys are told the recording stopped (terminated).
  struct OnlineRecording {
    std::vector<std::string> channels;
    bool ended = false;
  };
  std::map<std::string, OnlineRecording> online_recorded_;
  std::uint64_t next_watcher_ = 1;
  std::uint64_t version_ = 0;
  bool stopped_ = false;
  std::unique_ptr<sdk::Subscription> channel_events_;
  std::unique_ptr<sdk::Subscription> registration_events_;
  std::unique_ptr<sdk::Subscription> park_events_;
  std::unique_ptr<sdk::Subscription> recording_events_;
};

}  // namespace dialtone::kernel
