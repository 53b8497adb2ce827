#include "plugins/provisioning/grandstream/grandstream_vendor.h"

#include "plugins/provisioning/common/vendor_util.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr sdk::ModelInfo kModels[] = {
    {"GXP1610", 1, 0},  {"GXP1620", 2, 0},  {"GXP1625", 2, 0},  {"GXP1628", 2, 0},
    {"GXP1630", 3, 8},  {"GXP2130", 3, 8},  {"GXP2135", 8, 32}, {"GXP2140", 4, 5},
    {"GXP2160", 6, 24}, {"GXP2170", 6, 48}, {"GRP2612", 2, 16}, {"GRP2614", 4, 24},
    {"GRP2615", 5, 40}, {"GRP2616", 6, 40},
};

// P-values of the first accounts (Grandstream's numbering is not regular).
struct AccountKeys {
  const char *active, *server, *user, *auth, *password, *name, *display;
};
constexpr AccountKeys kAccounts[] = {
    {"P271", "P47", "P35", "P36", "P34", "P270", "P3"},
    {"P401", "P402", "P404", "P405", "P406", "P417", "P407"},
    {"P501", "P502", "P504", "P505", "P506", "P517", "P507"},
    {"P601", "P602", "P604", "P605", "P606", "P617", "P607"},
    {"P1701", "P1702", "P1704", "P1705", "P1706", "P1717", "P1707"},
    {"P1801", "P1802", "P1804", "P1805", "P1806", "P1817", "P1807"},
};

std::string language(std::string_view locale) {
  auto l = locale.substr(0, 2);
  if (l == "fr") return "fr";
  if (l == "de") return "de";
  if (l == "es") return "es";
  if (l == "it") return "it";
  return "en";
}

constexpr const char* kDevice = R"(<?xml version="1.0" encoding="UTF-8"?>
<gs_provision version="1">
<mac>{{mac_plain}}</mac>
<config version="1">
{{#gs_lines}}
<{{active}}>1</{{active}}>
<{{server}}>{{proxy_ip}}:{{proxy_port}}</{{server}}>
<{{user}}>{{username}}</{{user}}>
<{{auth}}>{{auth_username}}</{{auth}}>
<{{password}}>{{password_value}}</{{password}}>
<{{name}}>{{number}}</{{name}}>
<{{display}}>{{display_name}}</{{display}}>
{{/gs_lines}}
{{#gs_keys}}
<P{{mode_p}}>{{mode}}</P{{mode_p}}>
<P{{account_p}}>{{account}}</P{{account_p}}>
<P{{label_p}}>{{label}}</P{{label_p}}>
<P{{value_p}}>{{value}}</P{{value_p}}>
{{/gs_keys}}
<P30>{{ntp_server}}</P30>
<P64>{{gs_tz}}</P64>
<P1362>{{gs_language}}</P1362>
<P2>{{admin_password}}</P2>
<P196>{{user_password}}</P196>
<P212>1</P212>
<P237>{{provisioning_host_port}}</P237>
<P330>1</P330>
<P331>{{directory_url}}</P331>
{{> grandstream-custom-device}}
</config>
</gs_provision>
)";

}  // namespace

std::vector<sdk::ModelInfo> GrandstreamVendor::models() const {
  return {std::begin(kModels), std::end(kModels)};
}

std::optional<sdk::DeviceInfo> GrandstreamVendor::detect(const sdk::DeviceRequest& r) const {
  // "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82aabbcc"
  if (istarts_with(r.user_agent, "Grandstream")) {
    sdk::DeviceInfo d{"Grandstream", "", "", ""};
    d.model = canonical_model(models(), token_after(r.user_agent, "HW "));
    d.version = token_after(r.user_agent, "SW ");
    d.mac = sdk::normalize_mac(token_after(r.user_agent, "DevId "));
    if (d.mac.empty()) d.mac = sdk::mac_in(r.path);
    return d;
  }
  auto file = basename(r.path);
  if (istarts_with(file, "cfg") && file.size() >= 15) {
    auto mac = sdk::normalize_mac(file.substr(3, 12));
    if (!mac.empty() && (file.size() == 15 || file.substr(15) == ".xml"))
      return sdk::DeviceInfo{"Grandstream", "", "", mac};
  }
  if (istarts_with(r.dhcp_vendor_class, "Grandstream")) return sdk::DeviceInfo{"Grandstream", "", "", ""};
  return std::nullopt;
}

std::vector<sdk::TemplateFile> GrandstreamVendor::templates() const {
  return {{"cfg.xml", kDevice}, {"grandstream-custom-device", ""}};
}

sdk::Result<std::vector<sdk::ProvisioningFile>> GrandstreamVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& r) const {
  if (c.device.mac.empty()) return std::vector<sdk::ProvisioningFile>{};
  auto ctx = sdk::standard_context(c);
  auto lines = sdk::TemplateData::list();
  for (auto& l : c.lines) {
    if (l.position < 1 || l.position > static_cast<int>(std::size(kAccounts))) continue;
    auto& k = kAccounts[l.position - 1];
    sdk::TemplateData x;
    x.set("active", k.active).set("server", k.server).set("user", k.user).set("auth", k.auth);
    x.set("password", k.password).set("name", k.name).set("display", k.display);
    x.set("proxy_ip", l.proxy_ip).set("proxy_port", l.proxy_port).set("username", l.username);
    x.set("auth_username", l.auth_username.empty() ? l.username : l.auth_username);
    x.set("password_value", l.password).set("display_name", l.display_name);
    x.set("number", l.number.empty() ? l.username : l.number);
    lines.push(std::move(x));
  }
  ctx.set("gs_lines", std::move(lines));
  // Multi-purpose keys: P323/P324/P325/P326... mode, account, label, value, 4 per key.
  auto keys = sdk::TemplateData::list();
  for (auto& k : c.function_keys) {
    int base = 323 + (k.position - 1) * 4;
    sdk::TemplateData x;
    int mode = k.type == sdk::FunctionKeyType::blf ? 1 : k.type == sdk::FunctionKeyType::park ? 9 : 0;
    x.set("mode_p", base).set("account_p", base + 1).set("label_p", base + 2).set("value_p", base + 3);
    x.set("mode", mode).set("account", k.line - 1).set("label", k.label).set("value", k.value);
    keys.push(std::move(x));
  }
  ctx.set("gs_keys", std::move(keys));
  auto off = utc_offset_minutes(c.timezone).value_or(0);
  ctx.set("gs_tz", "GMT" + utc_offset_hhmm(off));
  ctx.set("gs_language", language(c.locale));
  auto url = c.provisioning_url;
  ctx.set("provisioning_host_port", url.substr(url.find("//") == std::string::npos ? 0 : url.find("//") + 2));
  ctx.set("directory_url", c.directory_url("grandstream"));
  auto body = r.render("cfg.xml", ctx, sdk::Escape::xml);
  if (!body) return body.error();
  return std::vector<sdk::ProvisioningFile>{
      {"cfg" + sdk::mac_plain(c.device.mac) + ".xml", std::move(*body), true, "application/xml"}};
}

}  // namespace dialtone::plugins::provisioning
