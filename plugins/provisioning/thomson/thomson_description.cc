// Thomson/Technicolor ST2022, ST2030 and TB30: <model>S.inf tells the phone
// where its firmware and configuration are; <model>S_<MAC>.txt is an
// INI-style file ([sip], [sys], [ntp]...). The phone applies a file only
// when its config_sn changed.
#include "plugins/provisioning/thomson/thomson_description.h"

#include <cstdint>
#include <cstdio>

namespace dialtone::plugins::provisioning {
namespace {

constexpr const char* kInf = R"([application]
{{#has_firmware}}
fwurl={{provisioning_url}}/binary/{{firmware}}
{{/has_firmware}}

[config]
config={{provisioning_url}}/
{{> thomson-custom-common}}
)";

constexpr const char* kDevice = R"([ipp]
LanguageType={{vendor_language}}

[sip]
{{#lines}}
DisplayNumFlag{{position}}=1
DisplayNum{{position}}={{number}}
DisplayName{{position}}={{display_name}}
ProxyServerMP{{position}}={{proxy_ip}}
ProxyServerBK{{position}}={{backup_proxy_ip}}
regid{{position}}={{auth_username}}
regpwd{{position}}={{password}}
RegisterServerMP{{position}}={{registrar_ip}}
TEL{{position}}Number={{username}}
TEL0{{position}}Use=1
TransportFlgMP{{position}}={{transport_code}}
{{/lines}}
VoiceMailTelNum={{#lines}}{{#first}}{{voicemail}}{{/first}}{{/lines}}

[sys]
config_sn={{config_sn}}
CountryCode={{country_code}}
dtmf_mode_flag={{dtmf_flag}}
Phonebook1_url={{directory_lookup_url}}?term=#SEARCH
Phonebook1_name=Dialtone
{{#function_keys}}
FeatureKeyExt{{position2}}={{#is_blf}}S{{/is_blf}}{{^is_blf}}L{{/is_blf}}/<sip:{{value}}>
{{/function_keys}}
UserID={{user_username}}
UserPWD={{user_password}}
TelnetID={{admin_username}}
TelnetPWD={{admin_password}}
WebPWD={{admin_password}}

[ntp]
NTPFlag={{#ntp_enabled}}1{{/ntp_enabled}}{{^ntp_enabled}}0{{/ntp_enabled}}
NtpIP={{ntp_server}}
NtpZoneNum={{tz_name}}
{{> thomson-custom-device}}
)";

// What the format wants in its own spelling: a two-digit key number, the
// country, the DTMF flag, and a config_sn that changes with the settings.
void thomson_values(sdk::TemplateData& ctx, const sdk::DeviceConfig& c) {
  if (auto* keys = ctx.find("function_keys")) {
    auto list = sdk::TemplateData::list();
    for (auto k : keys->items()) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%02d", std::stoi(k.find("position")->text()));
      list.push(std::move(k.set("position2", buf)));
    }
    ctx.set("function_keys", std::move(list));
  }
  if (auto* lines = ctx.find("lines")) {
    auto list = sdk::TemplateData::list();
    bool first = true;
    for (auto l : lines->items()) {
      list.push(std::move(l.set("first", sdk::TemplateData::boolean(first))));
      first = false;
    }
    ctx.set("lines", std::move(list));
  }
  ctx.set("country_code", c.locale.size() >= 5 ? c.locale.substr(3, 2) : std::string("US"));
  ctx.set("dtmf_flag", c.dtmf_mode == "RTP-in-band" ? "0" : c.dtmf_mode == "SIP-INFO" ? "4" : "1");
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (auto& l : c.lines) mix(l.username + l.password + l.proxy_ip + l.display_name + l.number);
  for (auto& k : c.function_keys) mix(k.value + k.label + to_string(k.type));
  mix(c.timezone + c.locale + c.ntp_server + c.admin_password + c.user_password);
  char sn[16];
  std::snprintf(sn, sizeof sn, "%012llu", static_cast<unsigned long long>(h % 1000000000000ull));
  ctx.set("config_sn", sn);
}

FileSpec text(std::string path, std::string tmpl, bool sensitive) {
  return {std::move(path), std::move(tmpl), sensitive, sdk::Escape::text, "text/plain"};
}

}  // namespace

const VendorDescription& thomson_description() {
  static const VendorDescription d{
      .id = "provisioning.thomson",
      .vendor = "Thomson",
      .version = "1.0.0",
      // Firmware images as XiVO's plugins name them (ST2022's is not bundled).
      .models = {{"ST2022", 2, 5},
                 {"ST2030", 4, 66, "", "v2030SG.R11.1.SED.101223.2.74.zz"},
                 {"TB30", 4, 66, "", "TB30S.R11.101217.1.74.0.zz"}},
      .mac_prefixes = {"00:14:7f", "00:18:f6", "00:1f:9f"},
      // "THOMSON ST2030 hw5 fw2.74 00-14-7F-E1-47-B3", "Thomson TB30 hw1 fw1.74.0 00-1F-9F-84-F1-80"
      .user_agents = {{.regex = R"(^Thomson (\w+) hw\S* fw(\S+)(?: (\S+))?)",
                       .model = 1,
                       .version = 2,
                       .mac = 3}},
      .paths = {{.regex = R"((ST2022|ST2030|TB30)S\.inf)", .model = 1},
                {.regex = R"((ST2022|ST2030|TB30)S_([0-9a-f]{12})\.txt)", .mac = 2, .model = 1}},
      .files = {text("{{model}}S.inf", "model.inf", false),
                text("{{model}}S_{{MAC_PLAIN}}.txt", "device.txt", true)},
      .templates = {{"model.inf", kInf},
                    {"device.txt", kDevice},
                    {"thomson-custom-common", ""},
                    {"thomson-custom-device", ""}},
      .languages = {{"fr", "1"}, {"de", "3"}, {"es", "2"}},
      .default_language = "0",
      // NtpZoneNum: the phone's own zone list.
      .tz_names = {{"America/Los_Angeles", "4"}, {"America/Denver", "6"},
                   {"America/Chicago", "7"},     {"America/New_York", "11"},
                   {"America/Montreal", "11"},   {"America/Toronto", "11"},
                   {"America/Sao_Paulo", "16"},  {"Africa/Casablanca", "20"},
                   {"Europe/London", "21"},      {"Europe/Dublin", "21"},
                   {"Europe/Lisbon", "21"},      {"Europe/Paris", "22"},
                   {"Europe/Madrid", "22"},      {"Europe/Amsterdam", "22"},
                   {"Europe/Warsaw", "24"},      {"Europe/Prague", "24"},
                   {"Europe/Brussels", "25"},    {"Europe/Berlin", "25"},
                   {"Europe/Rome", "25"},        {"Europe/Stockholm", "25"},
                   {"Europe/Vienna", "25"},      {"Europe/Zurich", "25"},
                   {"Europe/Athens", "26"},      {"Europe/Bucharest", "27"},
                   {"Africa/Cairo", "28"},       {"Europe/Helsinki", "30"},
                   {"Europe/Moscow", "33"},      {"Asia/Tokyo", "50"}},
      .default_tz_name = "23",
      .transports = {"0", "1", "2"},
      .view = "thomson",
      .extend = thomson_values,
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
