#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/aastra/aastra_vendor.h"

namespace {
using ThisPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::AastraVendor>;
}

DIALTONE_PLUGIN(ThisPlugin, "provisioning.aastra", "provisioning", "1.0.0",
                "provisions Aastra/Mitel 67xx SIP phones (aastra.cfg, <MAC>.cfg)", "", "",
                dialtone::plugins::provisioning::kNoOptions)
