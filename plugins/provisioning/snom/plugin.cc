#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/snom/snom_vendor.h"

namespace {
using ThisPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::SnomVendor>;
}

DIALTONE_PLUGIN(ThisPlugin, "provisioning.snom", "provisioning", "1.0.0",
                "provisions Snom SIP phones (snom<model>.htm, snom<model>-<MAC>.htm)", "", "",
                dialtone::plugins::provisioning::kNoOptions)
