// backend.sip: the plugin object. Glue between the SIP stack (sip_stack.h),
// the configuration snapshot (credentials, trunks), the store (locations),
// the Lua dialplan and the bus.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/calls.h>
#include <dialtone/config.h>
#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/options.h>
#include <dialtone/plugin.h>
#include <dialtone/store.h>

#include "plugins/backend/sip/sip_stack.h"

namespace dialtone::plugins::backend::sip {

// The option table (also the manifest's).
extern const sdk::OptionSpec kOptions[];

// Builds the stack configuration from validated options; fails naming the option.
sdk::Result<SipConfig> config_from_options(const sdk::Options& options);

class StackNotifier;
class SipChannelDriver;

class SipPlugin final : public sdk::Plugin, public SipBackend {
 public:
  explicit SipPlugin(sdk::Host& host);
  ~SipPlugin() override;

  sdk::Status configure(const sdk::Options& options) override;
  // The options marked kReloadable apply to what comes next (registrations,
  // new calls, challenges); calls in progress keep what they started with.
  // The kernel reports the others as needing a restart.
  bool supports_reload() const override { return true; }
  sdk::Status reload(const sdk::Options& options) override;
  sdk::Status start() override;
  void stop() override;

  // For tests and the admin: the bound SIP port and registration counts.
  int port() const { return stack_ ? stack_->port() : 0; }
  int tls_port() const { return stack_ ? stack_->tls_port() : 0; }
  std::size_t tcp_connections() const { return stack_ ? stack_->tcp_connections() : 0; }
  std::size_t contact_count(const std::string& aor) const {
    return stack_ ? stack_->contact_count(aor) : 0;
  }
  std::map<std::string, std::vector<std::string>> trunk_addresses() const {
    return stack_ ? stack_->trunk_addresses() : std::map<std::string, std::vector<std::string>>{};
  }
  std::vector<ContactReachability> reachability(const std::string& aor) const {
    return stack_ ? stack_->reachability(aor) : std::vector<ContactReachability>{};
  }
  std::size_t active_calls() const { return stack_ ? stack_->active_calls() : 0; }
  // Trunk registration states by trunk name ("registered", "failed", "pending").
  std::map<std::string, std::string> trunk_registrations() const {
    return stack_ ? stack_->registrations() : std::map<std::string, std::string>{};
  }
  RelayStats media_totals() const { return stack_ ? stack_->media_totals() : RelayStats{}; }
  std::size_t media_free_pairs() const { return stack_ ? stack_->media_free_pairs() : 0; }
  std::size_t subscriptions() const { return stack_ ? stack_->subscriptions() : 0; }
  // NOTIFYs of subscriptions: sent, answered 2xx.
  std::pair<std::uint64_t, std::uint64_t> notifies() const {
    return stack_ ? stack_->notifies() : std::pair<std::uint64_t, std::uint64_t>{};
  }
  SipStack::TransactionCounts transactions() const {
    return stack_ ? stack_->transactions() : SipStack::TransactionCounts{};
  }

 private:
  void find_credentials(const std::string& username,
                        std::function<void(std::optional<LineCredentials>, bool ok)> done) override;
  void route_call(const CallInfo& call, std::function<void(RouteDecision)> done) override;
  void bindings_changed(const std::string& aor, const std::vector<Binding>& bindings) override;
  void call_event(const std::string& call_id, const std::string& state, int status) override;
  void find_trunks(std::function<void(std::vector<TrunkInfo>, bool ok)> done) override;
  // Bad trunk and line options already reported (name and value): once
  // each. Touched on the SIP thread only.
  std::set<std::string> warned_options_;
  void find_registrations(std::function<void(std::vector<TrunkRegistration>, bool ok)> done) override;
  void registration_changed(const TrunkRegistration& trunk, bool registered, int status,
                            const std::string& detail) override;

  void reachability_changed(const ReachabilityChange& change) override;
  std::string leg_created(const LegInfo& leg) override;
  void leg_ids(const std::string& leg_id, const std::string& call_id, const std::string& local_tag,
               const std::string& remote_tag) override;
  void leg_event(const std::string& leg_id, LegState state, int status, const std::string& peer) override;
  void leg_transferred(const std::string& leg_id, bool attended, const std::string& exten,
                       const std::string& target_leg) override;
  void leg_held(const std::string& leg_id, bool held) override;
  sdk::Status leg_transfer_requested(const LegTransfer& transfer) override;
  sdk::Status leg_replace_requested(const std::string& leg_id, const std::string& replaced_leg) override;
  std::shared_ptr<sdk::media::MediaEngine> media_engine() override;
  std::string hold_music_class(const std::string& holder_leg, const std::string& held_leg) override;
  void leg_dtmf(const std::string& leg_id, char digit) override;
  bool leg_linked(const std::string& leg_id) override;
  std::shared_ptr<sdk::PresenceService> presence() override;
  // subscription_store.cc: subscriptions kept in sip_subscriptions.
  void subscription_saved(const SavedSubscription& saved) override;
  void subscription_refreshed(const std::string& call_id, const std::string& local_tag,
                              std::int64_t expires_at) override;
  void subscription_gone(const std::string& call_id, const std::string& local_tag) override;
  // This node's subscriptions of an earlier run, not expired, taken out of the store.
  std::vector<SavedSubscription> take_saved_subscriptions();
  // Queues a save, a refresh or a removal, and starts a flush unless one runs.
  enum class SubscriptionWrite { save, refresh, gone };
  void queue_subscription_write(SubscriptionWrite write, SavedSubscription sub);
  void flush_subscriptions();

  // call_legs.cc: the kernel's call core, when the host provides one.
  void attach_call_core();
  void detach_call_core();

  // plugin_services.cc: the SipNotifier service, the `provisioning` Lua
  // module and the reachability view.
  sdk::Status start_services();
  void stop_services();
  sdk::LuaReply reachability_lua(const std::string& username);

  std::shared_ptr<const sdk::ConfigSnapshot> config_snapshot() const;
  void flush_locations();
  struct Writes;
  static void write_locations_later(std::shared_ptr<Writes> writes, sdk::Executor* executor,
                                    sdk::Store* store, sdk::Logger* log, std::string node);
  static constexpr std::chrono::milliseconds kLocationBatch{50};
  sdk::Status export_lua();

  sdk::Host& host_;
  SipConfig config_;
  std::string dialplan_function_ = "route_call";  // under reload_mutex_ once started
  mutable std::mutex reload_mutex_;
  std::string dialplan_function() const {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    return dialplan_function_;
  }
  std::string node_;
  std::mutex stack_mutex_;  // stack_ is read by Lua host functions
  std::unique_ptr<SipStack> stack_;
  // api.confd's configuration: credentials, trunks and lines come from its
  // snapshot, read on the SIP and Lua threads without waiting.
  mutable std::mutex config_mutex_;
  std::shared_ptr<sdk::ConfigService> config_service_;
  std::unique_ptr<sdk::ConfigService::Watch> config_watch_;
  std::shared_ptr<StackNotifier> notifier_;
  std::shared_ptr<sdk::PresenceService> presence_;  // the kernel's, under config_mutex_
  // Set before the stack starts and cleared after it stops: read on the SIP thread.
  std::shared_ptr<sdk::CallCore> calls_;
  std::shared_ptr<SipChannelDriver> channel_driver_;
  std::unique_ptr<sdk::Subscription> unbridged_;  // calls.channel.unbridged: engine legs end with their peer

  // Location writes, batched: at most one transaction in flight, started
  // kLocationBatch after the first change it carries.
  struct Writes {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<Binding>> pending;
    bool in_flight = false;
    bool stopped = false;
    std::uint64_t timer = 0;  // the executor's timer of the next transaction (0: none)
  };
  std::shared_ptr<Writes> writes_ = std::make_shared<Writes>();
  // Subscription writes, in order, batched the same way.
  struct SubscriptionWrites {
    std::mutex mutex;
    std::vector<std::pair<SubscriptionWrite, SavedSubscription>> pending;
    bool in_flight = false;
    bool stopped = false;
  };
  std::shared_ptr<SubscriptionWrites> subscription_writes_ = std::make_shared<SubscriptionWrites>();
};

}  // namespace dialtone::plugins::backend::sip
