#include "plugins/provisioning/provd/provd_plugin.h"

#include <cstdlib>

#include <dialtone/services.h>

#include "plugins/provisioning/provd/autoprov_lua.h"

namespace dialtone::plugins::provisioning {

const sdk::OptionSpec kOptions[] = {
    {"phones.host", sdk::OptionType::string, "127.0.0.1",
     "address the phones use to reach Dialtone (provisioning, SIP proxy, directories)"},
    {"phones.http_port", sdk::OptionType::integer, "8667", "port of the provd_phones listener, as phones see it",
     sdk::kNone, nullptr, 1, 65535},
    {"phones.phoned_host", sdk::OptionType::string, "", "phone directory host; empty: phones.host"},
    {"phones.phoned_port", sdk::OptionType::integer, "9498", "phone directory port", sdk::kNone, nullptr, 1, 65535},
    {"phones.sip_proxy", sdk::OptionType::string, "", "SIP proxy given to phones; empty: phones.host"},
    {"phones.sip_port", sdk::OptionType::integer, "5060", "SIP port given to phones", sdk::kNone, nullptr, 1, 65535},
    {"phones.nat", sdk::OptionType::boolean, "false",
     "all phones are behind NAT: do not keep one device per source address"},
    {"phones.locale", sdk::OptionType::string, "en_US", "default locale of the phones"},
    {"phones.timezone", sdk::OptionType::string, "UTC", "default time zone (IANA name)"},
    {"phones.ntp_server", sdk::OptionType::string, "", "NTP server given to phones; empty: NTP off"},
    {"tftp.enabled", sdk::OptionType::boolean, "true", "serve the files over TFTP too"},
    {"tftp.listen", sdk::OptionType::address, "127.0.0.1:69", "TFTP address (IPv4) and port; 0.0.0.0:69 to serve phones on the LAN"},
    {"tftp.max_transfers", sdk::OptionType::integer, "32", "concurrent TFTP transfers", sdk::kNone, nullptr, 1, 1024},
    {"security.unknown_limit", sdk::OptionType::integer, "30",
     "requests for unknown devices allowed per address and window before 429", sdk::kNone, nullptr, 1, 1000000},
    {"security.unknown_window", sdk::OptionType::duration, "60s", "window of security.unknown_limit"},
    {"templates.dir", sdk::OptionType::path, "", "custom templates; empty: <data_dir>/plugins/provisioning.provd/templates"},
    {"templates.check_interval", sdk::OptionType::duration, "5s",
     "how often template changes are looked for (0: never)"},
    {"static.dir", sdk::OptionType::path, "", "firmware and other static files; empty: <plugin data dir>/static"},
    {"pg_mgr.repository", sdk::OptionType::path, "", "folder of vendor plugin .so files pg_mgr installs from"},
    {"pg_mgr.plugin_dir", sdk::OptionType::path, "", "folder pg_mgr installs vendor plugins into (dialtoned's plugin_dir)"},
    {}};

sdk::Status ProvdPlugin::configure(const sdk::Options& o) {
  s_.phones_host = o.get("phones.host", "127.0.0.1");
  s_.phones_port = static_cast<int>(o.get_int("phones.http_port", 8667));
  s_.phoned_host = o.get("phones.phoned_host");
  s_.phoned_port = static_cast<int>(o.get_int("phones.phoned_port", 9498));
  s_.sip_proxy = o.get("phones.sip_proxy");
  s_.sip_port = static_cast<int>(o.get_int("phones.sip_port", 5060));
  s_.nat = o.get_bool("phones.nat");
  s_.locale = o.get("phones.locale", "en_US");
  s_.timezone = o.get("phones.timezone", "UTC");
  s_.ntp_server = o.get("phones.ntp_server");
  s_.tftp_enabled = o.get_bool("tftp.enabled", true);
  auto listen = o.get("tftp.listen", "127.0.0.1:69");
  auto colon = listen.rfind(':');
  s_.tftp_host = colon == std::string::npos ? listen : listen.substr(0, colon);
  s_.tftp_port = colon == std::string::npos ? 69 : std::atoi(listen.substr(colon + 1).c_str());
  s_.tftp_max_transfers = static_cast<int>(o.get_int("tftp.max_transfers", 32));
  s_.unknown_limit = static_cast<int>(o.get_int("security.unknown_limit", 30));
  s_.unknown_window = o.get_duration("security.unknown_window", std::chrono::milliseconds(60000));
  s_.template_check = o.get_duration("templates.check_interval", std::chrono::milliseconds(5000));
  s_.templates_dir = o.get("templates.dir");
  s_.static_dir = o.get("static.dir");
  s_.plugin_repository = o.get("pg_mgr.repository");
  s_.plugin_dir = o.get("pg_mgr.plugin_dir");
  return {};
}

sdk::Status ProvdPlugin::start() {
  auto* store = host_.store();
  if (!store)
    return sdk::Error::unavailable(
        "provisioning.provd needs the database: set [store] dsn in conf.d/00-kernel.conf or let "
        "dialtoned run its own cluster");
  provd_ = std::make_shared<Provd>(host_, *store, host_.http(), s_);
  if (auto s = provd_->start(); !s) {
    if (auto* http = host_.http()) http->unmount_all(host_.plugin_id());
    provd_.reset();
    return s;
  }
  // The functions find provd and the configuration through the registry at
  // each call, so the module exported by an earlier start stays right.
  if (auto s = export_autoprov_lua(host_); !s && s.error().code != sdk::ErrorCode::conflict) return s;
  return host_.services().provide<sdk::ProvisioningService>("provd", provd_);
}

void ProvdPlugin::stop() {
  if (!provd_) return;
  host_.services().withdraw<sdk::ProvisioningService>("provd");
  if (auto* http = host_.http()) http->unmount_all(host_.plugin_id());
  provd_->stop();
  provd_.reset();
}

}  // namespace dialtone::plugins::provisioning
