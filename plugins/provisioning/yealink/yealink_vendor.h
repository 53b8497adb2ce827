// Yealink T-series: `#!version:1.0.0.1` key = value files, a common
// y0000000000XX.cfg per model and a <mac>.cfg per device.
#pragma once

#include <dialtone/provisioning.h>

namespace dialtone::plugins::provisioning {

class YealinkVendor final : public sdk::ProvisioningVendor {
 public:
  std::string_view id() const override { return "provisioning.yealink"; }
  std::string_view vendor() const override { return "Yealink"; }
  std::string_view version() const override { return "1.0.0"; }
  std::vector<sdk::ModelInfo> models() const override;
  std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest& request) const override;
  std::vector<sdk::TemplateFile> templates() const override;
  sdk::Result<std::vector<sdk::ProvisioningFile>> files(
      const sdk::DeviceConfig& config, const sdk::TemplateRenderer& renderer) const override;
  std::optional<std::string> sync_event(const sdk::DeviceInfo&) const override {
    return std::string("check-sync;reboot=false");
  }
  // "y000000000066.cfg" for a T46S; empty for an unknown model.
  static std::string common_file(std::string_view model);
};

}  // namespace dialtone::plugins::provisioning
