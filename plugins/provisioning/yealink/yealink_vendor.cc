#include "plugins/provisioning/yealink/yealink_vendor.h"

#include <cstdio>

#include "plugins/provisioning/common/vendor_util.h"

namespace dialtone::plugins::provisioning {
namespace {

struct Model {
  const char* name;
  int lines;
  int keys;
  int code;  // the digits of y0000000000<code>.cfg
};

constexpr Model kModels[] = {
    {"T19P_E2", 1, 0, 53}, {"T21P_E2", 2, 0, 52}, {"T23G", 3, 3, 44}, {"T27G", 6, 21, 69},
    {"T29G", 16, 27, 46}, {"T40P", 3, 3, 54}, {"T41S", 6, 15, 68}, {"T42S", 12, 15, 67},
    {"T46G", 6, 27, 28}, {"T46S", 16, 27, 66}, {"T48G", 6, 29, 35}, {"T48S", 16, 29, 65},
    {"T53W", 12, 21, 95}, {"T54W", 16, 27, 96}, {"T57W", 16, 29, 97}, {"T58", 16, 27, 58},
};

constexpr const char* kOuis[] = {"00:15:65", "80:5e:c0", "80:5e:0c", "24:9a:d8", "44:db:d2"};

const Model* model_by_name(std::string_view n) {
  for (auto& m : kModels)
    if (std::string_view(m.name).size() == n.size() && ifind(m.name, n) == 0) return &m;
  return nullptr;
}

const Model* model_by_code(int code) {
  for (auto& m : kModels)
    if (m.code == code) return &m;
  return nullptr;
}

bool yealink_mac(const std::string& mac) {
  for (auto* o : kOuis)
    if (mac.rfind(o, 0) == 0) return true;
  return false;
}

int key_type(sdk::FunctionKeyType t) {
  switch (t) {
    case sdk::FunctionKeyType::blf: return 16;
    case sdk::FunctionKeyType::park: return 10;
    case sdk::FunctionKeyType::speed_dial:
    case sdk::FunctionKeyType::forward: return 13;
  }
  return 13;
}

std::string language(std::string_view locale) {
  auto l = locale.substr(0, 2);
  if (l == "fr") return "French";
  if (l == "de") return "German";
  if (l == "es") return "Spanish";
  if (l == "it") return "Italian";
  if (l == "nl") return "Dutch";
  if (l == "pt") return "Portuguese";
  return "English";
}

// Yealink's local_time.time_zone: "+1", "-5", "+5:30".
std::string tz(std::string_view iana) {
  int m = utc_offset_minutes(iana).value_or(0);
  char buf[16];
  int a = m < 0 ? -m : m;
  if (a % 60)
    std::snprintf(buf, sizeof buf, "%c%d:%02d", m < 0 ? '-' : '+', a / 60, a % 60);
  else
    std::snprintf(buf, sizeof buf, "%c%d", m < 0 ? '-' : '+', a / 60);
  return buf;
}

constexpr const char* kCommon = R"(#!version:1.0.0.1
## Common settings for every Yealink {{model}}: no secrets here.
static.auto_provision.server.url = {{provisioning_url}}
static.auto_provision.power_on = 1
sip.notify_reboot_enable = 0
features.dnd.enable = 1
{{> yealink-custom-common}}
)";

constexpr const char* kDevice = R"(#!version:1.0.0.1
## Device {{mac}}{{#autoprov}} (autoprov mode){{/autoprov}}
{{#lines}}
account.{{position}}.enable = 1
account.{{position}}.label = {{number}}
account.{{position}}.display_name = {{display_name}}
account.{{position}}.auth_name = {{auth_username}}
account.{{position}}.user_name = {{username}}
account.{{position}}.password = {{password}}
account.{{position}}.sip_server.1.address = {{proxy_ip}}
account.{{position}}.sip_server.1.port = {{proxy_port}}
{{#has_backup_proxy}}
account.{{position}}.sip_server.2.address = {{backup_proxy_ip}}
account.{{position}}.sip_server.2.port = {{proxy_port}}
{{/has_backup_proxy}}
account.{{position}}.sip_server.1.transport_type = {{yealink_transport}}
voice_mail.number.{{position}} = {{voicemail}}
{{/lines}}
{{#function_keys}}
linekey.{{position}}.type = {{yealink_type}}
linekey.{{position}}.value = {{value}}
linekey.{{position}}.label = {{label}}
linekey.{{position}}.line = {{line}}
{{/function_keys}}
local_time.time_zone = {{yealink_tz}}
local_time.time_zone_name = {{timezone}}
{{#ntp_enabled}}
local_time.ntp_server1 = {{ntp_server}}
{{/ntp_enabled}}
lang.gui = {{yealink_language}}
lang.wui = {{yealink_language}}
remote_phonebook.data.1.url = {{directory_url}}
remote_phonebook.data.1.name = Dialtone
security.user_name.admin = {{admin_username}}
security.user_password = {{admin_username}}:{{admin_password}}
{{> yealink-custom-device}}
)";

}  // namespace

std::vector<sdk::ModelInfo> YealinkVendor::models() const {
  std::vector<sdk::ModelInfo> out;
  for (auto& m : kModels) out.push_back({m.name, m.lines, m.keys});
  return out;
}

std::string YealinkVendor::common_file(std::string_view model) {
  auto* m = model_by_name(model);
  if (!m) return {};
  char buf[32];
  std::snprintf(buf, sizeof buf, "y0000000000%02d.cfg", m->code);
  return buf;
}

std::optional<sdk::DeviceInfo> YealinkVendor::detect(const sdk::DeviceRequest& r) const {
  // "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc"
  if (istarts_with(r.user_agent, "Yealink")) {
    sdk::DeviceInfo d{"Yealink", "", "", ""};
    std::string ua = r.user_agent;
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < ua.size()) {
      auto j = ua.find(' ', i);
      if (j == std::string::npos) j = ua.size();
      if (j > i) words.push_back(ua.substr(i, j - i));
      i = j + 1;
    }
    if (words.size() > 1) {
      auto m = words[1];
      if (istarts_with(m, "SIP-")) m = m.substr(4);
      if (istarts_with(m, "SIP")) m = m.substr(3);
      d.model = canonical_model(models(), m);
    }
    if (words.size() > 2) d.version = words[2];
    if (words.size() > 3) d.mac = sdk::normalize_mac(words[3]);
    if (d.mac.empty()) d.mac = sdk::mac_in(r.path);
    return d;
  }
  auto file = basename(r.path);
  // Common file: y0000000000XX.cfg names the model.
  if (file.size() == 17 && file[0] == 'y' && file.substr(13) == ".cfg" &&
      file.substr(1, 10) == "0000000000") {
    int code = std::atoi(std::string(file.substr(11, 2)).c_str());
    sdk::DeviceInfo d{"Yealink", "", "", ""};
    if (auto* m = model_by_code(code)) d.model = m->name;
    return d;
  }
  auto mac = sdk::mac_in(file);
  if (!mac.empty() && yealink_mac(mac) && file == sdk::mac_plain(mac) + ".cfg")
    return sdk::DeviceInfo{"Yealink", "", "", mac};
  if (istarts_with(r.dhcp_vendor_class, "yealink")) return sdk::DeviceInfo{"Yealink", "", "", ""};
  return std::nullopt;
}

std::vector<sdk::TemplateFile> YealinkVendor::templates() const {
  return {{"common.cfg", kCommon},
          {"device.cfg", kDevice},
          {"yealink-custom-common", ""},
          {"yealink-custom-device", ""}};
}

sdk::Result<std::vector<sdk::ProvisioningFile>> YealinkVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& r) const {
  auto ctx = sdk::standard_context(c);
  ctx.set("yealink_tz", tz(c.timezone)).set("yealink_language", language(c.locale));
  ctx.set("directory_url", c.directory_url("yealink"));
  ctx.set("yealink_transport", c.sip_transport == "tcp" ? "1" : c.sip_transport == "tls" ? "2" : "0");
  if (auto* keys = ctx.find("function_keys")) {
    auto list = sdk::TemplateData::list();
    for (std::size_t i = 0; i < keys->items().size(); ++i) {
      auto k = keys->items()[i];
      k.set("yealink_type", key_type(c.function_keys[i].type));
      list.push(std::move(k));
    }
    ctx.set("function_keys", std::move(list));
  }
  std::vector<sdk::ProvisioningFile> out;
  auto common = common_file(c.device.model);
  if (!common.empty()) {
    auto body = r.render("common.cfg", ctx);
    if (!body) return body.error();
    out.push_back({common, std::move(*body), false});
  }
  if (!c.device.mac.empty()) {
    auto body = r.render("device.cfg", ctx);
    if (!body) return body.error();
    out.push_back({sdk::mac_plain(c.device.mac) + ".cfg", std::move(*body), true});
  }
  return out;
}

}  // namespace dialtone::plugins::provisioning
