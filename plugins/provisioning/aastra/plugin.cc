#include "plugins/provisioning/aastra/aastra_description.h"

namespace {
using AastraPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::aastra_description>;
}

DIALTONE_PLUGIN(AastraPlugin, "provisioning.aastra", "provisioning", "1.0.0",
                "provisions Aastra/Mitel 67xx SIP phones (aastra.cfg, <MAC>.cfg)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
