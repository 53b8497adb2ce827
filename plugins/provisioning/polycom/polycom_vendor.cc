#include "plugins/provisioning/polycom/polycom_vendor.h"

#include "plugins/provisioning/common/vendor_util.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr sdk::ModelInfo kModels[] = {
    {"VVX101", 1, 0},  {"VVX150", 2, 0},  {"VVX201", 2, 0},  {"VVX250", 4, 4},
    {"VVX300", 6, 6},  {"VVX310", 6, 6},  {"VVX350", 6, 6},  {"VVX400", 12, 12},
    {"VVX410", 12, 12}, {"VVX450", 12, 12}, {"VVX500", 12, 12}, {"VVX600", 16, 16},
    {"SPIP331", 2, 0}, {"SPIP335", 2, 0}, {"SPIP450", 3, 0}, {"SPIP550", 4, 0},
    {"SPIP650", 6, 0},
};

std::string language(std::string_view locale) {
  auto l = locale.substr(0, 2);
  if (l == "fr") return "French_France";
  if (l == "de") return "German_Germany";
  if (l == "es") return "Spanish_Spain";
  if (l == "it") return "Italian_Italy";
  return "English_United_States";
}

constexpr const char* kMaster = R"(<?xml version="1.0" standalone="yes"?>
<APPLICATION APP_FILE_PATH="sip.ld" CONFIG_FILES="[PHONE_MAC_ADDRESS]-phone.cfg" MISC_FILES="" LOG_FILE_DIRECTORY="" OVERRIDES_DIRECTORY="" CONTACTS_DIRECTORY="" LICENSE_DIRECTORY="" USER_PROFILES_DIRECTORY="" CALL_LISTS_DIRECTORY=""/>
)";

constexpr const char* kPhone = R"(<?xml version="1.0" standalone="yes"?>
<polycomConfig>
<reg{{#lines}}
 reg.{{position}}.address="{{username}}"
 reg.{{position}}.auth.userId="{{auth_username}}"
 reg.{{position}}.auth.password="{{password}}"
 reg.{{position}}.displayName="{{display_name}}"
 reg.{{position}}.label="{{number}}"
 reg.{{position}}.server.1.address="{{proxy_ip}}"
 reg.{{position}}.server.1.port="{{proxy_port}}"
 reg.{{position}}.server.1.transport="{{polycom_transport}}"{{#has_backup_proxy}}
 reg.{{position}}.server.2.address="{{backup_proxy_ip}}"
 reg.{{position}}.server.2.port="{{proxy_port}}"{{/has_backup_proxy}}{{/lines}}/>
<msg{{#lines}} msg.mwi.{{position}}.callBackMode="contact" msg.mwi.{{position}}.callBack="{{voicemail}}"{{/lines}}/>
<attendant{{#blf_keys}}
 attendant.resourceList.{{slot}}.address="{{value}}"
 attendant.resourceList.{{slot}}.label="{{label}}"
 attendant.resourceList.{{slot}}.type="{{polycom_type}}"{{/blf_keys}}/>
<tcpIpApp tcpIpApp.sntp.address="{{ntp_server}}" tcpIpApp.sntp.gmtOffset="{{gmt_offset_seconds}}"/>
<lcl lcl.ml.lang="{{polycom_language}}"/>
<device device.set="1" device.auth.localAdminPassword.set="1" device.auth.localAdminPassword="{{admin_password}}"/>
<mb mb.main.home="{{directory_url}}"/>
{{> polycom-custom-phone}}
</polycomConfig>
)";

constexpr const char* kDirectory = R"(<?xml version="1.0" standalone="yes"?>
<directory>
<item_list>
{{#speed_dials}}
<item><fn>{{label}}</fn><ct>{{value}}</ct><sd>{{slot}}</sd></item>
{{/speed_dials}}
</item_list>
</directory>
)";

}  // namespace

std::vector<sdk::ModelInfo> PolycomVendor::models() const {
  return {std::begin(kModels), std::end(kModels)};
}

std::optional<sdk::DeviceInfo> PolycomVendor::detect(const sdk::DeviceRequest& r) const {
  // "FileTransport PolycomVVX-VVX_410-UA/5.9.0.9373"
  // "FileTransport PolycomSoundPointIP-SPIP_335-UA/4.0.4.2906"
  auto i = ifind(r.user_agent, "Polycom");
  if (i != std::string_view::npos) {
    sdk::DeviceInfo d{"Polycom", "", "", sdk::mac_in(r.path)};
    std::string_view rest = std::string_view(r.user_agent).substr(i);
    auto dash = rest.find('-');
    auto ua = rest.find("-UA/");
    if (dash != std::string_view::npos && ua != std::string_view::npos && ua > dash) {
      std::string model;
      for (char ch : rest.substr(dash + 1, ua - dash - 1))
        if (ch != '_') model += ch;
      d.model = canonical_model(models(), model);
      auto v = rest.substr(ua + 4);
      d.version = std::string(v.substr(0, v.find(' ')));
    }
    return d;
  }
  auto file = basename(r.path);
  if (file == "000000000000.cfg") return sdk::DeviceInfo{"Polycom", "", "", ""};
  auto mac = sdk::mac_in(file);
  if (mac.rfind("00:04:f2", 0) == 0 || mac.rfind("64:16:7f", 0) == 0)
    return sdk::DeviceInfo{"Polycom", "", "", mac};
  if (ifind(r.dhcp_vendor_class, "Polycom") != std::string_view::npos)
    return sdk::DeviceInfo{"Polycom", "", "", ""};
  return std::nullopt;
}

std::vector<sdk::TemplateFile> PolycomVendor::templates() const {
  return {{"master.cfg", kMaster}, {"phone.cfg", kPhone}, {"directory.xml", kDirectory},
          {"polycom-custom-phone", ""}};
}

sdk::Result<std::vector<sdk::ProvisioningFile>> PolycomVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& r) const {
  auto ctx = sdk::standard_context(c);
  ctx.set("polycom_language", language(c.locale));
  ctx.set("gmt_offset_seconds", utc_offset_minutes(c.timezone).value_or(0) * 60);
  ctx.set("directory_url", c.directory_url("polycom"));
  ctx.set("polycom_transport", c.sip_transport == "tcp"   ? "TCPOnly"
                               : c.sip_transport == "tls" ? "TLS"
                                                          : "UDPOnly");
  auto blf = sdk::TemplateData::list();
  auto sd = sdk::TemplateData::list();
  int blf_slot = 0, sd_slot = 0;
  for (auto& k : c.function_keys) {
    sdk::TemplateData x;
    x.set("value", k.value).set("label", k.label.empty() ? k.value : k.label);
    if (k.type == sdk::FunctionKeyType::blf || k.type == sdk::FunctionKeyType::park) {
      x.set("slot", ++blf_slot);
      x.set("polycom_type", k.type == sdk::FunctionKeyType::park ? "automata" : "normal");
      blf.push(std::move(x));
    } else {
      x.set("slot", ++sd_slot);
      sd.push(std::move(x));
    }
  }
  ctx.set("blf_keys", std::move(blf)).set("speed_dials", std::move(sd));

  std::vector<sdk::ProvisioningFile> out;
  auto master = r.render("master.cfg", ctx, sdk::Escape::xml);
  if (!master) return master.error();
  out.push_back({"000000000000.cfg", *master, false, "application/xml"});
  if (!c.device.mac.empty()) {
    auto mac = sdk::mac_plain(c.device.mac);
    out.push_back({mac + ".cfg", std::move(*master), false, "application/xml"});
    auto phone = r.render("phone.cfg", ctx, sdk::Escape::xml);
    if (!phone) return phone.error();
    out.push_back({mac + "-phone.cfg", std::move(*phone), true, "application/xml"});
    auto dir = r.render("directory.xml", ctx, sdk::Escape::xml);
    if (!dir) return dir.error();
    out.push_back({mac + "-directory.xml", std::move(*dir), false, "application/xml"});
  }
  return out;
}

}  // namespace dialtone::plugins::provisioning
