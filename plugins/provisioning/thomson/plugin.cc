#include "plugins/provisioning/thomson/thomson_description.h"

namespace {
using ThomsonPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::thomson_description>;
}

DIALTONE_PLUGIN(ThomsonPlugin, "provisioning.thomson", "provisioning", "1.0.0",
                "provisions Thomson/Technicolor ST2022, ST2030 and TB30 phones (<model>S.inf, <model>S_<MAC>.txt)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
