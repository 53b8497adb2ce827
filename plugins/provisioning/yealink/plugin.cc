#include "plugins/provisioning/yealink/yealink_description.h"

namespace {
using YealinkPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::yealink_description>;
}

DIALTONE_PLUGIN(YealinkPlugin, "provisioning.yealink", "provisioning", "1.0.0",
                "provisions Yealink T-series SIP phones (y0000000000XX.cfg, <mac>.cfg)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
