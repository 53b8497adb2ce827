#include "plugins/view/aastra/aastra_view.h"
#include "plugins/view/common/view_plugin.h"

namespace {
using AastraViewPlugin = dialtone::plugins::view::ViewPlugin<dialtone::plugins::view::AastraView>;
}

DIALTONE_PLUGIN(AastraViewPlugin, "view.aastra", "view", "0.1.0",
                "renders directory search pages for Aastra/Mitel IP phones (AastraIPPhoneTextMenu)",
                "", "", dialtone::plugins::view::kNoOptions)
