// Cisco/Linksys SPA phones and SPA/PAP analog adapters: one flat profile,
// spa<mac>.xml, per device.
#include "plugins/provisioning/cisco_spa/cisco_spa_description.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr const char* kDevice = R"(<flat-profile>
<Resync_On_Reset>Yes</Resync_On_Reset>
<Profile_Rule>{{provisioning_url}}/spa$MA.xml</Profile_Rule>
{{#lines}}
<Line_Enable_{{position}}_>Yes</Line_Enable_{{position}}_>
<Proxy_{{position}}_>{{proxy_ip}}:{{proxy_port}}</Proxy_{{position}}_>
<Display_Name_{{position}}_>{{display_name}}</Display_Name_{{position}}_>
<User_ID_{{position}}_>{{username}}</User_ID_{{position}}_>
<Password_{{position}}_>{{password}}</Password_{{position}}_>
<Use_Auth_ID_{{position}}_>Yes</Use_Auth_ID_{{position}}_>
<Auth_ID_{{position}}_>{{auth_username}}</Auth_ID_{{position}}_>
<Short_Name_{{position}}_>{{number}}</Short_Name_{{position}}_>
<Voice_Mail_Number_{{position}}_>{{voicemail}}</Voice_Mail_Number_{{position}}_>
{{/lines}}
{{#function_keys}}
<Extended_Function_{{position}}_>{{#is_blf}}fnc=blf+sd+cp;sub={{value}}@{{domain}}{{/is_blf}}{{^is_blf}}fnc=sd;ext={{value}}@{{domain}}{{/is_blf}};nme={{label}}</Extended_Function_{{position}}_>
{{/function_keys}}
{{#has_pickup_call}}
<Call_Pickup_Code>{{exten_pickup_call}}</Call_Pickup_Code>
{{/has_pickup_call}}
<Primary_NTP_Server>{{ntp_server}}</Primary_NTP_Server>
<Time_Zone>GMT{{tz_hhmm}}</Time_Zone>
<Language_Selection>{{vendor_language}}</Language_Selection>
<Admin_Passwd>{{admin_password}}</Admin_Passwd>
<User_Password>{{user_password}}</User_Password>
<XML_Directory_Service_Name>Dialtone</XML_Directory_Service_Name>
<XML_Directory_Service_URL>{{directory_url}}</XML_Directory_Service_URL>
{{> cisco-spa-custom-device}}
</flat-profile>
)";

}  // namespace

const VendorDescription& cisco_spa_description() {
  static const VendorDescription d{
      .id = "provisioning.cisco_spa",
      .vendor = "Cisco",
      .version = "1.1.0",
      .models = {{"SPA301", 1, 0},   {"SPA303", 3, 0},   {"SPA501G", 8, 8},  {"SPA502G", 1, 0},
                 {"SPA504G", 4, 4},  {"SPA508G", 8, 8},  {"SPA509G", 12, 12}, {"SPA525G", 5, 5},
                 {"SPA525G2", 5, 5}, {"SPA941", 4, 4},   {"SPA942", 4, 4},   {"SPA962", 6, 6},
                 // Analog adapters (ATA): one line per FXS port.
                 {"SPA112", 2, 0},   {"SPA122", 2, 0},   {"SPA2102", 2, 0},  {"SPA3102", 1, 0},
                 {"SPA8000", 8, 0},  {"SPA8800", 4, 0},  {"PAP2T", 2, 0}},
      // "Cisco/SPA504G-7.5.5 (0022555EAB12)(CCQ162306EA)", "Linksys/SPA942-6.1.5(a) (88019FA42805)",
      // "Linksys/PAP2T-5.1.6(LS)"
      .user_agents = {{.regex = R"(^(?:Cisco|Linksys)/((?:SPA|PAP)\w+)-(\S+)(?:\s*\(([0-9a-f]{12})\))?)",
                       .model = 1,
                       .version = 2,
                       .mac = 3}},
      .paths = {{.regex = R"(spa([0-9a-f]{12})\.xml)", .mac = 1}},
      .files = {{.path = "spa{{mac_plain}}.xml",
                 .template_name = "spa.xml",
                 .sensitive = true,
                 .escape = sdk::Escape::xml,
                 .content_type = "application/xml"}},
      .templates = {{"spa.xml", kDevice}, {"cisco-spa-custom-device", ""}},
      .languages = {{"fr", "French"}, {"de", "German"}, {"es", "Spanish"}},
      .default_language = "English",
      .view = "cisco",
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
