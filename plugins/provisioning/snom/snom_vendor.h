// Snom 3xx/7xx/Dxxx: XML <settings><phone-settings> files, snom<model>.htm (common) and snom<model>-<MAC>.htm (device).
#pragma once

#include <dialtone/provisioning.h>

namespace dialtone::plugins::provisioning {

class SnomVendor final : public sdk::ProvisioningVendor {
 public:
  std::string_view id() const override { return "provisioning.snom"; }
  std::string_view vendor() const override { return "Snom"; }
  std::string_view version() const override { return "1.0.0"; }
  std::vector<sdk::ModelInfo> models() const override;
  std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest& request) const override;
  std::vector<sdk::TemplateFile> templates() const override;
  sdk::Result<std::vector<sdk::ProvisioningFile>> files(
      const sdk::DeviceConfig& config, const sdk::TemplateRenderer& renderer) const override;
  std::optional<std::string> sync_event(const sdk::DeviceInfo&) const override {
    return std::string("check-sync;reboot=false");
  }
};

}  // namespace dialtone::plugins::provisioning
