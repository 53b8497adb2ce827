// The zero plugin: devices assigned to it get only the static files under
// provd's static folder (firmware, language packs), no configuration.
#include "plugins/provisioning/zero/zero_description.h"

namespace dialtone::plugins::provisioning {

const VendorDescription& zero_description() {
  static const VendorDescription d{
      .id = "provisioning.zero", .vendor = "zero", .version = "1.0.0", .sync_event = std::nullopt};
  return d;
}

}  // namespace dialtone::plugins::provisioning
