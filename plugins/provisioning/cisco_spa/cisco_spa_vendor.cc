#include "plugins/provisioning/cisco_spa/cisco_spa_vendor.h"

#include "plugins/provisioning/common/vendor_util.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr sdk::ModelInfo kModels[] = {
    {"SPA301", 1, 0},  {"SPA303", 3, 0},  {"SPA501G", 8, 8}, {"SPA502G", 1, 0},
    {"SPA504G", 4, 4}, {"SPA508G", 8, 8}, {"SPA509G", 12, 12}, {"SPA525G", 5, 5},
    {"SPA525G2", 5, 5}, {"SPA941", 4, 4}, {"SPA942", 4, 4},   {"SPA962", 6, 6},
};

std::string language(std::string_view locale) {
  auto l = locale.substr(0, 2);
  if (l == "fr") return "French";
  if (l == "de") return "German";
  if (l == "es") return "Spanish";
  return "English";
}

// Cisco SPA's <Time_Zone>: "GMT+01:00".
std::string tz(std::string_view iana) {
  return "GMT" + utc_offset_hhmm(utc_offset_minutes(iana).value_or(0));
}

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
<Extended_Function_{{position}}_>{{spa_function}}</Extended_Function_{{position}}_>
{{/function_keys}}
<Primary_NTP_Server>{{ntp_server}}</Primary_NTP_Server>
<Time_Zone>{{spa_tz}}</Time_Zone>
<Language_Selection>{{spa_language}}</Language_Selection>
<Admin_Passwd>{{admin_password}}</Admin_Passwd>
<User_Password>{{user_password}}</User_Password>
<XML_Directory_Service_Name>Dialtone</XML_Directory_Service_Name>
<XML_Directory_Service_URL>{{directory_url}}</XML_Directory_Service_URL>
{{> cisco-spa-custom-device}}
</flat-profile>
)";

}  // namespace

std::vector<sdk::ModelInfo> CiscoSpaVendor::models() const {
  return {std::begin(kModels), std::end(kModels)};
}

std::optional<sdk::DeviceInfo> CiscoSpaVendor::detect(const sdk::DeviceRequest& r) const {
  // "Cisco/SPA504G-7.5.5 (0022555EAB12)(CCQ162306EA)", "Linksys/SPA942-6.1.5(a) (88019FA42805)"
  for (auto* prefix : {"Cisco/SPA", "Linksys/SPA"}) {
    if (!istarts_with(r.user_agent, prefix)) continue;
    std::string_view ua = r.user_agent;
    auto slash = ua.find('/');
    auto dash = ua.find('-', slash);
    sdk::DeviceInfo d{"Cisco", "", "", ""};
    d.model = canonical_model(models(), ua.substr(slash + 1, dash == std::string_view::npos
                                                                 ? std::string_view::npos
                                                                 : dash - slash - 1));
    if (dash != std::string_view::npos) {
      auto v = ua.substr(dash + 1);
      d.version = std::string(v.substr(0, v.find(' ')));
    }
    d.mac = sdk::mac_in(ua.substr(dash == std::string_view::npos ? 0 : dash));
    if (d.mac.empty()) d.mac = sdk::mac_in(r.path);
    return d;
  }
  auto file = basename(r.path);
  if (istarts_with(file, "spa") && file.size() == 19 && file.substr(15) == ".xml") {
    auto mac = sdk::normalize_mac(file.substr(3, 12));
    if (!mac.empty()) return sdk::DeviceInfo{"Cisco", "", "", mac};
  }
  return std::nullopt;
}

std::vector<sdk::TemplateFile> CiscoSpaVendor::templates() const {
  return {{"spa.xml", kDevice}, {"cisco-spa-custom-device", ""}};
}

sdk::Result<std::vector<sdk::ProvisioningFile>> CiscoSpaVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& r) const {
  if (c.device.mac.empty()) return std::vector<sdk::ProvisioningFile>{};
  auto ctx = sdk::standard_context(c);
  ctx.set("spa_tz", tz(c.timezone)).set("spa_language", language(c.locale));
  ctx.set("directory_url", c.directory_url("cisco"));
  std::string domain = c.lines.empty() ? std::string() : c.lines.front().proxy_ip;
  if (auto* keys = ctx.find("function_keys")) {
    auto list = sdk::TemplateData::list();
    for (std::size_t i = 0; i < keys->items().size(); ++i) {
      auto& k = c.function_keys[i];
      auto x = keys->items()[i];
      std::string f = k.type == sdk::FunctionKeyType::blf
                          ? "fnc=blf+sd+cp;sub=" + k.value + "@" + domain + ";nme=" + k.label
                          : "fnc=sd;ext=" + k.value + "@" + domain + ";nme=" + k.label;
      x.set("spa_function", f);
      list.push(std::move(x));
    }
    ctx.set("function_keys", std::move(list));
  }
  auto body = r.render("spa.xml", ctx, sdk::Escape::xml);
  if (!body) return body.error();
  return std::vector<sdk::ProvisioningFile>{
      {"spa" + sdk::mac_plain(c.device.mac) + ".xml", std::move(*body), true, "application/xml"}};
}

}  // namespace dialtone::plugins::provisioning
