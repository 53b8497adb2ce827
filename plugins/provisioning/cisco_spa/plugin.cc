#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/cisco_spa/cisco_spa_vendor.h"

namespace {
using ThisPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::CiscoSpaVendor>;
}

DIALTONE_PLUGIN(ThisPlugin, "provisioning.cisco_spa", "provisioning", "1.0.0",
                "provisions Cisco/Linksys SPA phones (spa<MAC>.xml flat profile)", "", "",
                dialtone::plugins::provisioning::kNoOptions)
