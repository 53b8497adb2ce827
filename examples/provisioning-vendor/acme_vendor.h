// A minimal provisioning vendor: Acme A100 phones, detected from their
// User-Agent "Acme A100 <version> <mac>", one file acme-<mac>.cfg each.
#pragma once

#include <dialtone/provisioning.h>

class AcmeVendor final : public dialtone::sdk::ProvisioningVendor {
 public:
  std::string_view id() const override { return "provisioning.acme"; }
  std::string_view vendor() const override { return "Acme"; }
  std::string_view version() const override { return "1.0.0"; }
  std::vector<dialtone::sdk::ModelInfo> models() const override;
  std::optional<dialtone::sdk::DeviceInfo> detect(
      const dialtone::sdk::DeviceRequest& request) const override;
  std::vector<dialtone::sdk::TemplateFile> templates() const override;
  dialtone::sdk::Result<std::vector<dialtone::sdk::ProvisioningFile>> files(
      const dialtone::sdk::DeviceConfig& config,
      const dialtone::sdk::TemplateRenderer& renderer) const override;
};
