// Polycom VVX / SoundPoint IP: master 000000000000.cfg (or <mac>.cfg) naming <mac>-phone.cfg (XML attributes reg.1.address...) and <mac>-directory.xml (speed dials).
#pragma once

#include <dialtone/provisioning.h>

namespace dialtone::plugins::provisioning {

class PolycomVendor final : public sdk::ProvisioningVendor {
 public:
  std::string_view id() const override { return "provisioning.polycom"; }
  std::string_view vendor() const override { return "Polycom"; }
  std::string_view version() const override { return "1.0.0"; }
  std::vector<sdk::ModelInfo> models() const override;
  std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest& request) const override;
  std::vector<sdk::TemplateFile> templates() const override;
  sdk::Result<std::vector<sdk::ProvisioningFile>> files(
      const sdk::DeviceConfig& config, const sdk::TemplateRenderer& renderer) const override;
  std::optional<std::string> sync_event(const sdk::DeviceInfo&) const override {
    return std::string("check-sync");
  }
};

}  // namespace dialtone::plugins::provisioning
