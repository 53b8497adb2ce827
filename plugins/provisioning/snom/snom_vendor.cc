#include "plugins/provisioning/snom/snom_vendor.h"

#include "plugins/provisioning/common/vendor_util.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr sdk::ModelInfo kModels[] = {
    {"300", 4, 6},    {"320", 12, 12},  {"360", 12, 12},  {"370", 12, 12}, {"710", 4, 5},
    {"715", 4, 5},    {"720", 12, 18},  {"760", 12, 16},  {"D315", 4, 5},  {"D345", 12, 48},
    {"D375", 12, 6},  {"D385", 12, 48}, {"D717", 6, 3},   {"D735", 12, 8}, {"D745", 12, 8},
    {"D765", 12, 16}, {"D785", 12, 24}, {"D865", 12, 40},
};

std::string language(std::string_view locale) {
  auto l = locale.substr(0, 2);
  if (l == "fr") return "Francais";
  if (l == "de") return "Deutsch";
  if (l == "es") return "Espanol";
  if (l == "it") return "Italiano";
  if (l == "nl") return "Nederlands";
  return "English";
}

// Snom's <timezone> codes for the zones most used; GMT offsets otherwise.
std::string tz(std::string_view iana) {
  static const std::pair<const char*, const char*> kCodes[] = {
      {"Europe/Paris", "FRA+1"},         {"Europe/Berlin", "GER+1"},
      {"Europe/London", "GBR-0"},        {"Europe/Madrid", "ESP+1"},
      {"Europe/Rome", "ITA+1"},          {"Europe/Brussels", "BEL+1"},
      {"Europe/Zurich", "CHE+1"},        {"America/New_York", "USA-5"},
      {"America/Montreal", "CAN-5"},     {"America/Toronto", "CAN-5"},
      {"America/Chicago", "USA-6"},      {"America/Denver", "USA-7"},
      {"America/Los_Angeles", "USA-8"},  {"UTC", "GMT"}};
  for (auto& [name, code] : kCodes)
    if (iana == name) return code;
  return "GMT";
}

std::string key_body(const sdk::FunctionKey& k, const std::string& domain) {
  switch (k.type) {
    case sdk::FunctionKeyType::blf: return "blf <sip:" + k.value + "@" + domain + ">";
    case sdk::FunctionKeyType::park:
    case sdk::FunctionKeyType::forward:
    case sdk::FunctionKeyType::speed_dial: return "speed " + k.value;
  }
  return "speed " + k.value;
}

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
<timezone perm="R">{{snom_tz}}</timezone>
<language perm="R">{{snom_language}}</language>
<web_language perm="R">{{snom_language}}</web_language>
<admin_mode_password perm="R">{{admin_password}}</admin_mode_password>
<http_user perm="R">{{admin_username}}</http_user>
<http_pass perm="R">{{admin_password}}</http_pass>
<dkey_directory perm="R">url {{directory_url}}</dkey_directory>
{{> snom-custom-device}}
</phone-settings>
<functionKeys e="2">
{{#function_keys}}
<fkey idx="{{index0}}" context="{{line}}" label="{{label}}" perm="R">{{snom_key}}</fkey>
{{/function_keys}}
</functionKeys>
</settings>
)";

}  // namespace

std::vector<sdk::ModelInfo> SnomVendor::models() const {
  return {std::begin(kModels), std::end(kModels)};
}

std::optional<sdk::DeviceInfo> SnomVendor::detect(const sdk::DeviceRequest& r) const {
  // "Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25)", "snomD785-SIP 10.1.33.33 ..."
  auto i = ifind(r.user_agent, "snom");
  if (i != std::string_view::npos) {
    sdk::DeviceInfo d{"Snom", "", "", ""};
    std::string_view rest = std::string_view(r.user_agent).substr(i + 4);
    auto dash = rest.find("-SIP");
    if (dash != std::string_view::npos) {
      d.model = canonical_model(models(), rest.substr(0, dash));
      auto v = rest.substr(dash + 4);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      auto end = v.find_first_of(" );");
      d.version = std::string(v.substr(0, end));
      d.mac = sdk::mac_in(v);
    }
    if (d.mac.empty()) d.mac = sdk::mac_in(r.path);
    return d;
  }
  // TFTP / no User-Agent: snom<model>.htm, snom<model>-<MAC>.htm
  auto file = basename(r.path);
  if (istarts_with(file, "snom")) {
    auto stem = file.substr(4, file.find('.') - 4);
    auto dash = stem.find('-');
    sdk::DeviceInfo d{"Snom", canonical_model(models(), stem.substr(0, dash)), "", ""};
    if (dash != std::string_view::npos) d.mac = sdk::normalize_mac(stem.substr(dash + 1));
    if (find_model(models(), d.model)) return d;
  }
  auto mac = sdk::mac_in(file);
  if (mac.rfind("00:04:13", 0) == 0) return sdk::DeviceInfo{"Snom", "", "", mac};
  return std::nullopt;
}

std::vector<sdk::TemplateFile> SnomVendor::templates() const {
  return {{"common.htm", kCommon}, {"device.htm", kDevice},
          {"snom-custom-common", ""}, {"snom-custom-device", ""}};
}

sdk::Result<std::vector<sdk::ProvisioningFile>> SnomVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& r) const {
  auto ctx = sdk::standard_context(c);
  ctx.set("snom_tz", tz(c.timezone)).set("snom_language", language(c.locale));
  ctx.set("directory_url", c.directory_url("snom"));
  std::string domain = c.lines.empty() ? std::string() : c.lines.front().proxy_ip;
  if (auto* keys = ctx.find("function_keys")) {
    auto list = sdk::TemplateData::list();
    for (std::size_t i = 0; i < keys->items().size(); ++i) {
      auto k = keys->items()[i];
      k.set("snom_key", key_body(c.function_keys[i], domain));
      list.push(std::move(k));
    }
    ctx.set("function_keys", std::move(list));
  }
  std::vector<sdk::ProvisioningFile> out;
  auto model = c.device.model;
  if (!model.empty()) {
    auto body = r.render("common.htm", ctx, sdk::Escape::xml);
    if (!body) return body.error();
    out.push_back({"snom" + model + ".htm", std::move(*body), false, "application/xml"});
  }
  if (!c.device.mac.empty()) {
    auto body = r.render("device.htm", ctx, sdk::Escape::xml);
    if (!body) return body.error();
    auto mac = sdk::mac_plain(c.device.mac, true);
    if (!model.empty()) out.push_back({"snom" + model + "-" + mac + ".htm", *body, true, "application/xml"});
    out.push_back({mac + ".xml", std::move(*body), true, "application/xml"});
  }
  return out;
}

}  // namespace dialtone::plugins::provisioning
