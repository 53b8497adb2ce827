// Reload of backend.sip's options (SIGHUP or the kernel's reload API): the
// options declared kReloadable in sip_plugin.cc reach the running stack.
#include "plugins/backend/sip/sip_plugin.h"

namespace dialtone::plugins::backend::sip {

sdk::Status SipPlugin::reload(const sdk::Options& options) {
  // The same checks as at start: a bad value leaves everything as it was.
  auto c = config_from_options(options);
  if (!c) return c.error();
  {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    dialplan_function_ = options.get("dialplan.function", "route_call");
  }
  std::lock_guard<std::mutex> lock(stack_mutex_);
  if (stack_) stack_->reconfigure(*c);
  return {};
}

}  // namespace dialtone::plugins::backend::sip
