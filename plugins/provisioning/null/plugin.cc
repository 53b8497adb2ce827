#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/null/null_vendor.h"

namespace {
using ThisPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::NullVendor>;
}

DIALTONE_PLUGIN(ThisPlugin, "provisioning.null", "provisioning", "1.0.0",
                "refuses to provision the devices assigned to it (404)", "", "",
                dialtone::plugins::provisioning::kNoOptions)
