// backend.sip's services to other plugins and the dialplan: the SipNotifier
// (provisioning synchronize), the `provisioning` Lua module (autoprov) and
// reachability events and lookups (OPTIONS qualify).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dialtone/bus.h>
#include <dialtone/services.h>

#include "plugins/backend/sip/autoprov.h"
#include "plugins/backend/sip/notifier.h"
#include "plugins/backend/sip/sip_plugin.h"

namespace dialtone::plugins::backend::sip {

sdk::Status SipPlugin::start_services() {
  notifier_ = std::make_shared<StackNotifier>(
      [this](SipStack::NotifyTarget t, std::function<void(SipStack::NotifyResult)> done) {
        std::lock_guard<std::mutex> lock(stack_mutex_);
        if (!stack_) return false;
        stack_->notify(std::move(t), std::move(done));
        return true;
      },
      host_.log(), config_.notify_timeout + std::chrono::seconds(2));
  return host_.services().provide<sdk::SipNotifier>("sip", notifier_);
}

void SipPlugin::stop_services() {
  if (!notifier_) return;
  host_.services().withdraw<sdk::SipNotifier>("sip");
  notifier_->detach();
  notifier_.reset();
}

void SipPlugin::reachability_changed(const ReachabilityChange& change) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto& c = change.now;
  w.StartObject();
  w.Key("aor");
  w.String(c.aor.c_str());
  w.Key("contact");
  w.String(c.contact.c_str());
  w.Key("received");
  w.String(c.received.c_str());
  w.Key("state");
  w.String(to_string(c.state));
  w.Key("previous");
  w.String(to_string(change.previous));
  w.Key("rtt_ms");
  if (c.rtt_ms >= 0) w.Int(c.rtt_ms);
  else w.Null();
  w.EndObject();
  // Trunks are qualified under the AOR "trunk:<name>" and reported with the
  // trunk's other events.
  if (c.aor.rfind("trunk:", 0) == 0) {
    std::string name = c.aor.substr(6);
    if (c.state == Reachability::unreachable)
      host_.log().warn("sip: trunk " + name + " (" + c.contact +
                       ") does not answer OPTIONS; outgoing routes skip it until it does");
    if (c.state == Reachability::reachable || c.state == Reachability::unreachable)
      host_.bus().publish("sip.trunk." + name + "." + to_string(c.state), sb.GetString());
    return;
  }
  host_.bus().publish("sip.reachability." + c.aor, sb.GetString());
}

sdk::LuaReply SipPlugin::reachability_lua(const std::string& username) {
  std::vector<ContactReachability> list;
  {
    std::lock_guard<std::mutex> lock(stack_mutex_);
    if (stack_) list = stack_->reachability(username);
  }
  auto t = std::make_shared<sdk::LuaTable>();
  for (auto& c : list) {
    auto e = std::make_shared<sdk::LuaTable>();
    e->fields["contact"] = c.contact;
    e->fields["state"] = std::string(to_string(c.state));
    if (c.rtt_ms >= 0) e->fields["rtt_ms"] = c.rtt_ms;
    t->array.emplace_back(e);
  }
  return sdk::LuaReply(sdk::LuaValues{t});
}

}  // namespace dialtone::plugins::backend::sip
