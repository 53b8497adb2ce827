#include "plugins/provisioning/cisco_spa/cisco_spa_description.h"

namespace {
using CiscoSpaPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::cisco_spa_description>;
}

DIALTONE_PLUGIN(CiscoSpaPlugin, "provisioning.cisco_spa", "provisioning", "1.0.0",
                "provisions Cisco/Linksys SPA phones and ATAs (spa<mac>.xml flat profile)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
