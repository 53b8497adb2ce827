#include "plugins/view/aastra/aastra_view.h"

namespace {
using AastraViewPlugin =
    dialtone::plugins::view::DescribedViewPlugin<&dialtone::plugins::view::aastra_view>;
}

DIALTONE_PLUGIN(AastraViewPlugin, "view.aastra", "view", "0.1.0",
                "renders directory search pages for Aastra/Mitel IP phones (AastraIPPhoneTextMenu)",
                "", "", dialtone::plugins::view::kNoViewOptions)
