// Polycom VVX and SoundPoint IP: 000000000000.cfg (master, also served as
// <mac>.cfg) names [PHONE_MAC_ADDRESS]-phone.cfg; speed dials go to the
// <mac>-directory.xml local directory. A BLF key picks up a ringing call of
// the user it watches by dialing confd's pickup code and the number
// (feature.directedCallPickup.enabled, call.directedCallPickupMethod
// "legacy": call.directedCallPickupString followed by the resource's
// address; the ringing call shows on the key's phone as a spontaneous call
// appearance, attendant.behaviors.display.spontaneousCallAppearances.normal).
// Users' keys are "normal" attendant resources, park slots "automata" (a
// call is transferred to them and taken back from them).
#include "plugins/provisioning/polycom/polycom_description.h"

namespace dialtone::plugins::provisioning {
namespace {

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
 reg.{{position}}.server.1.transport="{{transport_code}}"{{#has_backup_proxy}}
 reg.{{position}}.server.2.address="{{backup_proxy_ip}}"
 reg.{{position}}.server.2.port="{{proxy_port}}"{{/has_backup_proxy}}{{/lines}}/>
<msg{{#lines}} msg.mwi.{{position}}.callBackMode="contact" msg.mwi.{{position}}.callBack="{{voicemail}}"{{/lines}}/>
<attendant{{#blf_keys}}
 attendant.resourceList.{{slot}}.address="{{value}}"
 attendant.resourceList.{{slot}}.label="{{label}}"
 attendant.resourceList.{{slot}}.type="{{key_type}}"{{/blf_keys}}/>
{{#has_pickup_call}}
<call call.directedCallPickupMethod="legacy" call.directedCallPickupString="{{exten_pickup_call}}"/>
<feature feature.directedCallPickup.enabled="1"/>
<attendant attendant.behaviors.display.spontaneousCallAppearances.normal="1"/>
{{/has_pickup_call}}
<tcpIpApp tcpIpApp.sntp.address="{{ntp_server}}" tcpIpApp.sntp.gmtOffset="{{tz_seconds}}"/>
<lcl lcl.ml.lang="{{vendor_language}}"/>
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

// BLF and park keys are attendant resources, the others local-directory
// speed dials: two numberings the templates cannot count themselves.
void split_keys(sdk::TemplateData& ctx, const sdk::DeviceConfig& c) {
  auto blf = sdk::TemplateData::list();
  auto sd = sdk::TemplateData::list();
  int blf_slot = 0, sd_slot = 0;
  for (auto& k : c.function_keys) {
    sdk::TemplateData x;
    x.set("value", k.value).set("label", k.label.empty() ? k.value : k.label);
    if (k.type == sdk::FunctionKeyType::blf || k.type == sdk::FunctionKeyType::park) {
      x.set("slot", ++blf_slot);
      x.set("key_type", k.type == sdk::FunctionKeyType::park ? "automata" : "normal");
      blf.push(std::move(x));
    } else {
      x.set("slot", ++sd_slot);
      sd.push(std::move(x));
    }
  }
  ctx.set("blf_keys", std::move(blf)).set("speed_dials", std::move(sd));
}

FileSpec xml(std::string path, std::string tmpl, bool sensitive) {
  return {std::move(path), std::move(tmpl), sensitive, sdk::Escape::xml, "application/xml"};
}

}  // namespace

const VendorDescription& polycom_description() {
  static const VendorDescription d{
      .id = "provisioning.polycom",
      .vendor = "Polycom",
      .version = "1.0.0",
      .models = {{"VVX101", 1, 0},   {"VVX150", 2, 0},   {"VVX201", 2, 0},   {"VVX250", 4, 4},
                 {"VVX300", 6, 6},   {"VVX310", 6, 6},   {"VVX350", 6, 6},   {"VVX400", 12, 12},
                 {"VVX410", 12, 12}, {"VVX450", 12, 12}, {"VVX500", 12, 12}, {"VVX600", 16, 16},
                 {"SPIP331", 2, 0},  {"SPIP335", 2, 0},  {"SPIP450", 3, 0},  {"SPIP550", 4, 0},
                 {"SPIP650", 6, 0}},
      .mac_prefixes = {"00:04:f2", "64:16:7f"},
      // "FileTransport PolycomVVX-VVX_410-UA/5.9.0.9373",
      // "FileTransport PolycomSoundPointIP-SPIP_335-UA/4.0.4.2906"
      .user_agents = {{.regex = R"(Polycom[^-\s]*-([^-\s]+)-UA/(\S+))",
                       .model = 1,
                       .version = 2,
                       .model_drop = "_"},
                      {.regex = "Polycom"}},
      .paths = {{.regex = "000000000000\\.cfg"}},
      .dhcp_vendor_class = "Polycom",
      .files = {xml("000000000000.cfg", "master.cfg", false),
                xml("{{mac_plain}}.cfg", "master.cfg", false),
                xml("{{mac_plain}}-phone.cfg", "phone.cfg", true),
                xml("{{mac_plain}}-directory.xml", "directory.xml", false)},
      .templates = {{"master.cfg", kMaster},
                    {"phone.cfg", kPhone},
                    {"directory.xml", kDirectory},
                    {"polycom-custom-phone", ""}},
      .languages = {{"fr", "French_France"},
                    {"de", "German_Germany"},
                    {"es", "Spanish_Spain"},
                    {"it", "Italian_Italy"}},
      .default_language = "English_United_States",
      .transports = {"UDPOnly", "TCPOnly", "TLS"},
      .view = "polycom",
      .extend = split_keys,
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
