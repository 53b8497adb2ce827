#include "acme_vendor.h"

namespace prov = dialtone::plugins::provisioning;

namespace {

// {{x}} is escaped for the format (Escape::text: no line breaks in values);
// acme-custom is an empty partial the admin can override to add settings.
constexpr const char* kDevice = R"(# Acme {{model}} {{mac}}
{{#lines}}
line{{position}}.server={{proxy_ip}}:{{proxy_port}}
line{{position}}.user={{username}}
line{{position}}.password={{password}}
line{{position}}.name={{display_name}}
{{/lines}}
{{#function_keys}}
key{{position}}={{key_type}}:{{value}}:{{label}}
{{/function_keys}}
timezone={{tz_hours}}
language={{vendor_language}}
directory={{directory_lookup_url}}?term=#SEARCH
{{> acme-custom}}
)";

}  // namespace

const prov::VendorDescription& acme_description() {
  static const prov::VendorDescription d{
      .id = "provisioning.acme",
      .vendor = "Acme",
      .version = "1.0.0",
      .models = {{.name = "A100", .lines = 2, .function_keys = 6},
                 {.name = "A200", .lines = 4, .function_keys = 12}},
      .mac_prefixes = {"00:11:22"},
      .user_agents = {{.regex = R"(^Acme (A\d+) (\S+)(?: (\S+))?)", .model = 1, .version = 2, .mac = 3}},
      .paths = {{.regex = R"(acme-([0-9a-f]{12})\.cfg)", .mac = 1}},
      .files = {{.path = "acme-{{mac_plain}}.cfg", .template_name = "device.cfg", .sensitive = true}},
      .templates = {{"device.cfg", kDevice}, {"acme-custom", ""}},
      .key_types = {.speed_dial = "speed", .blf = "blf", .park = "park", .forward = "speed"},
      .languages = {{"fr", "fr-FR"}, {"de", "de-DE"}},
      .default_language = "en-US",
      .view = "acme",
  };
  return d;
}

using AcmePlugin = prov::DescribedVendorPlugin<&acme_description>;

DIALTONE_PLUGIN(AcmePlugin, "provisioning.acme", "provisioning", "1.0.0",
                "provisions Acme A100/A200 phones (example)", "", "provisioning.provd",
                prov::kNoVendorOptions)
