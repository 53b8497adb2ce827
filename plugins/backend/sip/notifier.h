// sdk::SipNotifier provided by backend.sip: provd's "synchronize" becomes an
// out-of-dialog NOTIFY (Event: check-sync...) to the phone's registered
// contacts, sent where its REGISTER came from.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include <dialtone/host.h>
#include <dialtone/provisioning.h>

#include "plugins/backend/sip/sip_stack.h"

namespace dialtone::plugins::backend::sip {

class StackNotifier final : public sdk::SipNotifier,
                            public std::enable_shared_from_this<StackNotifier> {
 public:
  // `send` hands the NOTIFY to the running stack; false when it is stopped.
  // The stack answers every NOTIFY it accepted (408 after its own timeout).
  using Send = std::function<bool(SipStack::NotifyTarget, std::function<void(SipStack::NotifyResult)>)>;
  StackNotifier(Send send, sdk::Logger& log) : send_(std::move(send)), log_(log) {}

  // Never waits: `done` runs once, on the SIP thread when the phone answers
  // (or at once, on the caller's thread, when the request is refused).
  void notify_check_sync(const sdk::SyncTarget& target, sdk::SyncDone done) override;

  // The plugin stops: NOTIFYs still unanswered fail with unavailable, later
  // calls too.
  void detach();

 private:
  void finish(std::uint64_t id, sdk::Status status);

  std::mutex mutex_;
  Send send_;
  sdk::Logger& log_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, sdk::SyncDone> pending_;
};

}  // namespace dialtone::plugins::backend::sip
