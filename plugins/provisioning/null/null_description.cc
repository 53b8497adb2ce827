// The null plugin: devices assigned to it get nothing (404), e.g. phones the
// admin wants left alone. It never claims a device: the admin assigns them.
#include "plugins/provisioning/null/null_description.h"

namespace dialtone::plugins::provisioning {

const VendorDescription& null_description() {
  static const VendorDescription d{.id = "provisioning.null",
                                   .vendor = "null",
                                   .version = "1.0.0",
                                   .sync_event = std::nullopt,
                                   .policy = sdk::ServePolicy::refuse};
  return d;
}

}  // namespace dialtone::plugins::provisioning
