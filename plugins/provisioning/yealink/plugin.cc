#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/yealink/yealink_vendor.h"

namespace {
using YealinkPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::YealinkVendor>;
}

DIALTONE_PLUGIN(YealinkPlugin, "provisioning.yealink", "provisioning", "1.0.0",
                "provisions Yealink T-series SIP phones (y0000000000XX.cfg, <mac>.cfg)", "", "",
                dialtone::plugins::provisioning::kNoOptions)
