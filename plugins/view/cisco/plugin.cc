#include "plugins/view/cisco/cisco_view.h"

namespace {
using CiscoViewPlugin =
    dialtone::plugins::view::DescribedViewPlugin<&dialtone::plugins::view::cisco_view>;
}

DIALTONE_PLUGIN(CiscoViewPlugin, "view.cisco", "view", "0.1.0",
                "renders directory search pages for Cisco IP phones (CiscoIPPhoneDirectory)",
                "", "", dialtone::plugins::view::kNoViewOptions)
