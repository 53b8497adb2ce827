#include "plugins/provisioning/null/null_description.h"

namespace {
using NullPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::null_description>;
}

DIALTONE_PLUGIN(NullPlugin, "provisioning.null", "provisioning", "1.0.0",
                "refuses to provision the devices assigned to it (404)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
