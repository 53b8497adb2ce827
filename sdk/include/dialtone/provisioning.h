// Phone provisioning: vendor plugins detect devices and render their config
// files; the provisioning service (plugin `provisioning.provd`) stores
// devices and configs, serves the files over HTTP and TFTP and asks the SIP
// backend to make phones re-fetch them.
//
// @code
//   class AcmeVendor final : public dialtone::sdk::ProvisioningVendor {
//    public:
//     std::string_view id() const override { return "provisioning.acme"; }
//     std::string_view vendor() const override { return "Acme"; }
//     std::string_view version() const override { return "1.0.0"; }
//     std::vector<dialtone::sdk::ModelInfo> models() const override {
//       return {{"A100", /*lines=*/2, /*function_keys=*/6}};
//     }
//     std::optional<dialtone::sdk::DeviceInfo> detect(
//         const dialtone::sdk::DeviceRequest& r) const override {
//       if (r.user_agent.rfind("Acme A100", 0) != 0) return std::nullopt;
//       return dialtone::sdk::DeviceInfo{"Acme", "A100", "", dialtone::sdk::mac_in(r.path)};
//     }
//     std::vector<dialtone::sdk::TemplateFile> templates() const override {
//       return {{"device.cfg", "user={{#lines}}{{username}}{{/lines}}\n"}};
//     }
//     dialtone::sdk::Result<std::vector<dialtone::sdk::ProvisioningFile>> files(
//         const dialtone::sdk::DeviceConfig& c,
//         const dialtone::sdk::TemplateRenderer& render) const override {
//       auto body = render.render("device.cfg", dialtone::sdk::standard_context(c));
//       if (!body) return body.error();
//       return std::vector<dialtone::sdk::ProvisioningFile>{
//           {"acme-" + dialtone::sdk::mac_plain(c.device.mac) + ".cfg", *body, /*sensitive=*/true}};
//     }
//   };
//   // in start():
//   host_.services().provide<dialtone::sdk::ProvisioningVendor>("acme", std::make_shared<AcmeVendor>());
// @endcode
//
// Vendor objects are called from provd's HTTP, TFTP and worker threads at
// once: every method must be const and thread-safe. They must not block.
// Templates are rendered by provd (mustache), which looks a name up in the
// admin's overrides first (device -> model -> vendor -> site, under provd's
// data directory) and falls back to the vendor's bundled templates().
#pragma once

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dialtone/result.h"
#include "dialtone/text.h"

namespace dialtone::sdk {

// What a phone sent: provd asks each vendor whether it recognises it.
struct DeviceRequest {
  enum class Protocol { http, tftp, dhcp };
  Protocol protocol = Protocol::http;
  std::string path;               // file requested, without the leading '/'
  std::string user_agent;         // HTTP User-Agent; empty for TFTP
  std::string remote_ip;
  std::string dhcp_vendor_class;  // DHCP option 60, when known
};

struct DeviceInfo {
  std::string vendor;   // "Yealink"
  std::string model;    // "T46S"
  std::string version;  // firmware version, "66.86.0.15"
  std::string mac;      // lower-case "00:15:65:aa:bb:cc", empty if unknown
};

struct ModelInfo {
  std::string name;
  int lines = 1;          // SIP accounts the model can register
  int function_keys = 0;  // programmable keys (BLF, speed dial...) without expansion modules
};

struct SipLine {
  int position = 1;  // 1-based line/account number on the phone
  std::string proxy_ip;
  int proxy_port = 5060;
  std::string backup_proxy_ip;
  std::string registrar_ip;  // empty: proxy_ip
  std::string username;
  std::string auth_username;  // empty: username
  std::string password;
  std::string display_name;
  std::string number;     // extension shown on the phone
  std::string voicemail;  // voicemail access number, e.g. "*98"
};

enum class FunctionKeyType { speed_dial, blf, park, forward };

inline const char* to_string(FunctionKeyType t) {
  switch (t) {
    case FunctionKeyType::speed_dial: return "speeddial";
    case FunctionKeyType::blf: return "blf";
    case FunctionKeyType::park: return "park";
    case FunctionKeyType::forward: return "forward";
  }
  return "speeddial";
}

struct FunctionKey {
  int position = 1;  // 1-based key number
  FunctionKeyType type = FunctionKeyType::speed_dial;
  std::string value;  // number, extension watched, park slot or forward code
  std::string label;
  int line = 1;  // the SIP line the key uses
};

// Everything a vendor needs to render one device's files. provd builds it
// from the device and its merged config (XiVO provd's raw_config).
struct DeviceConfig {
  std::string device_id;
  std::string config_id;
  DeviceInfo device;
  bool autoprov = false;  // the device waits for a provisioning code
  std::vector<SipLine> lines;
  std::vector<FunctionKey> function_keys;
  std::string timezone;    // IANA name, "Europe/Paris"
  std::string locale;      // "fr_FR"
  std::string ntp_server;  // empty: NTP off
  // "http://<phoned host>:9498/0.1/directories/input/default"; a vendor appends
  // its own view name (see directory_url()).
  std::string directory_base_url;
  std::string provisioning_url;  // "http://<provd host>:8667" for re-fetches
  std::string admin_username, admin_password;
  std::string user_username, user_password;
  std::string sip_transport = "udp";
  std::string dtmf_mode = "RTP-out-of-band";
  // XiVO's `exten_pickup_call`: the directed pickup code (confd's `pickup`
  // feature code, "*8"), which a BLF key dials before the extension it
  // watches when pressed while that line rings; empty: none.
  std::string pickup_code;
  // Config keys provd does not model (vendor-specific "X_..." keys), flattened
  // with dots: "X_yealink.ringtone".
  std::vector<std::pair<std::string, std::string>> extra;

  std::string directory_url(std::string_view view) const {
    if (directory_base_url.empty()) return {};
    return directory_base_url + "/" + std::string(view);
  }
  std::string extra_value(std::string_view key, std::string fallback = {}) const {
    for (auto& [k, v] : extra)
      if (k == key) return v;
    return fallback;
  }
};

struct ProvisioningFile {
  std::string path;              // as the phone requests it, no leading '/'
  std::string content;
  bool sensitive = false;        // holds a SIP or admin secret
  std::string content_type = "text/plain";
};

// A bundled template: the default the admin can override by name.
struct TemplateFile {
  std::string name;
  std::string content;
};

// Mustache context: text, boolean, list or object (ordered fields).
class TemplateData {
 public:
  enum class Kind { text, boolean, list, object };

  TemplateData() : kind_(Kind::object) {}
  TemplateData(std::string text) : kind_(Kind::text), text_(std::move(text)) {}
  TemplateData(const char* text) : kind_(Kind::text), text_(text) {}
  TemplateData(std::string_view text) : kind_(Kind::text), text_(text) {}
  TemplateData(int n) : kind_(Kind::text), text_(std::to_string(n)) {}
  static TemplateData boolean(bool b) {
    TemplateData d;
    d.kind_ = Kind::boolean;
    d.flag_ = b;
    return d;
  }
  static TemplateData list() {
    TemplateData d;
    d.kind_ = Kind::list;
    return d;
  }

  // Object: sets (or replaces) a field. Returns *this for chaining.
  TemplateData& set(std::string key, TemplateData value) {
    for (auto& f : fields_)
      if (f.first == key) {
        f.second = std::move(value);
        return *this;
      }
    fields_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  // List: appends an item.
  TemplateData& push(TemplateData value) {
    items_.push_back(std::move(value));
    return *this;
  }

  Kind kind() const { return kind_; }
  const std::string& text() const { return text_; }
  bool flag() const { return flag_; }
  const std::vector<TemplateData>& items() const { return items_; }
  const std::vector<std::pair<std::string, TemplateData>>& fields() const { return fields_; }
  const TemplateData* find(std::string_view key) const {
    for (auto& f : fields_)
      if (f.first == key) return &f.second;
    return nullptr;
  }

 private:
  Kind kind_;
  std::string text_;
  bool flag_ = false;
  std::vector<TemplateData> items_;
  std::vector<std::pair<std::string, TemplateData>> fields_;
};

// How `{{value}}` is escaped. xml: & < > " ' become entities. text: line
// breaks and other control characters become spaces, so a value cannot add
// a key to a `key = value` file. `{{{value}}}` is never escaped.
enum class Escape { text, xml };

// Given by provd to ProvisioningVendor::files(), scoped to one device.
class TemplateRenderer {
 public:
  virtual ~TemplateRenderer() = default;
  // Renders the template `name` (admin override or bundled) with `context`.
  // Other templates are available as mustache partials: {{> name}}.
  // Error: unknown template or a template that does not parse.
  virtual Result<std::string> render(std::string_view name, const TemplateData& context,
                                     Escape escape = Escape::text) const = 0;
};

// How provd treats the devices assigned to a vendor plugin.
enum class ServePolicy {
  configure,  // render and serve files()
  refuse,     // serve nothing: 404 for its devices (the "null" plugin)
};

class ProvisioningVendor {
 public:
  static constexpr std::string_view kServiceName = "provisioning.vendor";
  static constexpr int kServiceVersion = 1;
  virtual ~ProvisioningVendor() = default;

  virtual std::string_view id() const = 0;       // plugin id, "provisioning.yealink"
  virtual std::string_view vendor() const = 0;   // "Yealink"
  virtual std::string_view version() const = 0;  // the plugin's version
  virtual std::vector<ModelInfo> models() const = 0;

  // Recognises a request (User-Agent, TFTP file name, MAC in the path, DHCP
  // vendor class). Fill what the request tells; an empty model or MAC is fine.
  virtual std::optional<DeviceInfo> detect(const DeviceRequest& request) const = 0;

  virtual std::vector<TemplateFile> templates() const = 0;

  // The device's files. Common files (e.g. Yealink's y000000000028.cfg) are
  // listed too; provd serves the right one for the requested path.
  virtual Result<std::vector<ProvisioningFile>> files(const DeviceConfig& config,
                                                      const TemplateRenderer& renderer) const = 0;

  // Adjusts the config used while the device is in autoprov mode (no user
  // yet). provd's default gives one line registered as the autoprov guest.
  virtual DeviceConfig autoprov_config(DeviceConfig base) const { return base; }

  // The SIP NOTIFY Event header that makes the phone re-fetch its files,
  // e.g. "check-sync;reboot=false"; nullopt if the phone has none.
  virtual std::optional<std::string> sync_event(const DeviceInfo& /*device*/) const {
    return std::string("check-sync");
  }

  virtual ServePolicy policy() const { return ServePolicy::configure; }
};

// Provided by the SIP backend: sends an out-of-dialog NOTIFY to a registered
// phone so that it re-fetches its configuration.
struct SyncTarget {
  std::string device_ip;
  std::string sip_username;  // the device's first line; empty: by IP only
  std::string event;         // ProvisioningVendor::sync_event()
};

// Called once with the phone's answer: ok on a 2xx, not_found when no
// registered contact matches the target, timeout when the phone does not
// answer, unavailable when the backend stopped.
using SyncDone = std::function<void(Status)>;

class SipNotifier {
 public:
  static constexpr std::string_view kServiceName = "provisioning.sip_notifier";
  // 2: asynchronous (version 1 blocked its caller until the phone answered).
  static constexpr int kServiceVersion = 2;
  virtual ~SipNotifier() = default;
  // Sends the NOTIFY and returns at once; `done` runs on the backend's
  // thread when the answer comes (or at once, on the caller's thread, when
  // the request is refused). It must not block.
  virtual void notify_check_sync(const SyncTarget& target, SyncDone done) = 0;
};

// Provided by provd to the SIP backend and the dialplan (provisioning code,
// *48378 reset to autoprov).
class ProvisioningService {
 public:
  static constexpr std::string_view kServiceName = "provisioning.service";
  static constexpr int kServiceVersion = 1;
  virtual ~ProvisioningService() = default;

  // The device known at `ip`; not_found otherwise.
  virtual Result<std::string> device_for_ip(std::string_view ip) = 0;
  // Assigns `config_id` (a line's config, created by the configuration API)
  // to the device, regenerates its files and synchronizes it.
  virtual Status assign_config(std::string_view device_id, std::string_view config_id) = 0;
  // Back to the autoprov config, regenerates and synchronizes.
  virtual Status reset_to_autoprov(std::string_view device_id) = 0;
};

// "00:15:65:AA:BB:CC", "001565aabbcc", "00-15-65-aa-bb-cc" -> "00:15:65:aa:bb:cc";
// empty if `s` is not a MAC.
inline std::string normalize_mac(std::string_view s) {
  std::string hex;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c)))
      hex += text::to_lower(c);
    else if (c != ':' && c != '-' && c != '.')
      return {};
  }
  if (hex.size() != 12) return {};
  std::string out;
  for (int i = 0; i < 6; ++i) {
    if (i) out += ':';
    out += hex.substr(i * 2, 2);
  }
  return out;
}

// "00:15:65:aa:bb:cc" -> "001565aabbcc" (upper-case when asked).
inline std::string mac_plain(std::string_view mac, bool upper = false) {
  std::string out;
  for (char c : mac)
    if (c != ':')
      out += upper ? text::to_upper(c) : text::to_lower(c);
  return out;
}

// The first run of 12 hex digits in `text` that is not the all-zero MAC,
// normalized; empty if none.
inline std::string mac_in(std::string_view text) {
  std::size_t run = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    bool hex = i < text.size() && std::isxdigit(static_cast<unsigned char>(text[i]));
    if (hex) {
      ++run;
      continue;
    }
    if (run == 12) {
      auto m = normalize_mac(text.substr(i - 12, 12));
      if (m != "00:00:00:00:00:00") return m;
    }
    run = 0;
  }
  return {};
}

// The context every bundled template uses: lines, function keys and settings.
// Vendors add their own keys on top (key codes, time zone names...).
inline TemplateData standard_context(const DeviceConfig& c) {
  TemplateData d;
  d.set("vendor", c.device.vendor).set("model", c.device.model).set("mac", c.device.mac);
  d.set("mac_plain", mac_plain(c.device.mac)).set("MAC_PLAIN", mac_plain(c.device.mac, true));
  d.set("autoprov", TemplateData::boolean(c.autoprov));
  auto lines = TemplateData::list();
  for (auto& l : c.lines) {
    TemplateData x;
    x.set("position", l.position).set("index0", l.position - 1);
    x.set("proxy_ip", l.proxy_ip).set("proxy_port", l.proxy_port);
    x.set("registrar_ip", l.registrar_ip.empty() ? l.proxy_ip : l.registrar_ip);
    x.set("backup_proxy_ip", l.backup_proxy_ip);
    x.set("has_backup_proxy", TemplateData::boolean(!l.backup_proxy_ip.empty()));
    x.set("username", l.username);
    x.set("auth_username", l.auth_username.empty() ? l.username : l.auth_username);
    x.set("password", l.password).set("display_name", l.display_name);
    x.set("number", l.number.empty() ? l.username : l.number).set("voicemail", l.voicemail);
    lines.push(std::move(x));
  }
  d.set("lines", std::move(lines));
  d.set("has_lines", TemplateData::boolean(!c.lines.empty()));
  auto keys = TemplateData::list();
  for (auto& k : c.function_keys) {
    TemplateData x;
    x.set("position", k.position).set("index0", k.position - 1).set("type", to_string(k.type));
    x.set("value", k.value).set("label", k.label).set("line", k.line);
    x.set("is_blf", TemplateData::boolean(k.type == FunctionKeyType::blf));
    x.set("is_speed_dial", TemplateData::boolean(k.type == FunctionKeyType::speed_dial));
    x.set("is_park", TemplateData::boolean(k.type == FunctionKeyType::park));
    x.set("is_forward", TemplateData::boolean(k.type == FunctionKeyType::forward));
    keys.push(std::move(x));
  }
  d.set("function_keys", std::move(keys));
  d.set("timezone", c.timezone).set("locale", c.locale);
  d.set("language", c.locale.substr(0, 2));
  d.set("ntp_server", c.ntp_server).set("ntp_enabled", TemplateData::boolean(!c.ntp_server.empty()));
  d.set("provisioning_url", c.provisioning_url);
  d.set("admin_username", c.admin_username).set("admin_password", c.admin_password);
  d.set("user_username", c.user_username).set("user_password", c.user_password);
  d.set("sip_transport", c.sip_transport).set("dtmf_mode", c.dtmf_mode);
  d.set("exten_pickup_call", c.pickup_code).set("has_pickup_call", TemplateData::boolean(!c.pickup_code.empty()));
  return d;
}

}  // namespace dialtone::sdk
