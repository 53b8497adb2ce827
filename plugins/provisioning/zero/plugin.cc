#include "plugins/provisioning/zero/zero_description.h"

namespace {
using ZeroPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::zero_description>;
}

DIALTONE_PLUGIN(ZeroPlugin, "provisioning.zero", "provisioning", "1.0.0",
                "serves static files to its devices without configuring lines", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
