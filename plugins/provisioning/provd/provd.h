// provisioning.provd: devices and configs in PostgreSQL, files rendered by
// the vendor plugins (sdk::ProvisioningVendor) and served to phones over
// HTTP ("provd_phones") and TFTP, and XiVO provd's REST API ("provd").
//
// @code
//   ProvdSettings s;                       // from conf.d, see plugin.cc
//   Provd provd(host, *host.store(), *host.http(), s);
//   if (auto st = provd.start(); !st) return st;   // migrations, defaults, routes, TFTP
//   auto answer = provd.serve({.protocol = sdk::DeviceRequest::Protocol::tftp,
//                              .path = "001565aabbcc.cfg", .remote_ip = "10.0.0.7"});
// @endcode
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/http.h>
#include <dialtone/provisioning.h>
#include <dialtone/store.h>

#include "plugins/provisioning/provd/template_store.h"

namespace dialtone::plugins::provisioning {

class TftpServer;

struct ProvdSettings {
  std::string phones_host = "127.0.0.1";  // the address phones use to reach provd
  int phones_port = 8667;
  std::string phoned_host;  // empty: phones_host
  int phoned_port = 9498;
  std::string sip_proxy;  // empty: phones_host
  int sip_port = 5060;
  bool nat = false;
  std::string locale = "en_US";
  std::string timezone = "UTC";
  std::string ntp_server;
  bool tftp_enabled = true;
  std::string tftp_host = "0.0.0.0";
  int tftp_port = 69;
  int tftp_max_transfers = 32;
  // Unknown-device requests allowed per address per window before 429.
  int unknown_limit = 30;
  std::chrono::milliseconds unknown_window{60000};
  std::chrono::milliseconds template_check{5000};
  std::filesystem::path templates_dir;  // empty: <data_dir>/templates
  std::filesystem::path static_dir;     // empty: <data_dir>/static
  std::filesystem::path plugin_repository;  // pg_mgr install source; empty: disabled
  std::filesystem::path plugin_dir;         // pg_mgr install target
};

struct Device {
  std::string id, mac, ip, vendor, model, version, plugin, config, description;
  std::string added = "auto";  // auto | manual
  bool configured = false;
};

struct PhoneAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain";
};

class Provd final : public sdk::ProvisioningService {
 public:
  Provd(sdk::Host& host, sdk::Store& store, sdk::HttpServer* http, ProvdSettings settings);
  ~Provd() override;

  sdk::Status start();
  void stop();

  // One phone request, from HTTP or TFTP.
  PhoneAnswer serve(const sdk::DeviceRequest& request);

  // Re-renders every device's files now; returns how many devices rendered.
  std::size_t regenerate_all();
  // Drops cached files when the template tree changed; true if it did.
  bool check_templates();
  TemplateStore& templates() { return templates_; }
  int tftp_port() const;

  // Files of a device as rendered now (the preview API); error names the cause.
  sdk::Result<std::vector<sdk::ProvisioningFile>> preview(const std::string& device_id);

  std::optional<Device> device(const std::string& id) const;
  std::vector<Device> devices() const;
  sdk::Result<std::string> add_device(Device d);
  // A device found by a request or a DHCP lease, bound to the autoprov
  // config; `info` (what the vendor recognised) may be absent for a lease.
  static Device discovered_device(const std::string& mac, const std::string& ip, bool nat,
                                  const std::optional<sdk::DeviceInfo>& info, const std::string& vendor_id);
  sdk::Status update_device(const Device& d);
  sdk::Status remove_device(const std::string& id);

  // Configs: raw_config is a JSON object.
  struct Config {
    std::string id;
    std::vector<std::string> parent_ids;
    std::string raw_config = "{}";
    bool deletable = true;
    std::string role;
    std::string extra = "{}";  // the other top-level fields, a JSON object kept as given
  };
  sdk::Result<std::string> add_config(Config c);
  sdk::Status update_config(const Config& c);
  sdk::Status remove_config(const std::string& id);
  std::optional<Config> config(const std::string& id) const;
  std::vector<Config> configs() const;
  // The config merged with its ancestors (parents first), as JSON.
  sdk::Result<std::string> raw_config(const std::string& id) const;

  // sdk::ProvisioningService
  sdk::Result<std::string> device_for_ip(std::string_view ip) override;
  sdk::Status assign_config(std::string_view device_id, std::string_view config_id) override;
  sdk::Status reset_to_autoprov(std::string_view device_id) override;

  // Asks the SIP backend to make the device re-fetch its files. Never waits:
  // `done` runs once with the phone's answer, on the SIP backend's thread (or
  // at once when the request cannot be sent).
  void synchronize(const std::string& device_id, sdk::SyncDone done);

  // Brings the configs of the devices confd's lines point to (confd_lines.
  // device_id = provd device id; config id = device id, role "confd") in line
  // with the configuration API, and sends back to autoprov the devices no line
  // points to. Returns how many devices were regenerated. start() runs it on
  // the executor at start-up and on every relevant `config.#` event or
  // NOTIFY dialtone_config; callable directly too.
  sdk::Result<std::size_t> sync_from_confd();

  // DHCP lease information (POST /provd/dev_mgr/dhcpinfo): `op` commit adds or
  // updates the device with `mac` (vendor from option 60 when a vendor plugin
  // recognises it); expiry and release forget the address. `options` are
  // XiVO's "<code:3 digits><hex bytes joined by '.'>" strings.
  struct DhcpInfo {
    std::string op, ip, mac;
    std::vector<std::string> options;
  };
  sdk::Status dhcp_info(const DhcpInfo& info);

  static constexpr const char* kConfdRole = "confd";

 private:
  struct Rendered {
    sdk::Status status;
    std::vector<sdk::ProvisioningFile> files;
  };
  using RenderedPtr = std::shared_ptr<const Rendered>;

  sdk::Status load();
  sdk::Status ensure_default_configs();
  void mount_phone_routes();
  void mount_rest_routes();
  void mount_confd_device_routes();  // confd_devices.cc: /1.1/devices on "confd"
  void open_to_loopback(sdk::Route& route);
  void schedule_template_check();
  void watch_confd();
  void unwatch_confd();
  void regenerate(const std::string& device_id);

  std::shared_ptr<sdk::ProvisioningVendor> vendor(const std::string& id) const;
  std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest& r, std::string* vendor_id);
  RenderedPtr rendered(const Device& d);
  RenderedPtr render(const Device& d);
  sdk::Result<sdk::DeviceConfig> device_config(const Device& d) const;
  void invalidate(const std::string& device_id);
  void invalidate_all();
  bool rate_limited(const std::string& ip);
  sdk::Status persist(const Device& d, bool insert);
  PhoneAnswer static_file(const std::string& path) const;

  // REST helpers (rest.cc).
  sdk::HttpResponse rest_devices_list(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_device_create(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_device_get(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_device_put(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_device_delete(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_reconfigure(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_synchronize(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_operation(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_operation_delete(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_plugins_installed(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_plugins_installable(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_plugin_get(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_plugin_reload(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_preview(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_configs_list(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_config_create(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_config_get(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_config_put(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_config_delete(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_config_raw(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_autocreate(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_plugins(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_plugin_info(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_plugin_install(const sdk::HttpRequest& r, const std::string& action);
  sdk::HttpResponse rest_configure_list(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_configure_get(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_configure_put(const sdk::HttpRequest& r);
  sdk::HttpResponse rest_dhcpinfo(const sdk::HttpRequest& r);

  sdk::Host& host_;
  sdk::Store& store_;
  sdk::HttpServer* http_;
  ProvdSettings settings_;
  TemplateStore templates_;
  std::unique_ptr<TftpServer> tftp_;

  mutable std::mutex mutex_;  // devices_, configs_, indexes, params_
  std::map<std::string, Device> devices_;
  std::map<std::string, std::string> by_mac_;
  std::map<std::string, std::string> by_ip_;
  std::map<std::string, Config> configs_;
  std::map<std::string, std::string> params_;  // configure service: NAT, locale...

  std::mutex cache_mutex_;
  std::map<std::string, RenderedPtr> cache_;

  std::mutex rate_mutex_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> unknown_;

  // Answers that arrive after this object is gone are dropped.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::mutex ops_mutex_;
  std::map<std::string, std::string> operations_;  // id -> status JSON
  std::uint64_t next_op_ = 1;

  // Configuration API sync: events coalesce into one pending run; the guard
  // keeps a queued run from touching a stopped Provd.
  struct SyncGuard {
    std::mutex mutex;
    bool alive = true;
    std::atomic<bool> pending{false};
  };
  std::shared_ptr<SyncGuard> sync_guard_ = std::make_shared<SyncGuard>();
  std::mutex sync_mutex_;
  std::set<std::string> unknown_confd_devices_;  // warned once each
  std::unique_ptr<sdk::Subscription> confd_bus_, confd_listen_;

  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> timer_{0};
};

}  // namespace dialtone::plugins::provisioning
