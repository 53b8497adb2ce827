// The zero plugin: devices assigned to it get only the static files under provd's static folder (firmware, language packs), no configuration.
#pragma once

#include <dialtone/provisioning.h>

namespace dialtone::plugins::provisioning {

class ZeroVendor final : public sdk::ProvisioningVendor {
 public:
  std::string_view id() const override { return "provisioning.zero"; }
  std::string_view vendor() const override { return "zero"; }
  std::string_view version() const override { return "1.0.0"; }
  std::vector<sdk::ModelInfo> models() const override { return {}; }
  // Never claims a device: the admin assigns devices to it.
  std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest&) const override {
    return std::nullopt;
  }
  std::vector<sdk::TemplateFile> templates() const override { return {}; }
  sdk::Result<std::vector<sdk::ProvisioningFile>> files(const sdk::DeviceConfig&,
                                                        const sdk::TemplateRenderer&) const override {
    return std::vector<sdk::ProvisioningFile>{};
  }
  std::optional<std::string> sync_event(const sdk::DeviceInfo&) const override { return std::nullopt; }
  sdk::ServePolicy policy() const override {
    return sdk::ServePolicy::configure;
  }
};

}  // namespace dialtone::plugins::provisioning
