// Cisco SCCP phones (79xx, 89xx): XMLDefault.cnf.xml for every phone and
// SEP<MAC>.cnf.xml per device, fetched over TFTP. Lines come over SCCP, not
// from these files; they carry the call manager, locale, time, firmware load
// and the directory URL.
#include "plugins/provisioning/cisco_sccp/cisco_sccp_description.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr const char* kDevice = R"(<?xml version="1.0" encoding="UTF-8"?>
<device>
<deviceProtocol>SCCP</deviceProtocol>
<sshUserId>{{admin_username}}</sshUserId>
<sshPassword>{{admin_password}}</sshPassword>
<devicePool>
<dateTimeSetting>
<dateTemplate>D/M/Y</dateTemplate>
<timeZone>{{tz_name}}</timeZone>
{{#ntp_enabled}}
<ntps><ntp><name>{{ntp_server}}</name><ntpMode>Unicast</ntpMode></ntp></ntps>
{{/ntp_enabled}}
</dateTimeSetting>
{{> cisco-sccp-call-manager}}
</devicePool>
{{#has_firmware}}
<loadInformation>{{firmware}}</loadInformation>
{{/has_firmware}}
<userLocale><name>{{vendor_language}}</name><langCode>{{language}}</langCode></userLocale>
<networkLocale>{{network_locale}}</networkLocale>
<directoryURL>{{directory_url}}</directoryURL>
{{> cisco-sccp-custom-device}}
</device>
)";

// Both files name the call manager the same way.
constexpr const char* kCallManager = R"(<callManagerGroup>
<members>
<member priority="0">
<callManager>
<ports><ethernetPhonePort>2000</ethernetPhonePort></ports>
<processNodeName>{{call_manager}}</processNodeName>
</callManager>
</member>
</members>
</callManagerGroup>)";

constexpr const char* kDefault = R"(<?xml version="1.0" encoding="UTF-8"?>
<Default>
{{> cisco-sccp-call-manager}}
{{> cisco-sccp-custom-common}}
</Default>
)";

// The call manager is the first line's proxy, or the provisioning host for
// a phone that has no line yet.
void call_manager(sdk::TemplateData& ctx, const sdk::DeviceConfig& c) {
  auto* domain = ctx.find("domain");
  auto* host = ctx.find("provisioning_host");
  ctx.set("call_manager", domain && !domain->text().empty() ? domain->text()
                          : host                            ? host->text()
                                                            : std::string());
  auto country = c.locale.size() >= 5 ? c.locale.substr(3, 2) : std::string("US");
  ctx.set("network_locale", country == "FR"   ? "France"
                            : country == "DE" ? "Germany"
                            : country == "ES" ? "Spain"
                            : country == "IT" ? "Italy"
                            : country == "GB" ? "United_Kingdom"
                            : country == "CA" ? "Canada"
                                              : "United_States");
}

FileSpec xml(std::string path, std::string tmpl, bool sensitive) {
  return {std::move(path), std::move(tmpl), sensitive, sdk::Escape::xml, "text/xml"};
}

}  // namespace

const VendorDescription& cisco_sccp_description() {
  static const VendorDescription d{
      .id = "provisioning.cisco_sccp",
      .vendor = "Cisco",
      .version = "1.0.0",
      .models = {{"7906G", 1, 0, "", "SCCP11.9-4-2SR3-1S"},
                 {"7911G", 1, 0, "", "SCCP11.9-4-2SR3-1S"},
                 {"7931G", 1, 24, "", "SCCP31.9-4-2SR3-1S"},
                 {"7940G", 2, 2, "", "P00308010200"},
                 {"7941G", 2, 2, "", "SCCP41.9-4-2SR3-1S"},
                 {"7942G", 2, 2, "", "SCCP42.9-4-2SR3-1S"},
                 {"7945G", 2, 2, "", "SCCP45.9-4-2SR3-1S"},
                 {"7960G", 6, 6, "", "P00308010200"},
                 {"7961G", 6, 6, "", "SCCP41.9-4-2SR3-1S"},
                 {"7962G", 6, 6, "", "SCCP42.9-4-2SR3-1S"},
                 {"7965G", 6, 6, "", "SCCP45.9-4-2SR3-1S"},
                 {"7970G", 8, 8, "", "SCCP70.9-4-2SR3-1S"},
                 {"7975G", 8, 8, "", "SCCP75.9-4-2SR3-1S"},
                 {"8941", 4, 4},
                 {"8945", 4, 4}},
      // TFTP only: CTLSEP<MAC>.tlv, ITLSEP<MAC>.tlv, SEP<MAC>.cnf.xml, XMLDefault.cnf.xml.
      .paths = {{.regex = R"((?:CTL|ITL)?SEP([0-9a-f]{12})\.(?:cnf\.xml|tlv))", .mac = 1},
                {.regex = R"(XMLDefault\.cnf\.xml)"}},
      .dhcp_vendor_class = "Cisco Systems, Inc. IP Phone",
      .files = {xml("XMLDefault.cnf.xml", "XMLDefault.cnf.xml", false),
                xml("SEP{{MAC_PLAIN}}.cnf.xml", "SEP.cnf.xml", true)},
      .templates = {{"XMLDefault.cnf.xml", kDefault},
                    {"SEP.cnf.xml", kDevice},
                    {"cisco-sccp-call-manager", kCallManager},
                    {"cisco-sccp-custom-common", ""},
                    {"cisco-sccp-custom-device", ""}},
      .languages = {{"fr", "French_France"},
                    {"de", "German_Germany"},
                    {"es", "Spanish_Spain"},
                    {"it", "Italian_Italy"}},
      .default_language = "English_United_States",
      .tz_names = {{"Europe/Paris", "Romance Standard/Daylight Time"},
                   {"Europe/Brussels", "Romance Standard/Daylight Time"},
                   {"Europe/Madrid", "Romance Standard/Daylight Time"},
                   {"Europe/Berlin", "W. Europe Standard/Daylight Time"},
                   {"Europe/Rome", "W. Europe Standard/Daylight Time"},
                   {"Europe/Amsterdam", "W. Europe Standard/Daylight Time"},
                   {"Europe/London", "GMT Standard/Daylight Time"},
                   {"America/New_York", "Eastern Standard/Daylight Time"},
                   {"America/Montreal", "Eastern Standard/Daylight Time"},
                   {"America/Toronto", "Eastern Standard/Daylight Time"},
                   {"America/Chicago", "Central Standard/Daylight Time"},
                   {"America/Denver", "Mountain Standard/Daylight Time"},
                   {"America/Los_Angeles", "Pacific Standard/Daylight Time"}},
      .default_tz_name = "Greenwich Standard Time",
      .view = "cisco",
      // SCCP phones take no SIP NOTIFY: they re-fetch on reset.
      .sync_event = std::nullopt,
      .extend = call_manager,
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
