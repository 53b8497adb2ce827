// sdk::SipNotifier provided by backend.sip: provd's "synchronize" becomes an
// out-of-dialog NOTIFY (Event: check-sync...) to the phone's registered
// contacts, sent where its REGISTER came from.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

#include <dialtone/host.h>
#include <dialtone/provisioning.h>

#include "plugins/backend/sip/sip_stack.h"

namespace dialtone::plugins::backend::sip {

class StackNotifier final : public sdk::SipNotifier {
 public:
  // `send` hands the NOTIFY to the running stack; false when it is stopped.
  using Send = std::function<bool(SipStack::NotifyTarget, std::function<void(SipStack::NotifyResult)>)>;
  StackNotifier(Send send, sdk::Logger& log, std::chrono::milliseconds wait)
      : send_(std::move(send)), log_(log), wait_(wait) {}

  // Blocks the calling thread (provd's worker) until every contact answered
  // or `wait` passed: ok on a 2xx, not_found when no contact matches.
  sdk::Status notify_check_sync(const sdk::SyncTarget& target) override;

  // The plugin stops: later calls fail with unavailable.
  void detach();

 private:
  std::mutex mutex_;
  Send send_;
  sdk::Logger& log_;
  std::chrono::milliseconds wait_;
};

}  // namespace dialtone::plugins::backend::sip
