// Yealink T-series and DECT: `#!version:1.0.0.1` key = value files, a common
// y0000000000<code>.cfg per model and a <mac>.cfg per device. Models of the
// V70-V73 firmwares (T2x, T3x, VP530, W52P) and of V8x.
#include "plugins/provisioning/yealink/yealink_description.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr const char* kCommon = R"(#!version:1.0.0.1
## Common settings for every Yealink {{model}}: no secrets here.
static.auto_provision.server.url = {{provisioning_url}}
static.auto_provision.power_on = 1
{{#has_firmware}}
static.firmware.url = {{provisioning_url}}/firmware/{{firmware}}
{{/has_firmware}}
sip.notify_reboot_enable = 0
features.dnd.enable = 1
{{> yealink-custom-common}}
)";

// The remote phone book is the lookup route: the phone appends what the
// user typed in place of #SEARCH.
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
account.{{position}}.sip_server.1.transport_type = {{transport_code}}
voice_mail.number.{{position}} = {{voicemail}}
{{/lines}}
{{#function_keys}}
linekey.{{position}}.type = {{key_type}}
linekey.{{position}}.value = {{value}}
linekey.{{position}}.label = {{label}}
linekey.{{position}}.line = {{line}}
{{/function_keys}}
{{#has_pickup_call}}
features.pickup.direct_pickup_enable = 1
features.pickup.direct_pickup_code = {{exten_pickup_call}}
{{/has_pickup_call}}
local_time.time_zone = {{tz_hours}}
local_time.time_zone_name = {{timezone}}
{{#ntp_enabled}}
local_time.ntp_server1 = {{ntp_server}}
{{/ntp_enabled}}
lang.gui = {{vendor_language}}
lang.wui = {{vendor_language}}
remote_phonebook.data.1.url = {{directory_lookup_url}}?term=#SEARCH
remote_phonebook.data.1.name = Dialtone
security.user_name.admin = {{admin_username}}
security.user_password = {{admin_username}}:{{admin_password}}
{{> yealink-custom-device}}
)";

}  // namespace

const VendorDescription& yealink_description() {
  static const VendorDescription d{
      .id = "provisioning.yealink",
      .vendor = "Yealink",
      .version = "1.1.0",
      .models =
          {
              // V70
              {"T32G", 3, 0, "32", "32.70.1.33.rom"},
              {"T38G", 6, 10, "38", "38.70.1.33.rom"},
              {"VP530P", 4, 0, "23", "23.70.0.40-Yealink.rom"},
              // V71
              {"T41P", 6, 15, "36", "36.71.0.155.rom"},
              {"T42G", 12, 15, "29", "29.71.0.155.rom"},
              // V72
              {"T19P", 1, 0, "31", "31.72.0.75.rom"},
              {"T21P", 2, 0, "34", "34.72.0.75.rom"},
              // V73
              {"T20P", 2, 0, "07", "9.73.0.50.rom"},
              {"T22P", 2, 0, "05", "7.73.0.50.rom"},
              {"T26P", 3, 10, "04", "6.73.0.50.rom"},
              {"T28P", 6, 16, "00", "2.73.0.50.rom"},
              {"W52P", 5, 0, "25", "25.73.0.40.rom"},
              // V8x
              {"T19P_E2", 1, 0, "53"},
              {"T21P_E2", 2, 0, "52"},
              {"T23G", 3, 3, "44"},
              {"T27G", 6, 21, "69"},
              {"T29G", 16, 27, "46"},
              {"T40P", 3, 3, "54"},
              {"T41S", 6, 15, "68"},
              {"T42S", 12, 15, "67"},
              {"T46G", 6, 27, "28"},
              {"T46S", 16, 27, "66"},
              {"T48G", 6, 29, "35"},
              {"T48S", 16, 29, "65"},
              {"T53W", 12, 21, "95"},
              {"T54W", 16, 27, "96"},
              {"T57W", 16, 29, "97"},
              {"T58", 16, 27, "58"},
          },
      .mac_prefixes = {"00:15:65", "80:5e:c0", "80:5e:0c", "24:9a:d8", "44:db:d2"},
      // "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc", "Yealink SIP VP530P 23.70.0.40"
      .user_agents = {{.regex = R"(^Yealink\s+(?:SIP[-\s]?)?(\S+)(?:\s+(\S+))?(?:\s+(\S+))?)",
                       .model = 1,
                       .version = 2,
                       .mac = 3}},
      .paths = {{.regex = R"(y0000000000(\d\d)\.cfg)", .model_code = 1},
                {.regex = R"(([0-9a-f]{12})\.cfg)", .mac = 1, .known_prefix = true}},
      .dhcp_vendor_class = "yealink",
      .files = {{.path = "y0000000000{{model_code}}.cfg", .template_name = "common.cfg"},
                {.path = "{{mac_plain}}.cfg", .template_name = "device.cfg", .sensitive = true}},
      .templates = {{"common.cfg", kCommon},
                    {"device.cfg", kDevice},
                    {"yealink-custom-common", ""},
                    {"yealink-custom-device", ""}},
      .key_types = {.speed_dial = "13", .blf = "16", .park = "10", .forward = "13"},
      .languages = {{"fr", "French"},
                    {"de", "German"},
                    {"es", "Spanish"},
                    {"it", "Italian"},
                    {"nl", "Dutch"},
                    {"pt", "Portuguese"}},
      .default_language = "English",
      .transports = {"0", "1", "2"},
      .view = "yealink",
      .sync_event = "check-sync;reboot=false",
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
