#include "plugins/backend/sip/nat.h"

#include <dialtone/text.h>

#include <algorithm>
#include <cctype>

namespace dialtone::plugins::backend::sip {

std::optional<NatMode> parse_nat_mode(std::string_view value) {
  std::string v = sdk::text::to_lower(value);
  v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
  if (v.empty() || v == "auto" || v.rfind("auto_force_rport", 0) == 0 || v == "auto_comedia")
    return NatMode::automatic;
  if (v == "yes" || v == "force_rport" || v.rfind("force_rport,", 0) == 0 || v == "comedia")
    return NatMode::source;
  if (v == "no" || v == "never") return NatMode::contact;
  return std::nullopt;
}

bool reach_at_source(NatMode mode, const std::string& sent_host, int sent_port,
                     const std::string& source_ip, int source_port) {
  switch (mode) {
    case NatMode::source:
      return true;
    case NatMode::contact:
      return false;
    case NatMode::automatic:
      break;
  }
  std::string host = sent_host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host != source_ip || (sent_port ? sent_port : 5060) != source_port;
}

}  // namespace dialtone::plugins::backend::sip
