// Snom: XML settings, snom<model>.htm (common) and snom<model>-<MAC>.htm
// (device; also served as <MAC>.xml for newer firmwares).
#include "plugins/provisioning/snom/snom_description.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr const char* kCommon = R"(<?xml version="1.0" encoding="utf-8"?>
<settings>
<phone-settings e="2">
<setting_server perm="RW">{{provisioning_url}}/snom{{model}}-{mac}.htm</setting_server>
<update_policy perm="RW">auto_update</update_policy>
<user_phone perm="RW">off</user_phone>
{{> snom-custom-common}}
</phone-settings>
</settings>
)";

constexpr const char* kDevice = R"(<?xml version="1.0" encoding="utf-8"?>
<settings>
<phone-settings e="2">
{{#lines}}
<user_active idx="{{position}}" perm="R">on</user_active>
<user_realname idx="{{position}}" perm="R">{{display_name}}</user_realname>
<user_name idx="{{position}}" perm="R">{{username}}</user_name>
<user_pname idx="{{position}}" perm="R">{{auth_username}}</user_pname>
<user_pass idx="{{position}}" perm="R">{{password}}</user_pass>
<user_host idx="{{position}}" perm="R">{{proxy_ip}}:{{proxy_port}}</user_host>
<user_mailbox idx="{{position}}" perm="R">{{voicemail}}</user_mailbox>
{{/lines}}
<ntp_server perm="R">{{ntp_server}}</ntp_server>
<timezone perm="R">{{tz_name}}</timezone>
<language perm="R">{{vendor_language}}</language>
<web_language perm="R">{{vendor_language}}</web_language>
<admin_mode_password perm="R">{{admin_password}}</admin_mode_password>
<http_user perm="R">{{admin_username}}</http_user>
<http_pass perm="R">{{admin_password}}</http_pass>
<dkey_directory perm="R">url {{directory_url}}</dkey_directory>
{{> snom-custom-device}}
</phone-settings>
<functionKeys e="2">
{{#function_keys}}
<fkey idx="{{index0}}" context="{{line}}" label="{{label}}" perm="R">{{#is_blf}}blf &lt;sip:{{value}}@{{domain}}&gt;{{#has_pickup_call}}|{{exten_pickup_call}}{{/has_pickup_call}}{{/is_blf}}{{^is_blf}}speed {{value}}{{/is_blf}}</fkey>
{{/function_keys}}
</functionKeys>
</settings>
)";

}  // namespace

const VendorDescription& snom_description() {
  static const VendorDescription d{
      .id = "provisioning.snom",
      .vendor = "Snom",
      .version = "1.0.0",
      .models = {{"300", 4, 6},    {"320", 12, 12},  {"360", 12, 12},  {"370", 12, 12},
                 {"710", 4, 5},    {"715", 4, 5},    {"720", 12, 18},  {"760", 12, 16},
                 {"D315", 4, 5},   {"D345", 12, 48}, {"D375", 12, 6},  {"D385", 12, 48},
                 {"D717", 6, 3},   {"D735", 12, 8},  {"D745", 12, 8},  {"D765", 12, 16},
                 {"D785", 12, 24}, {"D865", 12, 40}},
      .mac_prefixes = {"00:04:13"},
      // "Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25)", "snomD785-SIP 10.1.33.33 000413aabbcc"
      .user_agents = {{.regex = R"(snom(\w+)-SIP\s+([^\s);]+)(?:\s+([0-9a-f:.-]{12,17}))?)",
                       .model = 1,
                       .version = 2,
                       .mac = 3},
                      {.regex = "snom"}},
      .paths = {{.regex = R"(snom(\w+?)(?:-([0-9a-f]{12}))?\.htm)",
                 .mac = 2,
                 .model = 1,
                 .known_model = true}},
      .files = {{.path = "snom{{model}}.htm",
                 .template_name = "common.htm",
                 .escape = sdk::Escape::xml,
                 .content_type = "application/xml"},
                {.path = "snom{{model}}-{{MAC_PLAIN}}.htm",
                 .template_name = "device.htm",
                 .sensitive = true,
                 .escape = sdk::Escape::xml,
                 .content_type = "application/xml"},
                {.path = "{{MAC_PLAIN}}.xml",
                 .template_name = "device.htm",
                 .sensitive = true,
                 .escape = sdk::Escape::xml,
                 .content_type = "application/xml"}},
      .templates = {{"common.htm", kCommon},
                    {"device.htm", kDevice},
                    {"snom-custom-common", ""},
                    {"snom-custom-device", ""}},
      .languages = {{"fr", "Francais"},
                    {"de", "Deutsch"},
                    {"es", "Espanol"},
                    {"it", "Italiano"},
                    {"nl", "Nederlands"}},
      .default_language = "English",
      // Snom's <timezone> codes for the zones most used.
      .tz_names = {{"Europe/Paris", "FRA+1"},        {"Europe/Berlin", "GER+1"},
                   {"Europe/London", "GBR-0"},       {"Europe/Madrid", "ESP+1"},
                   {"Europe/Rome", "ITA+1"},         {"Europe/Brussels", "BEL+1"},
                   {"Europe/Zurich", "CHE+1"},       {"America/New_York", "USA-5"},
                   {"America/Montreal", "CAN-5"},    {"America/Toronto", "CAN-5"},
                   {"America/Chicago", "USA-6"},     {"America/Denver", "USA-7"},
                   {"America/Los_Angeles", "USA-8"}, {"UTC", "GMT"}},
      .default_tz_name = "GMT",
      .view = "snom",
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
