#include "plugins/provisioning/aastra/aastra_vendor.h"

#include "plugins/provisioning/common/vendor_util.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr sdk::ModelInfo kModels[] = {
    {"6730i", 6, 8},  {"6731i", 6, 8},   {"6735i", 9, 26}, {"6737i", 9, 30},
    {"6739i", 9, 55}, {"6753i", 9, 6},   {"6755i", 9, 26}, {"6757i", 9, 30},
    {"6863i", 2, 3},  {"6865i", 9, 8},   {"6867i", 9, 20}, {"6869i", 24, 68},
};

std::string language(std::string_view locale) {
  auto l = locale.substr(0, 2);
  if (l == "fr") return "1";
  if (l == "de") return "3";
  if (l == "es") return "2";
  if (l == "it") return "4";
  return "0";
}

// Aastra's "time zone name" codes for common zones.
std::string tz(std::string_view iana) {
  static const std::pair<const char*, const char*> kCodes[] = {
      {"Europe/Paris", "FR-Paris"},       {"Europe/London", "GB-London"},
      {"Europe/Berlin", "DE-Berlin"},     {"Europe/Madrid", "ES-Madrid"},
      {"Europe/Brussels", "BE-Brussels"}, {"America/New_York", "US-Eastern"},
      {"America/Chicago", "US-Central"},  {"America/Denver", "US-Mountain"},
      {"America/Los_Angeles", "US-Pacific"}, {"America/Montreal", "CA-Eastern"},
      {"America/Toronto", "CA-Eastern"}};
  for (auto& [name, code] : kCodes)
    if (iana == name) return code;
  return "GMT";
}

std::string key_type(sdk::FunctionKeyType t) {
  switch (t) {
    case sdk::FunctionKeyType::blf: return "blf";
    case sdk::FunctionKeyType::park: return "park";
    case sdk::FunctionKeyType::speed_dial:
    case sdk::FunctionKeyType::forward: return "speeddial";
  }
  return "speeddial";
}

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
{{aastra_key}}{{position}} type: {{aastra_type}}
{{aastra_key}}{{position}} value: {{value}}
{{aastra_key}}{{position}} label: {{label}}
{{aastra_key}}{{position}} line: {{line}}
{{/function_keys}}
time server disabled: {{ntp_disabled}}
time server1: {{ntp_server}}
time zone name: {{aastra_tz}}
language: {{aastra_language}}
admin password: {{admin_password}}
directory script: {{directory_url}}
{{> aastra-custom-device}}
)";

}  // namespace

std::vector<sdk::ModelInfo> AastraVendor::models() const {
  return {std::begin(kModels), std::end(kModels)};
}

std::optional<sdk::DeviceInfo> AastraVendor::detect(const sdk::DeviceRequest& r) const {
  // "Aastra6731i MAC:00-08-5D-23-74-29 V:3.3.1.2235-SIP"
  if (istarts_with(r.user_agent, "Aastra")) {
    sdk::DeviceInfo d{"Aastra", "", "", ""};
    auto model = r.user_agent.substr(6, r.user_agent.find(' ') - 6);
    d.model = canonical_model(models(), model);
    d.mac = sdk::normalize_mac(token_after(r.user_agent, "MAC:"));
    auto v = token_after(r.user_agent, "V:");
    d.version = v.substr(0, v.find("-SIP"));
    if (d.mac.empty()) d.mac = sdk::mac_in(r.path);
    return d;
  }
  auto file = basename(r.path);
  if (file == "aastra.cfg") return sdk::DeviceInfo{"Aastra", "", "", ""};
  auto mac = sdk::mac_in(file);
  if (mac.rfind("00:08:5d", 0) == 0) return sdk::DeviceInfo{"Aastra", "", "", mac};
  return std::nullopt;
}

std::vector<sdk::TemplateFile> AastraVendor::templates() const {
  return {{"aastra.cfg", kCommon}, {"device.cfg", kDevice},
          {"aastra-custom-common", ""}, {"aastra-custom-device", ""}};
}

sdk::Result<std::vector<sdk::ProvisioningFile>> AastraVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& r) const {
  auto ctx = sdk::standard_context(c);
  auto url = c.provisioning_url;  // http://host:port
  auto hp = url.substr(url.find("//") == std::string::npos ? 0 : url.find("//") + 2);
  auto colon = hp.rfind(':');
  ctx.set("provisioning_host", hp.substr(0, colon));
  ctx.set("provisioning_port", colon == std::string::npos ? std::string("80") : hp.substr(colon + 1));
  ctx.set("aastra_tz", tz(c.timezone)).set("aastra_language", language(c.locale));
  ctx.set("ntp_disabled", c.ntp_server.empty() ? "1" : "0");
  ctx.set("directory_url", c.directory_url("aastra"));
  if (auto* keys = ctx.find("function_keys")) {
    auto list = sdk::TemplateData::list();
    for (std::size_t i = 0; i < keys->items().size(); ++i) {
      auto k = keys->items()[i];
      k.set("aastra_key", "prgkey").set("aastra_type", key_type(c.function_keys[i].type));
      list.push(std::move(k));
    }
    ctx.set("function_keys", std::move(list));
  }
  std::vector<sdk::ProvisioningFile> out;
  auto common = r.render("aastra.cfg", ctx);
  if (!common) return common.error();
  out.push_back({"aastra.cfg", std::move(*common), false});
  if (!c.device.mac.empty()) {
    auto body = r.render("device.cfg", ctx);
    if (!body) return body.error();
    out.push_back({sdk::mac_plain(c.device.mac, true) + ".cfg", std::move(*body), true});
  }
  return out;
}

}  // namespace dialtone::plugins::provisioning
