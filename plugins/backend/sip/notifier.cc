#include "plugins/backend/sip/notifier.h"

#include <utility>

namespace dialtone::plugins::backend::sip {

void StackNotifier::notify_check_sync(const sdk::SyncTarget& target, sdk::SyncDone done) {
  if (target.device_ip.empty() && target.sip_username.empty())
    return done(sdk::Error::invalid("check-sync: give the device's IP or SIP username"));
  if (target.event.empty() || target.event.find_first_of("\r\n") != std::string::npos)
    return done(sdk::Error::invalid("check-sync: bad Event value '" + target.event + "'"));
  const std::string who = target.device_ip.empty() ? target.sip_username : target.device_ip;
  const std::string event = target.event;
  std::uint64_t id = 0;
  Send send;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    send = send_;
    if (send) {
      id = next_id_++;
      pending_.emplace(id, std::move(done));
    }
  }
  if (!send) return done(sdk::Error::unavailable("check-sync: backend.sip is stopped"));
  // Sent outside the lock: the stack may answer at once, on this thread.
  std::weak_ptr<StackNotifier> self = weak_from_this();
  auto answer = [self, id, who, event](SipStack::NotifyResult r) {
    auto me = self.lock();
    if (!me) return;
    if (r.status / 100 == 2) {
      me->log_.info("sip: check-sync (" + event + ") accepted by " + r.detail);
      return me->finish(id, {});
    }
    if (r.status == 404) return me->finish(id, sdk::Error::not_found("check-sync: " + r.detail));
    if (r.status == 408)
      return me->finish(id, sdk::Error::timeout("check-sync: no answer from the phone at " + who +
                                                " (" + r.detail + ")"));
    me->finish(id, sdk::Error::unavailable("check-sync refused by the phone at " + who + ": " + r.detail));
  };
  if (!send({target.device_ip, target.sip_username, event}, std::move(answer)))
    finish(id, sdk::Error::unavailable("check-sync: backend.sip is stopped"));
}

void StackNotifier::finish(std::uint64_t id, sdk::Status status) {
  sdk::SyncDone done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // already answered (detach)
    done = std::move(it->second);
    pending_.erase(it);
  }
  done(std::move(status));
}

void StackNotifier::detach() {
  std::map<std::uint64_t, sdk::SyncDone> orphans;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    send_ = nullptr;
    orphans.swap(pending_);
  }
  for (auto& [_, done] : orphans) done(sdk::Error::unavailable("check-sync: backend.sip stopped before the phone answered"));
}

}  // namespace dialtone::plugins::backend::sip
