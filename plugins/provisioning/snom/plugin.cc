#include "plugins/provisioning/snom/snom_description.h"

namespace {
using SnomPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::snom_description>;
}

DIALTONE_PLUGIN(SnomPlugin, "provisioning.snom", "provisioning", "1.0.0",
                "provisions Snom SIP phones (snom<model>.htm, snom<model>-<MAC>.htm)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
