// Aastra/Mitel 67xx: `key: value` files, aastra.cfg (common) then <MAC>.cfg
// (device, upper-case MAC).
#include "plugins/provisioning/aastra/aastra_description.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr const char* kCommon = R"(# Common settings for every Aastra phone: no secrets here.
download protocol: HTTP
http server: {{provisioning_host}}
http port: {{provisioning_port}}
auto resync mode: 0
sip notify check sync: 1
{{> aastra-custom-common}}
)";

constexpr const char* kDevice = R"(# Device {{mac}}
{{#lines}}
sip line{{position}} auth name: {{auth_username}}
sip line{{position}} password: {{password}}
sip line{{position}} user name: {{username}}
sip line{{position}} display name: {{display_name}}
sip line{{position}} screen name: {{display_name}}
sip line{{position}} screen name 2: {{number}}
sip line{{position}} proxy ip: {{proxy_ip}}
sip line{{position}} proxy port: {{proxy_port}}
sip line{{position}} registrar ip: {{registrar_ip}}
sip line{{position}} registrar port: {{proxy_port}}
{{#has_backup_proxy}}
sip line{{position}} backup proxy ip: {{backup_proxy_ip}}
sip line{{position}} backup proxy port: {{proxy_port}}
{{/has_backup_proxy}}
sip line{{position}} vmail: {{voicemail}}
{{/lines}}
{{#function_keys}}
prgkey{{position}} type: {{key_type}}
prgkey{{position}} value: {{value}}
prgkey{{position}} label: {{label}}
prgkey{{position}} line: {{line}}
{{/function_keys}}
{{#has_pickup_call}}
directed call pickup prefix: {{exten_pickup_call}}
{{/has_pickup_call}}
time server disabled: {{ntp_disabled}}
time server1: {{ntp_server}}
time zone name: {{tz_name}}
language: {{vendor_language}}
admin password: {{admin_password}}
directory script: {{directory_url}}
{{> aastra-custom-device}}
)";

}  // namespace

const VendorDescription& aastra_description() {
  static const VendorDescription d{
      .id = "provisioning.aastra",
      .vendor = "Aastra",
      .version = "1.0.0",
      .models = {{"6730i", 6, 8},  {"6731i", 6, 8},  {"6735i", 9, 26}, {"6737i", 9, 30},
                 {"6739i", 9, 55}, {"6753i", 9, 6},  {"6755i", 9, 26}, {"6757i", 9, 30},
                 {"6863i", 2, 3},  {"6865i", 9, 8},  {"6867i", 9, 20}, {"6869i", 24, 68}},
      .mac_prefixes = {"00:08:5d"},
      // "Aastra6731i MAC:00-08-5D-23-74-29 V:3.3.1.2235-SIP"
      .user_agents = {{.regex = R"(^Aastra(\w+)(?:.*\bMAC:(\S+))?(?:.*\bV:([^\s-]+))?)",
                       .model = 1,
                       .version = 3,
                       .mac = 2}},
      .paths = {{.regex = "aastra\\.cfg"}},
      .files = {{.path = "aastra.cfg", .template_name = "aastra.cfg"},
                {.path = "{{MAC_PLAIN}}.cfg", .template_name = "device.cfg", .sensitive = true}},
      .templates = {{"aastra.cfg", kCommon},
                    {"device.cfg", kDevice},
                    {"aastra-custom-common", ""},
                    {"aastra-custom-device", ""}},
      .key_types = {.speed_dial = "speeddial", .blf = "blf", .park = "park", .forward = "speeddial"},
      .languages = {{"fr", "1"}, {"de", "3"}, {"es", "2"}, {"it", "4"}},
      .default_language = "0",
      .tz_names = {{"Europe/Paris", "FR-Paris"},
                   {"Europe/London", "GB-London"},
                   {"Europe/Berlin", "DE-Berlin"},
                   {"Europe/Madrid", "ES-Madrid"},
                   {"Europe/Brussels", "BE-Brussels"},
                   {"America/New_York", "US-Eastern"},
                   {"America/Chicago", "US-Central"},
                   {"America/Denver", "US-Mountain"},
                   {"America/Los_Angeles", "US-Pacific"},
                   {"America/Montreal", "CA-Eastern"},
                   {"America/Toronto", "CA-Eastern"}},
      .default_tz_name = "GMT",
      .view = "aastra",
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
