// Grandstream GXP/GRP: one cfg<mac>.xml of P-values per device. P1347, the
// "BLF Call-pickup Prefix", is confd's pickup code: a BLF key pressed while
// its user rings dials it followed by the monitored number.
#include "plugins/provisioning/grandstream/grandstream_description.h"

#include <iterator>

namespace dialtone::plugins::provisioning {
namespace {

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
<P{{mode_p}}>{{key_type}}</P{{mode_p}}>
<P{{account_p}}>{{account}}</P{{account_p}}>
<P{{label_p}}>{{label}}</P{{label_p}}>
<P{{value_p}}>{{value}}</P{{value_p}}>
{{/gs_keys}}
{{#has_pickup_call}}
<P1347>{{exten_pickup_call}}</P1347>
{{/has_pickup_call}}
<P30>{{ntp_server}}</P30>
<P64>GMT{{tz_hhmm}}</P64>
<P1362>{{vendor_language}}</P1362>
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

// P-values of the first accounts: Grandstream's numbering is not regular.
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

// Accounts take their P-values from kAccounts; multi-purpose keys from
// P323 on, four values (mode, account, label, value) per key.
void p_values(sdk::TemplateData& ctx, const sdk::DeviceConfig& c) {
  auto lines = sdk::TemplateData::list();
  const sdk::TemplateData* std_lines = ctx.find("lines");
  for (std::size_t i = 0; std_lines && i < c.lines.size(); ++i) {
    int pos = c.lines[i].position;
    if (pos < 1 || pos > static_cast<int>(std::size(kAccounts))) continue;
    auto& k = kAccounts[pos - 1];
    auto x = std_lines->items()[i];
    x.set("active", k.active).set("server", k.server).set("user", k.user).set("auth", k.auth);
    x.set("password_value", c.lines[i].password).set("password", k.password);
    x.set("name", k.name).set("display", k.display);
    lines.push(std::move(x));
  }
  ctx.set("gs_lines", std::move(lines));
  auto keys = sdk::TemplateData::list();
  if (auto* std_keys = ctx.find("function_keys"))
    for (std::size_t i = 0; i < c.function_keys.size(); ++i) {
      auto& k = c.function_keys[i];
      int base = 323 + (k.position - 1) * 4;
      auto x = std_keys->items()[i];
      x.set("mode_p", base).set("account_p", base + 1).set("label_p", base + 2);
      x.set("value_p", base + 3).set("account", k.line - 1);
      keys.push(std::move(x));
    }
  ctx.set("gs_keys", std::move(keys));
}

}  // namespace

const VendorDescription& grandstream_description() {
  static const VendorDescription d{
      .id = "provisioning.grandstream",
      .vendor = "Grandstream",
      .version = "1.0.0",
      .models = {{"GXP1610", 1, 0},  {"GXP1620", 2, 0},  {"GXP1625", 2, 0},  {"GXP1628", 2, 0},
                 {"GXP1630", 3, 8},  {"GXP2130", 3, 8},  {"GXP2135", 8, 32}, {"GXP2140", 4, 5},
                 {"GXP2160", 6, 24}, {"GXP2170", 6, 48}, {"GRP2612", 2, 16}, {"GRP2614", 4, 24},
                 {"GRP2615", 5, 40}, {"GRP2616", 6, 40}},
      // "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82aabbcc"
      .user_agents = {{.regex = R"(^Grandstream(?:.*\bHW (\S+))?(?:.*\bSW (\S+))?(?:.*\bDevId (\S+))?)",
                       .model = 1,
                       .version = 2,
                       .mac = 3}},
      .paths = {{.regex = R"(cfg([0-9a-f]{12})(?:\.xml)?)", .mac = 1}},
      .dhcp_vendor_class = "Grandstream",
      .files = {{.path = "cfg{{mac_plain}}.xml",
                 .template_name = "cfg.xml",
                 .sensitive = true,
                 .escape = sdk::Escape::xml,
                 .content_type = "application/xml"}},
      .templates = {{"cfg.xml", kDevice}, {"grandstream-custom-device", ""}},
      .key_types = {.speed_dial = "0", .blf = "1", .park = "9", .forward = "0"},
      .languages = {{"fr", "fr"}, {"de", "de"}, {"es", "es"}, {"it", "it"}},
      .default_language = "en",
      .view = "grandstream",
      .extend = p_values,
  };
  return d;
}

}  // namespace dialtone::plugins::provisioning
