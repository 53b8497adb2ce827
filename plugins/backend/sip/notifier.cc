#include "plugins/backend/sip/notifier.h"

#include <future>
#include <memory>

namespace dialtone::plugins::backend::sip {

sdk::Status StackNotifier::notify_check_sync(const sdk::SyncTarget& target) {
  if (target.device_ip.empty() && target.sip_username.empty())
    return sdk::Error::invalid("check-sync: give the device's IP or SIP username");
  if (target.event.empty() || target.event.find_first_of("\r\n") != std::string::npos)
    return sdk::Error::invalid("check-sync: bad Event value '" + target.event + "'");
  auto promise = std::make_shared<std::promise<SipStack::NotifyResult>>();
  auto future = promise->get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bool sent = send_ && send_({target.device_ip, target.sip_username, target.event},
                               [promise](SipStack::NotifyResult r) { promise->set_value(std::move(r)); });
    if (!sent) return sdk::Error::unavailable("check-sync: backend.sip is stopped");
  }
  std::string who = target.device_ip.empty() ? target.sip_username : target.device_ip;
  if (future.wait_for(wait_) != std::future_status::ready)
    return sdk::Error::timeout("check-sync: no answer from the phone at " + who);
  auto r = future.get();
  if (r.status / 100 == 2) {
    log_.info("sip: check-sync (" + target.event + ") accepted by " + r.detail);
    return {};
  }
  if (r.status == 404) return sdk::Error::not_found("check-sync: " + r.detail);
  if (r.status == 408)
    return sdk::Error::timeout("check-sync: no answer from the phone at " + who + " (" + r.detail + ")");
  return sdk::Error::unavailable("check-sync refused by the phone at " + who + ": " + r.detail);
}

void StackNotifier::detach() {
  std::lock_guard<std::mutex> lock(mutex_);
  send_ = nullptr;
}

}  // namespace dialtone::plugins::backend::sip
