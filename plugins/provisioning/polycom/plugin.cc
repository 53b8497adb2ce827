#include "plugins/provisioning/polycom/polycom_description.h"

namespace {
using PolycomPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::polycom_description>;
}

DIALTONE_PLUGIN(PolycomPlugin, "provisioning.polycom", "provisioning", "1.0.0",
                "provisions Polycom VVX and SoundPoint IP phones (000000000000.cfg, <mac>-phone.cfg)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
