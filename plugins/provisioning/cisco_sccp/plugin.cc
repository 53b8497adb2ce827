#include "plugins/provisioning/cisco_sccp/cisco_sccp_description.h"

namespace {
using CiscoSccpPlugin = dialtone::plugins::provisioning::DescribedVendorPlugin<
    &dialtone::plugins::provisioning::cisco_sccp_description>;
}

DIALTONE_PLUGIN(CiscoSccpPlugin, "provisioning.cisco_sccp", "provisioning", "1.0.0",
                "provisions Cisco SCCP phones 79xx/89xx (XMLDefault.cnf.xml, SEP<MAC>.cnf.xml)", "", "",
                dialtone::plugins::provisioning::kNoVendorOptions)
