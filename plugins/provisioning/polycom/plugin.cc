#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/polycom/polycom_vendor.h"

namespace {
using ThisPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::PolycomVendor>;
}

DIALTONE_PLUGIN(ThisPlugin, "provisioning.polycom", "provisioning", "1.0.0",
                "provisions Polycom VVX and SoundPoint IP phones (000000000000.cfg, <mac>-phone.cfg)", "", "",
                dialtone::plugins::provisioning::kNoOptions)
