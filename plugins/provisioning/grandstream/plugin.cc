#include "plugins/provisioning/grandstream/grandstream_description.h"

namespace {
using GrandstreamPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::grandstream_description>;
}

DIALTONE_PLUGIN(GrandstreamPlugin, "provisioning.grandstream", "provisioning", "1.0.0",
                "provisions Grandstream GXP/GRP phones (cfg<mac>.xml P-values)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
