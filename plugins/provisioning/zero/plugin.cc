#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/zero/zero_vendor.h"

namespace {
using ThisPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::ZeroVendor>;
}

DIALTONE_PLUGIN(ThisPlugin, "provisioning.zero", "provisioning", "1.0.0",
                "serves static files to its devices without configuring lines", "", "",
                dialtone::plugins::provisioning::kNoOptions)
