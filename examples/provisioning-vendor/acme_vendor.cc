#include "acme_vendor.h"

#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

namespace sdk = dialtone::sdk;

std::vector<sdk::ModelInfo> AcmeVendor::models() const { return {{"A100", 2, 6}}; }

std::optional<sdk::DeviceInfo> AcmeVendor::detect(const sdk::DeviceRequest& r) const {
  if (r.user_agent.rfind("Acme A100 ", 0) != 0) return std::nullopt;
  auto rest = r.user_agent.substr(10);
  auto space = rest.find(' ');
  sdk::DeviceInfo d{"Acme", "A100", rest.substr(0, space), ""};
  if (space != std::string::npos) d.mac = sdk::normalize_mac(rest.substr(space + 1));
  if (d.mac.empty()) d.mac = sdk::mac_in(r.path);
  return d;
}

std::vector<sdk::TemplateFile> AcmeVendor::templates() const {
  // {{x}} is escaped for the format (Escape::text: no line breaks in values).
  return {{"device.cfg",
           "{{#lines}}line{{position}}.server={{proxy_ip}}:{{proxy_port}}\n"
           "line{{position}}.user={{username}}\nline{{position}}.password={{password}}\n{{/lines}}"
           "{{> acme-custom}}"},
          {"acme-custom", ""}};
}

sdk::Result<std::vector<sdk::ProvisioningFile>> AcmeVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& renderer) const {
  if (c.device.mac.empty()) return std::vector<sdk::ProvisioningFile>{};
  auto body = renderer.render("device.cfg", sdk::standard_context(c));
  if (!body) return body.error();
  return std::vector<sdk::ProvisioningFile>{
      {"acme-" + sdk::mac_plain(c.device.mac) + ".cfg", std::move(*body), /*sensitive=*/true}};
}

namespace {

class AcmePlugin final : public sdk::Plugin {
 public:
  explicit AcmePlugin(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options&) override { return {}; }
  sdk::Status start() override {
    return host_.services().provide<sdk::ProvisioningVendor>("acme", std::make_shared<AcmeVendor>());
  }
  void stop() override { host_.services().withdraw<sdk::ProvisioningVendor>("acme"); }

 private:
  sdk::Host& host_;
};

constexpr sdk::OptionSpec kOptions[] = {{}};

}  // namespace

DIALTONE_PLUGIN(AcmePlugin, "provisioning.acme", "provisioning", "1.0.0",
                "provisions Acme A100 phones (example)", "", "provisioning.provd", kOptions)
