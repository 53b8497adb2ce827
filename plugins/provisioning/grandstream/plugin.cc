#include "plugins/provisioning/common/vendor_util.h"
#include "plugins/provisioning/grandstream/grandstream_vendor.h"

namespace {
using ThisPlugin = dialtone::plugins::provisioning::VendorPlugin<
    dialtone::plugins::provisioning::GrandstreamVendor>;
}

DIALTONE_PLUGIN(ThisPlugin, "provisioning.grandstream", "provisioning", "1.0.0",
                "provisions Grandstream GXP/GRP phones (cfg<mac>.xml P-values)", "", "",
                dialtone::plugins::provisioning::kNoOptions)
