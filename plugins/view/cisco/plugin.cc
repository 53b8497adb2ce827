#include "plugins/view/cisco/cisco_view.h"
#include "plugins/view/common/view_plugin.h"

namespace {
using CiscoViewPlugin = dialtone::plugins::view::ViewPlugin<dialtone::plugins::view::CiscoView>;
}

DIALTONE_PLUGIN(CiscoViewPlugin, "view.cisco", "view", "0.1.0",
                "renders directory search pages for Cisco IP phones (CiscoIPPhoneDirectory)",
                "", "", dialtone::plugins::view::kNoOptions)
